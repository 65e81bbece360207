package main

import (
	"context"
	"errors"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/goccy/go-json"
)

// MessagesController mirrors "Handling Messages": text, JSON and slow
// (async) handlers.
type MessagesController struct {
	asyncDelay time.Duration
}

// Prefix puts the routes under /messages.
func (MessagesController) Prefix() string { return "/messages" }

// Routes lists /messages/basic, /messages/json and /messages/async.
func (c MessagesController) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/basic", c.handleChatMessage),
		fiberws.WebSocket("/json", c.handleJSON),
		fiberws.WebSocket("/async", c.handleAsyncMessage),
	}
}

// handleChatMessage mirrors "Basic Message Handling".
func (MessagesController) handleChatMessage(_ context.Context, _ *fiberws.Conn[string], message string) (string, error) {
	return "Server: " + message, nil
}

// ChatMessage is the reference's ChatMessage: {"user": "...", "text": "..."}.
// The body type of a handler decides decoding, so declaring it is all it
// takes to receive JSON.
type ChatMessage struct {
	User string `json:"user"`
	Text string `json:"text"`
}

// UnmarshalJSON is the reference's ChatMessage.fromJson: both fields must be
// strings, as `json['user'] as String` demands. Without it a payload like
// {} would decode to an empty message; with it, anything that is not that
// object fails to decode, and fiberws closes the connection with 1007
// "invalid message payload" (no catcher needed).
func (m *ChatMessage) UnmarshalJSON(data []byte) error {
	var raw struct {
		User *string `json:"user"`
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw.User == nil || raw.Text == nil {
		return errors.New(`a chat message needs the strings "user" and "text"`)
	}
	m.User, m.Text = *raw.User, *raw.Text
	return nil
}

// handleJSON mirrors "JSON Messages" and "Use Type-Safe Messages".
func (MessagesController) handleJSON(_ context.Context, _ *fiberws.Conn[string], message ChatMessage) (string, error) {
	return message.User + ": " + message.Text, nil
}

// handleAsyncMessage mirrors "Async Message Handling". Go has no futures:
// the handler just blocks. fiberws runs handlers off the reading
// goroutine, so the connection keeps answering pings and noticing that the
// client left meanwhile; ctx is cancelled then and the wait ends early.
func (c MessagesController) handleAsyncMessage(ctx context.Context, _ *fiberws.Conn[string], message string) (string, error) {
	timer := time.NewTimer(c.asyncDelay)
	defer timer.Stop()
	select {
	case <-timer.C:
		return "Processed: " + message, nil
	case <-ctx.Done():
		return "", ctx.Err() // the connection is closing: nothing is sent
	}
}
