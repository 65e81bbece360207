package main

import (
	"context"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hub"
)

// ChatController is revali's ChatController (@Controller('chat')): the
// first example of the chapter, and its chat application.
type ChatController struct {
	rooms *hub.Hub
}

// chatRoom is the hub room every /chat/room connection joins.
const chatRoom = "chat"

// Prefix puts the routes under /chat.
func (ChatController) Prefix() string { return "/chat" }

// Routes lists ws://host/chat/messages and ws://host/chat/room.
func (c ChatController) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/messages", c.handleMessage),
		// OnConnect: join the room as soon as the client connects, so it
		// receives the others' messages before it sends any.
		fiberws.WebSocket("/room", c.handleRoomMessage, fiberws.OnConnect()),
	}
}

// handleMessage mirrors "Creating a WebSocket Handler": the string body
// is the text frame, the string result the reply.
func (ChatController) handleMessage(_ context.Context, _ *fiberws.Conn[string], message string) (string, error) {
	return "Echo: " + message, nil
}

// handleRoomMessage mirrors "Real-World Examples: Chat Application". The
// reference leaves broadcastMessage to "your broadcasting strategy"; here
// it is the hub: Join on connect (the connection leaves by itself when it
// closes), and Broadcast, which encodes the message once and queues it
// for every member but the sender without waiting for any of them. A
// client that stops reading is dropped (1008) instead of slowing the room.
//
// The result type is *string so the on-connect run can send nothing: a nil
// pointer result is not sent. (The reference also keeps every message in
// an unbounded list; a real chat would store history elsewhere.)
func (c ChatController) handleRoomMessage(ctx context.Context, conn *fiberws.Conn[*string], message *string) (*string, error) {
	if message == nil { // the on-connect trigger
		_, err := c.rooms.Join(ctx, chatRoom, conn)
		return nil, err
	}
	if err := hub.Broadcast(ctx, c.rooms, chatRoom, *message, conn); err != nil {
		return nil, err
	}
	reply := "Message received"
	return &reply, nil
}
