package main

import (
	"context"
	"time"

	"github.com/fiberws/fiberws"
)

// AdvancedController mirrors "Advanced Features": keep-alive pings and the
// on-connect trigger. Its routes sit at the root (/heartbeat, /connection),
// like the reference's paths.
type AdvancedController struct {
	ping        time.Duration
	pingTimeout time.Duration // 0: one ping interval
}

// Prefix "" mounts the routes at the root.
func (AdvancedController) Prefix() string { return "" }

// Routes lists /heartbeat and /connection.
func (c AdvancedController) Routes() []fiberws.Route {
	return []fiberws.Route{
		// revali's @WebSocket.ping: the server pings every c.ping, and a
		// client that does not answer within the pong timeout (one
		// interval unless c.pingTimeout is set) is closed with 1001. One
		// scheduler pings all connections of the route.
		fiberws.Ping("/heartbeat", c.ping, c.handleHeartbeat, c.pingOption()...),
		fiberws.WebSocket("/connection", c.onConnect, fiberws.OnConnect()),
	}
}

// pingOption sets the pong timeout when c.pingTimeout overrides the
// default of one interval.
func (c AdvancedController) pingOption() []fiberws.Option {
	if c.pingTimeout <= 0 {
		return nil
	}
	return []fiberws.Option{fiberws.WithPing(c.ping, c.pingTimeout)}
}

// handleHeartbeat mirrors "Ping/Pong". The pings themselves are control
// frames the client's WebSocket library answers by itself; the handler
// only answers data messages.
func (AdvancedController) handleHeartbeat(context.Context, *fiberws.Conn[string], string) (string, error) {
	return "Pong: " + time.Now().Format(time.RFC3339), nil
}

// onConnect mirrors "On Connect Trigger": with fiberws.OnConnect the
// handler also runs right after the upgrade, with the zero body. A pointer
// body tells the two apart: nil is the trigger (revali's `message ==
// null`), an empty message is a pointer to "".
func (AdvancedController) onConnect(_ context.Context, _ *fiberws.Conn[string], message *string) (string, error) {
	if message == nil {
		return "Connected to WebSocket", nil
	}
	return "Message: " + *message, nil
}
