package fiberws_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fiberws/fiberws"
)

type openCloseCtrl struct {
	ctrl
	events chan string
}

func (c openCloseCtrl) OnOpen(_ context.Context, s *fiberws.Session) error {
	c.events <- "controller open " + s.Query("who")
	return nil
}

func (c openCloseCtrl) OnClose(s *fiberws.Session, info fiberws.CloseInfo) {
	c.events <- "controller close " + s.Query("who") + " " + string(info.ClosedBy)
}

// TestOpenAndCloseHooks: OnOpen (typed: it gets the route's Conn, and can
// send) and OnClose (with the close code and who closed) for routes and
// controllers, in scope order, once each.
func TestOpenAndCloseHooks(t *testing.T) {
	t.Parallel()
	events := make(chan string, 20)
	c := openCloseCtrl{events: events}
	c.routes = []fiberws.Route{fiberws.WebSocket("/ws", echo,
		fiberws.OnOpen(func(_ context.Context, conn *fiberws.Conn[string]) error {
			events <- "route open " + conn.Query("who")
			return conn.Send("welcome")
		}),
		fiberws.OnClose(func(s *fiberws.Session, info fiberws.CloseInfo) {
			events <- "route close " + s.Query("who") + " " + string(rune('0'+info.Code-4000))
		}))}
	h := start(t, fiberws.Config{}, c)
	cl := h.Dial(t, "/ws?who=ann")
	if got := cl.ReadText(); got != "welcome" {
		t.Fatalf("first message %q, want the OnOpen's welcome", got)
	}
	cl.SendText("x")
	if got := cl.ReadText(); got != "echo x" {
		t.Fatalf("got %q", got)
	}
	cl.Close(4001, "bye")
	for _, want := range []string{"controller open ann", "route open ann", "route close ann 1", "controller close ann client"} {
		if got := recv(t, events, want); got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	}
}

// TestOnOpenMustFitTheRoute: OnOpen's Conn type is checked against the
// route's, and a receive-only route (no Conn) refuses it.
func TestOnOpenMustFitTheRoute(t *testing.T) {
	t.Parallel()
	open := fiberws.OnOpen(func(context.Context, *fiberws.Conn[int]) error { return nil })
	for _, r := range []fiberws.Route{
		fiberws.WebSocket("/ws", echo, open),
		fiberws.ReceiveOnly("/in", func(context.Context, *fiberws.Session, string) error { return nil }, open),
	} {
		if err := fiberws.New().Register(newApp(), ctrl{routes: []fiberws.Route{r}}); err == nil || !strings.Contains(err.Error(), "OnOpen") {
			t.Errorf("%s: %v, want an OnOpen registration error", r.Path(), err)
		}
	}
}
