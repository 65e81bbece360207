package main

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/fiberws/fiberws"
)

// CloseController mirrors "Connection Management: Closing Connections".
type CloseController struct{}

// Prefix puts the routes under /close.
func (CloseController) Prefix() string { return "/close" }

// Routes lists /close/send-only and /close/persistent.
func (c CloseController) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.SendOnly("/send-only", c.sendData),
		fiberws.WebSocket("/persistent", c.handleMessage),
	}
}

// sendData mirrors "Closing Connections: Send-Only Mode": a send-only
// connection closes with 1000 once the result is sent.
func (CloseController) sendData(context.Context, *fiberws.Conn[string]) (string, error) {
	return "Final message", nil
}

// handleMessage mirrors "Closing Connections: Two-Way and Receive-Only
// Modes" and "Close Codes": the client decides when to close.
//
//	close                  -> close 1000 "Normal closure"
//	close <code> <reason…> -> close with that code and reason; a code an
//	                          application may not send (see
//	                          fiberws.ValidCloseCode) gets the reply
//	                          "invalid close code" and the connection
//	                          stays open
//	anything else          -> "Message processed"
//
// Close is revali's CloseWebSocket. After it, whatever the handler returns
// is not sent (the connection is closing), so "" is as good as anything.
// Reasons longer than 123 bytes are cut at a UTF-8 boundary.
func (CloseController) handleMessage(_ context.Context, conn *fiberws.Conn[string], message string) (string, error) {
	parts := strings.SplitN(message, " ", 3)
	if parts[0] != "close" {
		return "Message processed", nil
	}
	code, reason := fiberws.CloseNormalClosure, "Normal closure"
	if len(parts) > 1 {
		n, err := strconv.Atoi(parts[1])
		if err != nil {
			return "invalid close code", nil
		}
		code, reason = n, ""
		if len(parts) > 2 {
			reason = parts[2]
		}
	}
	if err := conn.Close(code, reason); errors.Is(err, fiberws.ErrInvalidCloseCode) {
		return "invalid close code", nil
	}
	return "", nil
}
