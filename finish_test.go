package fiberws_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

// cleanupLog records cleanup calls.
type cleanupLog struct {
	mu    sync.Mutex
	calls []string
}

func (l *cleanupLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, s)
}

func (l *cleanupLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.calls...)
}

// Cleanups run exactly once, last registered first, after the socket is
// closed and the handler returned, whichever way the connection ends; a
// panicking cleanup is logged and the others still run.
func TestCleanupsRunOnceLIFO(t *testing.T) {
	endings := map[string]func(t *testing.T, c *fiberwstest.Client){
		"client closes": func(t *testing.T, c *fiberwstest.Client) { c.Close(1000, "bye") },
		"client drops":  func(t *testing.T, c *fiberwstest.Client) { c.Drop() },
		"server closes": func(t *testing.T, c *fiberwstest.Client) {
			c.SendText("close")
			if code, _ := c.ExpectClose(); code != 4000 {
				t.Fatalf("close code %d", code)
			}
		},
		"handler panics": func(t *testing.T, c *fiberwstest.Client) {
			c.SendText("panic")
			if code, _ := c.ExpectClose(); code != 1011 {
				t.Fatalf("close code %d", code)
			}
		},
	}
	for name, end := range endings {
		t.Run(name, func(t *testing.T) {
			log := &cleanupLog{}
			h := serveRoutes(t, fiberws.WebSocket("/c", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
				switch msg {
				case "register":
					for _, n := range []string{"1", "2", "3", "4"} {
						c.Cleanup(func() {
							// Runs after the close: the context is done and
							// sending is over.
							state := "open"
							if c.Context().Err() != nil && errors.Is(c.Send("x"), fiberws.ErrClosed) {
								state = "closed"
							}
							log.add(n + ":" + state)
							if n == "3" {
								panic("cleanup 3 fails")
							}
						})
					}
					c.Cleanup(nil) // ignored
					return "registered", nil
				case "close":
					return "", c.Close(4000, "bye")
				case "panic":
					panic("boom")
				}
				return msg, nil
			}))
			c := h.Dial(t, "/c")
			c.SendText("register")
			if got := c.ReadText(); got != "registered" {
				t.Fatalf("got %q", got)
			}
			if calls := log.get(); len(calls) != 0 {
				t.Fatalf("cleanups ran while the connection was open: %q", calls)
			}
			end(t, c)
			h.waitIdle(t) // the connection is fully wound down
			want := "[4:closed 3:closed 2:closed 1:closed]"
			if got := fmt.Sprint(log.get()); got != want {
				t.Fatalf("cleanups ran as %s, want %s", got, want)
			}
			if !strings.Contains(h.logs.String(), "cleanup panicked") || !strings.Contains(h.logs.String(), "cleanup 3 fails") {
				t.Errorf("the panicking cleanup was not logged:\n%s", h.logs.String())
			}
		})
	}
}

// Cleanups run exactly once, also across server shutdown.
func TestCleanupsRunOnceOnShutdown(t *testing.T) {
	log := &cleanupLog{}
	app := newApp()
	logger, _ := fiberwstest.NewLog(t)
	// The client reads the close frame only after Shutdown returned, so
	// Shutdown waits out the close timeout: keep it short.
	wsrv := fiberws.New(fiberws.Config{Logger: logger, CloseTimeout: 100 * time.Millisecond})
	if err := wsrv.Register(app, ctrl{routes: []fiberws.Route{
		fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			c.Cleanup(func() { log.add(msg) })
			return "ok", nil
		}),
	}}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	c := srv.Dial(t, "/c")
	c.SendText("a")
	c.ReadText()
	ctx, cancel := context.WithTimeout(context.Background(), srv.Timeout)
	defer cancel()
	if err := wsrv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code, reason := c.ExpectClose(); code != fiberws.CloseGoingAway || reason != "server shutting down" {
		t.Fatalf("closed with %d %q, want 1001 server shutting down", code, reason)
	}
	if got := log.get(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("cleanups after shutdown: %q", got)
	}
	// A second shutdown (the app's, at the end of the test) runs nothing again.
	if err := wsrv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := log.get(); len(got) != 1 {
		t.Fatalf("cleanups ran again: %q", got)
	}
}

func TestCleanupAfterCloseRunsAtOnce(t *testing.T) {
	conns := make(chan *fiberws.Conn[string], 1)
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		conns <- c
		return "ok", nil
	}))
	c := h.Dial(t, "/c")
	c.SendText("x")
	c.ReadText()
	conn := recv(t, conns, "the connection")
	c.Close(1000, "")
	h.waitIdle(t)

	ran := 0
	conn.Cleanup(func() { ran++ })
	if ran != 1 {
		t.Fatalf("a cleanup registered after close ran %d times by the time Cleanup returned, want 1", ran)
	}
	conn.Cleanup(func() { panic("late panic") }) // logged, not raised
	if !strings.Contains(h.logs.String(), "late panic") {
		t.Errorf("the late cleanup's panic was not logged")
	}
}

// A cleanup registered from a cleanup (the list is being run) still runs.
func TestCleanupRegisteredDuringCleanups(t *testing.T) {
	log := &cleanupLog{}
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		c.Cleanup(func() {
			log.add("outer")
			c.Cleanup(func() { log.add("inner") })
		})
		return "ok", nil
	}))
	c := h.Dial(t, "/c")
	c.SendText("x")
	c.ReadText()
	c.Drop()
	h.waitIdle(t)
	if got := fmt.Sprint(log.get()); got != "[outer inner]" {
		t.Fatalf("got %s", got)
	}
}

func TestObserverSummaryCounts(t *testing.T) {
	obs := newRelSummaries()
	ts := serveWith(t, fiberws.Config{Observers: []hooks.Observer{obs}}, fiberws.WebSocket("/room/:name", mirror))
	c := ts.Dial(t, "/room/blue?x=1")
	c.SendText("abc")
	c.ReadText()
	c.SendText("de")
	c.ReadText()
	c.Close(4000, "done")
	s := obs.next(t)
	if s.Route != "/room/:name" || s.Path != "/room/blue" || s.Params["name"] != "blue" {
		t.Fatalf("summary route data %+v", s)
	}
	if s.MessagesIn != 2 || s.MessagesOut != 2 || s.BytesIn != 5 || s.BytesOut != 5 {
		t.Fatalf("summary counts %+v", s)
	}
	if s.CloseCode != 4000 || s.CloseReason != "done" || s.ClosedBy != hooks.ByClient || s.Err != nil {
		t.Fatalf("summary close %+v", s)
	}
	if s.Start.IsZero() || s.Duration <= 0 {
		t.Fatalf("summary timing %+v", s)
	}
}
