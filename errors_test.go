package fiberws_test

import (
	"context"
	"errors"
	"iter"
	"strings"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

const secret = "db password is hunter2"

func TestPanicCloses1011WithoutLeaking(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/p", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
		if msg == "panic" {
			panic(secret)
		}
		return msg, nil
	}))
	c := h.Dial(t, "/p")
	c.SendText("fine")
	if got := c.ReadText(); got != "fine" {
		t.Fatalf("got %q", got)
	}
	c.SendText("panic")
	msgs, code, reason := c.ReadUntilClose()
	if code != fiberws.CloseInternalError || reason != "internal error" {
		t.Fatalf("closed with %d %q, want 1011 internal error", code, reason)
	}
	for _, m := range msgs {
		if strings.Contains(m, "hunter2") {
			t.Fatalf("panic text sent to the client: %q", m)
		}
	}
	logs := h.logs.String()
	if !strings.Contains(logs, secret) {
		t.Errorf("the panic value was not logged:\n%s", logs)
	}
	if !strings.Contains(logs, "goroutine") || !strings.Contains(logs, "errors_test.go") {
		t.Errorf("the panic's stack was not logged:\n%s", logs)
	}
	// The server is fine: a new connection works.
	d := h.Dial(t, "/p")
	d.SendText("after")
	if got := d.ReadText(); got != "after" {
		t.Fatalf("got %q", got)
	}
}

func TestHandlerErrorCloses1011(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/e", func(context.Context, *fiberws.Conn[string], string) (string, error) {
		return "partial", errors.New(secret)
	}))
	c := h.Dial(t, "/e")
	c.SendText("x")
	msgs, code, reason := c.ReadUntilClose()
	if len(msgs) != 0 {
		t.Fatalf("the result of a failed handler was sent: %q", msgs)
	}
	if code != fiberws.CloseInternalError || reason != "internal error" {
		t.Fatalf("closed with %d %q, want 1011 internal error", code, reason)
	}
	if !strings.Contains(h.logs.String(), secret) {
		t.Errorf("the error was not logged:\n%s", h.logs.String())
	}
}

// Panics close with 1011 in every handler shape and phase.
func TestPanicsEverywhereClose1011(t *testing.T) {
	t.Parallel()
	routes := []fiberws.Route{
		fiberws.WebSocket("/on-connect", func(_ context.Context, _ *fiberws.Conn[string], msg *string) (string, error) {
			panic(secret)
		}, fiberws.OnConnect()),
		fiberws.ReceiveOnly("/receive", func(context.Context, *fiberws.Session, string) error { panic(secret) }),
		fiberws.SendOnly("/send", func(context.Context, *fiberws.Conn[string]) (string, error) { panic(secret) }),
		fiberws.SendOnlyStream("/stream", func(context.Context, *fiberws.Conn[string]) (iter.Seq[string], error) {
			return func(yield func(string) bool) {
				if yield("one") {
					panic(secret)
				}
			}, nil
		}),
		fiberws.WebSocket("/nil-map", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
			var m map[string]int
			m[msg]++ // a runtime error, not a panic(string)
			return "", nil
		}),
	}
	h := serveRoutes(t, routes...)
	for _, path := range []string{"/on-connect", "/receive", "/send", "/stream", "/nil-map"} {
		t.Run(path, func(t *testing.T) {
			c := h.Dial(t, path)
			if path == "/receive" || path == "/nil-map" {
				c.SendText("x")
			}
			msgs, code, reason := c.ReadUntilClose()
			if code != fiberws.CloseInternalError || reason != "internal error" {
				t.Fatalf("closed with %d %q, want 1011 internal error", code, reason)
			}
			for _, m := range msgs {
				if strings.Contains(m, "hunter2") {
					t.Fatalf("panic text sent: %q", m)
				}
			}
		})
	}
}

