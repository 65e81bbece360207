package fiberws_test

import (
	"context"
	"iter"
	"reflect"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
)

// revali's triggerOnConnect example: the body is nil on connect, then
// non-nil for every message, even an empty one.
func TestOnConnectNilBody(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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

func TestRouteDescriptors(t *testing.T) {
	t.Parallel()
	typed := fiberws.WebSocket("/typed", func(context.Context, *fiberws.Conn[reply], chatMsg) (reply, error) { return reply{}, nil })
	if typed.Path() != "/typed" || typed.Mode() != fiberws.ModeTwoWay || typed.Stream() || typed.TriggerOnConnect() || typed.PingInterval() != 0 {
		t.Errorf("typed route: %q %v stream=%v onConnect=%v ping=%v", typed.Path(), typed.Mode(), typed.Stream(), typed.TriggerOnConnect(), typed.PingInterval())
	}
	if typed.MessageIn() != reflect.TypeFor[chatMsg]() || typed.MessageOut() != reflect.TypeFor[reply]() {
		t.Errorf("typed route types: in %v out %v", typed.MessageIn(), typed.MessageOut())
	}

	ping := fiberws.Ping("/hb", 30*time.Second, echo)
	if ping.PingInterval() != 30*time.Second || ping.PingTimeout() != 30*time.Second {
		t.Errorf("ping route: interval %v timeout %v", ping.PingInterval(), ping.PingTimeout())
	}
	withTimeout := fiberws.WebSocket("/hb2", echo, fiberws.WithPing(time.Second, 3*time.Second))
	if withTimeout.PingInterval() != time.Second || withTimeout.PingTimeout() != 3*time.Second {
		t.Errorf("WithPing: interval %v timeout %v", withTimeout.PingInterval(), withTimeout.PingTimeout())
	}

	onConnect := fiberws.WebSocket("/c", func(context.Context, *fiberws.Conn[string], *string) (string, error) { return "", nil }, fiberws.OnConnect())
	if !onConnect.TriggerOnConnect() || onConnect.MessageIn() != reflect.TypeFor[*string]() {
		t.Errorf("on-connect route: trigger %v in %v", onConnect.TriggerOnConnect(), onConnect.MessageIn())
	}

	recvOnly := fiberws.ReceiveOnly("/logs", func(context.Context, *fiberws.Session, string) error { return nil })
	if recvOnly.Mode() != fiberws.ModeReceiveOnly || recvOnly.MessageIn() != reflect.TypeFor[string]() || recvOnly.MessageOut() != nil {
		t.Errorf("receive-only route: %v in %v out %v", recvOnly.Mode(), recvOnly.MessageIn(), recvOnly.MessageOut())
	}

	sendOnly := fiberws.SendOnly("/n", func(context.Context, *fiberws.Conn[[]byte]) ([]byte, error) { return nil, nil })
	if sendOnly.Mode() != fiberws.ModeSendOnly || sendOnly.MessageIn() != nil || sendOnly.MessageOut() != reflect.TypeFor[[]byte]() || sendOnly.Stream() {
		t.Errorf("send-only route: %v in %v out %v stream %v", sendOnly.Mode(), sendOnly.MessageIn(), sendOnly.MessageOut(), sendOnly.Stream())
	}

	stream := fiberws.SendOnlyStream("/s", func(context.Context, *fiberws.Conn[int]) (iter.Seq[int], error) { return nil, nil })
	if stream.Mode() != fiberws.ModeSendOnly || !stream.Stream() || stream.MessageOut() != reflect.TypeFor[int]() {
		t.Errorf("send-only stream route: %v stream %v out %v", stream.Mode(), stream.Stream(), stream.MessageOut())
	}
	twoWayStream := fiberws.WebSocketStream("/ts", func(context.Context, *fiberws.Conn[string], string) (iter.Seq[string], error) { return nil, nil })
	if twoWayStream.Mode() != fiberws.ModeTwoWay || !twoWayStream.Stream() || twoWayStream.MessageOut() != reflect.TypeFor[string]() {
		t.Errorf("two-way stream route: %v stream %v out %v", twoWayStream.Mode(), twoWayStream.Stream(), twoWayStream.MessageOut())
	}

	for m, want := range map[fiberws.Mode]string{fiberws.ModeTwoWay: "two-way", fiberws.ModeReceiveOnly: "receive-only", fiberws.ModeSendOnly: "send-only"} {
		if m.String() != want {
			t.Errorf("Mode(%d).String() = %q, want %q", m, m.String(), want)
		}
	}
}
