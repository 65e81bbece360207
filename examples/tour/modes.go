package main

import (
	"context"
	"log/slog"

	"github.com/fiberws/fiberws"
)

// ModesController mirrors "WebSocket Modes": one route per mode. In Go the
// mode follows from the constructor, so a receive-only handler has no way
// to send and a send-only handler has no body: mistakes do not compile.
type ModesController struct {
	logger *slog.Logger
}

// Prefix puts the routes under /modes.
func (ModesController) Prefix() string { return "/modes" }

// Routes lists /modes/two-way, /modes/receive-only and /modes/send-only.
func (c ModesController) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/two-way", c.twoWay),
		fiberws.ReceiveOnly("/receive-only", c.receiveOnly),
		fiberws.SendOnly("/send-only", c.sendOnly),
	}
}

// twoWay mirrors "Two-Way Communication (Default)": fiberws.WebSocket is
// two-way, each message gets the handler's result back.
func (ModesController) twoWay(_ context.Context, _ *fiberws.Conn[string], message string) (string, error) {
	return "Echo: " + message, nil
}

// receiveOnly mirrors "Receive-Only": the handler gets a *fiberws.Session,
// which cannot send; the connection stays open until a side closes it.
func (c ModesController) receiveOnly(_ context.Context, _ *fiberws.Session, message string) error {
	c.logger.Info("Received", "message", message)
	return nil
}

// sendOnly mirrors "Send-Only": it runs once at connect, its result is
// sent and the connection closes with 1000.
func (ModesController) sendOnly(context.Context, *fiberws.Conn[string]) (string, error) {
	return "Server notification", nil
}
