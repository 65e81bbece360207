package main

import (
	"context"

	"github.com/fiberws/fiberws"
)

// ChatController is revali's ChatController (@Controller('chat')): the
// first example of the chapter, and later its chat application.
type ChatController struct{}

// Prefix puts the routes under /chat.
func (ChatController) Prefix() string { return "/chat" }

// Routes lists ws://host/chat/messages.
func (c ChatController) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/messages", c.handleMessage),
	}
}

// handleMessage mirrors "Creating a WebSocket Handler": the string body
// is the text frame, the string result the reply.
func (ChatController) handleMessage(_ context.Context, _ *fiberws.Conn[string], message string) (string, error) {
	return "Echo: " + message, nil
}