// A catcher that panics is logged and the connection closes with 1011.
func TestPanickingCatcher(t *testing.T) {
	t.Parallel()
	catcher := hooks.CatcherFunc(func(context.Context, hooks.Peer, error) (hooks.Outcome, bool) { panic(secret) })
	h := serveRoutes(t, fiberws.WebSocket("/c", func(context.Context, *fiberws.Conn[string], string) (string, error) {
		return "", errors.New("handler failed")
	}, fiberws.WithCatchers(catcher)))
	c := h.Dial(t, "/c")
	c.SendText("x")
	if code, reason := c.ExpectClose(); code != fiberws.CloseInternalError || reason != "internal error" {
		t.Fatalf("closed with %d %q", code, reason)
	}
	if !strings.Contains(h.logs.String(), secret) {
		t.Errorf("the catcher's panic was not logged")
	}
}

// A catcher can turn a handler error into a reply and keep the connection.
func TestCatcherReplies(t *testing.T) {
	t.Parallel()
	errNotFound := errors.New("not found")
	catcher := hooks.CatcherFunc(func(_ context.Context, _ hooks.Peer, err error) (hooks.Outcome, bool) {
		if errors.Is(err, errNotFound) {
			return hooks.Reply("no such thing"), true
		}
		return hooks.Outcome{}, false
	})
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
		switch msg {
		case "missing":
			return "", errNotFound
		case "broken":
			return "", errors.New("other")
		}
		return "found " + msg, nil
	}, fiberws.WithCatchers(catcher)))
	c := h.Dial(t, "/c")
	c.SendText("missing")
	if got := c.ReadText(); got != "no such thing" {
		t.Fatalf("got %q", got)
	}
	c.SendText("x")
	if got := c.ReadText(); got != "found x" {
		t.Fatalf("got %q", got)
	}
	c.SendText("broken") // not handled: the default 1011
	if code, _ := c.ExpectClose(); code != fiberws.CloseInternalError {
		t.Fatalf("close code %d", code)
	}
}

func TestErrorTypes(t *testing.T) {
	t.Parallel()
	inner := errors.New("bad json")
	de := &fiberws.DecodeError{Err: inner}
	if !errors.Is(de, inner) || !strings.Contains(de.Error(), "invalid message payload") {
		t.Errorf("DecodeError: %v", de)
	}
	ce := &fiberws.CloseError{Code: 4000, Reason: "r"}
	if !strings.Contains(ce.Error(), "4000") {
		t.Errorf("CloseError: %v", ce)
	}
	pe := &fiberws.PanicError{Value: "v"}
	if !strings.Contains(pe.Error(), "v") {
		t.Errorf("PanicError: %v", pe)
	}
}

// A receive-only route never sends anything, not even a catcher's reply:
// the reply is dropped and logged.
func TestReceiveOnlyCatcherReplyIsNotSent(t *testing.T) {
	t.Parallel()
	reply := hooks.CatcherFunc(func(context.Context, hooks.Peer, error) (hooks.Outcome, bool) {
		return hooks.Reply("must not be sent"), true
	})
	h := serveRoutes(t, fiberws.ReceiveOnly("/r", func(context.Context, *fiberws.Session, string) error {
		return errors.New("rejected")
	}, fiberws.WithCatchers(reply)))
	c := h.Dial(t, "/r")
	c.SendText("a")
	fiberwstest.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "receive-only") }, "the dropped reply is logged")
	c.ExpectSilence(100 * time.Millisecond)
}

// TestErrorAfterCloseIsLoggedAtDebug: an error handed to the catchers once
// the connection is closing changes nothing, but is not lost either: it
// is logged at debug level.
func TestErrorAfterCloseIsLoggedAtDebug(t *testing.T) {
	t.Parallel()
	failed := make(chan struct{})
	h := serveRoutes(t, fiberws.WebSocket("/late", func(ctx context.Context, c *fiberws.Conn[string], _ *string) (string, error) {
		go func() {
			<-ctx.Done()
			c.Fail(errors.New("late trouble"))
			close(failed)
		}()
		return "", nil
	}, fiberws.OnConnect()))
	c := h.Dial(t, "/late")
	c.ReadText()
	if code := c.Close(1000, ""); code != 1000 {
		t.Fatalf("close answered %d", code)
	}
	recv(t, failed, "the late Fail")
	h.waitIdle(t)
	log := h.logs.String()
	if !strings.Contains(log, "level=DEBUG") || !strings.Contains(log, "late trouble") {
		t.Fatalf("the late error is not in the debug log:\n%s", log)
	}
}
