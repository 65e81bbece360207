package fiberws_test

import (
	"context"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
)

// revali's triggerOnConnect example: the body is nil on connect, then
// non-nil for every message, even an empty one.
func TestOnConnectNilBody(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/connection", func(_ context.Context, _ *fiberws.Conn[string], msg *string) (string, error) {
		if msg == nil {
			return "Connected to WebSocket", nil
		}
		return "Message: " + *msg, nil
	}, fiberws.OnConnect()))
	c := h.Dial(t, "/connection")
	// Sent right away: the on-connect run still comes first.
	c.SendText("hi")
	c.SendText("")
	if got := c.ReadText(); got != "Connected to WebSocket" {
		t.Fatalf("first message %q, want the on-connect reply", got)
	}
	if got := c.ReadText(); got != "Message: hi" {
		t.Fatalf("got %q", got)
	}
	if got := c.ReadText(); got != "Message: " {
		t.Fatalf("an empty message must be a non-nil empty body, got %q", got)
	}
}

func TestWithoutOnConnectNothingRunsAtConnect(t *testing.T) {
	calls := make(chan *string, 4)
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, _ *fiberws.Conn[string], msg *string) (string, error) {
		calls <- msg
		return "ok", nil
	}))
	c := h.Dial(t, "/c")
	c.SendText("first")
	c.ReadText()
	if msg := recv(t, calls, "the handler"); msg == nil || *msg != "first" {
		t.Fatalf("the first handler call got %v, want the first message", msg)
	}
}

func TestOnConnectZeroBodies(t *testing.T) {
	got := make(chan string, 4)
	h := serveRoutes(t,
		fiberws.WebSocket("/json", func(_ context.Context, _ *fiberws.Conn[string], m chatMsg) (string, error) {
			if m == (chatMsg{}) {
				return "zero", nil
			}
			return m.User, nil
		}, fiberws.OnConnect()),
		fiberws.WebSocket("/ptr", func(_ context.Context, _ *fiberws.Conn[string], m *chatMsg) (string, error) {
			if m == nil {
				return "nil", nil
			}
			return m.User, nil
		}, fiberws.OnConnect()),
		fiberws.ReceiveOnly("/recv", func(_ context.Context, _ *fiberws.Session, m *[]byte) error {
			if m == nil {
				got <- "connect"
			} else {
				got <- string(*m)
			}
			return nil
		}, fiberws.OnConnect()),
	)
	j := h.Dial(t, "/json")
	if r := j.ReadText(); r != "zero" {
		t.Fatalf("json on connect: %q", r)
	}
	j.SendJSON(chatMsg{User: "ann"})
	if r := j.ReadText(); r != "ann" {
		t.Fatalf("json message: %q", r)
	}
	p := h.Dial(t, "/ptr")
	if r := p.ReadText(); r != "nil" {
		t.Fatalf("pointer on connect: %q", r)
	}
	p.SendJSON(chatMsg{User: "bob"})
	if r := p.ReadText(); r != "bob" {
		t.Fatalf("pointer message: %q", r)
	}
	r := h.Dial(t, "/recv")
	if v := recv(t, got, "the on-connect run"); v != "connect" {
		t.Fatalf("receive-only on connect: %q", v)
	}
	r.SendBinary([]byte("data"))
	if v := recv(t, got, "the message"); v != "data" {
		t.Fatalf("receive-only message: %q", v)
	}
	r.ExpectSilence(100 * time.Millisecond)
}

// The on-connect run can use the sender and close, like any other run.
func TestOnConnectCanClose(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], msg *string) (string, error) {
		if msg == nil {
			if err := c.Send("welcome"); err != nil {
				return "", err
			}
			return "", &fiberws.CloseError{Code: 4403, Reason: "not today"}
		}
		return *msg, nil
	}, fiberws.OnConnect()))
	c := h.Dial(t, "/c")
	msgs, code, reason := c.ReadUntilClose()
	if len(msgs) != 1 || msgs[0] != "welcome" || code != 4403 || reason != "not today" {
		t.Fatalf("got %q and %d %q", msgs, code, reason)
	}
}
