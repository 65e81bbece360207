package fiberws_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

// revali's notification example: the handler starts periodic sends through
// the sender and registers a cleanup that stops them.
func TestPeriodicSendsStoppedByCleanup(t *testing.T) {
	tickerStopped := make(chan struct{})
	sendErrs := make(chan error, 100)
	h := serveRoutes(t, fiberws.WebSocket("/notifications", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		stop := make(chan struct{})
		go func() {
			defer close(tickerStopped)
			ticker := time.NewTicker(20 * time.Millisecond)
			defer ticker.Stop()
			for i := 1; ; i++ {
				select {
				case <-stop:
					return
				case <-ticker.C:
					if err := c.Send("notification " + strconv.Itoa(i)); err != nil {
						sendErrs <- err
					}
				}
			}
		}()
		c.Cleanup(func() {
			close(stop)
			<-tickerStopped
		})
		return "Notifications started", nil
	}))
	c := h.Dial(t, "/notifications")
	c.SendText("start")
	// The handler's result races the first tick on a loaded machine; the
	// notifications come in order.
	started, next := false, 1
	for !started || next <= 3 {
		switch got := c.ReadText(); {
		case got == "Notifications started" && !started:
			started = true
		case got == "notification "+strconv.Itoa(next):
			next++
		default:
			t.Fatalf("got %q, want notification %d (started: %v)", got, next, started)
		}
	}
	select {
	case err := <-sendErrs:
		t.Fatalf("Send failed on an open connection: %v", err)
	default:
	}
	if code := c.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close answered with %d", code)
	}
	if !closedWithin(tickerStopped, fiberwstest.DefaultTimeout) {
		t.Fatal("the cleanup did not stop the periodic sender")
	}
	// Sends between the close and the cleanup may fail, only with ErrClosed.
	for len(sendErrs) > 0 {
		if err := <-sendErrs; !errors.Is(err, fiberws.ErrClosed) {
			t.Fatalf("Send after close returned %v, want ErrClosed", err)
		}
	}
}

func TestSendAfterCloseReturnsErrClosed(t *testing.T) {
	conns := make(chan *fiberws.Conn[string], 1)
	afterServerClose := make(chan error, 1)
	h := serveRoutes(t,
		fiberws.WebSocket("/keep", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			select {
			case conns <- c:
			default:
			}
			return "kept", nil
		}),
		fiberws.WebSocket("/self", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			if err := c.Close(fiberws.CloseNormalClosure, "done"); err != nil {
				return "", err
			}
			afterServerClose <- c.Send("too late")
			return "also too late", nil
		}),
	)

	// Closed by the client: Send from outside returns ErrClosed at once.
	c := h.Dial(t, "/keep")
	c.SendText("x")
	if got := c.ReadText(); got != "kept" {
		t.Fatalf("got %q", got)
	}
	conn := recv(t, conns, "the connection")
	c.Close(1000, "")
	h.waitIdle(t)
	done := make(chan error, 1)
	go func() { done <- conn.Send("after close") }()
	select {
	case err := <-done:
		if !errors.Is(err, fiberws.ErrClosed) {
			t.Fatalf("Send after client close: %v, want ErrClosed", err)
		}
	case <-time.After(fiberwstest.DefaultTimeout):
		t.Fatal("Send after close blocked")
	}
	if !conn.Closed() {
		t.Fatal("Closed() is false after the connection ended")
	}

	// Closed by the handler itself: the next Send returns ErrClosed, and
	// the result returned afterwards is not sent.
	s := h.Dial(t, "/self")
	s.SendText("x")
	msgs, code, reason := s.ReadUntilClose()
	if len(msgs) != 0 || code != 1000 || reason != "done" {
		t.Fatalf("got %q and %d %q, want only the close 1000 done", msgs, code, reason)
	}
	if err := recv(t, afterServerClose, "Send after Close"); !errors.Is(err, fiberws.ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

// Many goroutines sending at once: every frame arrives whole, each
// goroutine's messages in its order (the race detector watches the writes).
func TestConcurrentSendsAreSerialized(t *testing.T) {
	const senders, each = 8, 50
	h := serveRoutes(t, fiberws.WebSocket("/fan", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		var wg sync.WaitGroup
		for g := range senders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := c.Send(fmt.Sprintf("%d:%d:%s", g, i, strings.Repeat("x", 100+i))); err != nil {
						return
					}
				}
			}()
		}
		wg.Wait()
		return "end", nil
	}))
	c := h.Dial(t, "/fan")
	c.SendText("go")
	next := make([]int, senders)
	for range senders * each {
		var g, i int
		var pad string
		line := c.ReadText()
		if _, err := fmt.Sscanf(strings.ReplaceAll(line, ":", " "), "%d %d %s", &g, &i, &pad); err != nil {
			t.Fatalf("garbled frame %q: %v", line, err)
		}
		if i != next[g] || len(pad) != 100+i {
			t.Fatalf("sender %d: got message %d (pad %d), want %d", g, i, len(pad), next[g])
		}
		next[g]++
	}
	if got := c.ReadText(); got != "end" {
		t.Fatalf("got %q, want the handler's result after its sends", got)
	}
}

// Send on a Conn whose client went away never blocks past the write
// timeout and never panics, even while the connection is being torn down.
func TestSendRacingClientDrop(t *testing.T) {
	results := make(chan error, 1)
	h := serveRoutes(t, fiberws.WebSocket("/spam", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		go func() {
			var err error
			for err == nil {
				err = c.Send(strings.Repeat("y", 1024))
			}
			results <- err
		}()
		return "spamming", nil
	}))
	c := h.Dial(t, "/spam")
	c.SendText("go")
	c.ReadText() // the reply or a spam message: the sender races the result
	c.Drop()
	if err := recv(t, results, "the sender to stop"); !errors.Is(err, fiberws.ErrClosed) {
		t.Fatalf("Send after drop: %v, want ErrClosed", err)
	}
	h.waitIdle(t)
}

// errVetoed is what the post-interceptor of the catcher tests rejects
// "vetoed" with.
var errVetoed = errors.New("vetoed")

// vetoRoute sends each message back with Send, whose post-interceptor
// rejects "vetoed" with errVetoed; the handler returns Send's error, as Go
// code does, and a catcher replies "caught N" to it, N counting its calls.
// It also answers "async" by sending "vetoed" from another goroutine, which
// hands the error to Fail, then "after".
func vetoRoute(calls *atomic.Int64) fiberws.Route {
	veto := hooks.PostFunc(func(_ context.Context, _ hooks.Peer, m *hooks.Message) error {
		if string(m.Data) == "vetoed" {
			return errVetoed
		}
		return nil
	})
	caught := hooks.CatchIs(errVetoed, func(context.Context, hooks.Peer, error) hooks.Outcome {
		return hooks.Reply("caught " + strconv.FormatInt(calls.Add(1), 10))
	})
	return fiberws.WebSocket("/veto", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		if msg == "async" {
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.Fail(c.Send("vetoed"))
			}()
			<-done
			return "after", nil
		}
		if err := c.Send(msg); err != nil {
			return "", err
		}
		return "", nil
	}, fiberws.WithInterceptors(veto), fiberws.WithCatchers(caught))
}

// TestSendErrorCaughtOnce: an error of Send (here a post-interceptor's
// rejection) is returned, not also handed to the catchers, so a handler
// that returns it gets the catchers run once and the client one reply.
func TestSendErrorCaughtOnce(t *testing.T) {
	var calls atomic.Int64
	h := serveRoutes(t, vetoRoute(&calls))
	c := h.Dial(t, "/veto")
	c.SendText("vetoed")
	if got := c.ReadText(); got != "caught 1" {
		t.Fatalf("got %q, want %q", got, "caught 1")
	}
	c.SendText("fine")
	if got := c.ReadText(); got != "fine" {
		t.Fatalf("got %q, want %q: a second catcher reply came first", got, "fine")
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("catchers ran %d times for one error", n)
	}
}

// TestFailFromAnotherGoroutine: a goroutine that has no handler to return
// Send's error to hands it to Fail; the catchers run once, on its
// goroutine.
func TestFailFromAnotherGoroutine(t *testing.T) {
	var calls atomic.Int64
	h := serveRoutes(t, vetoRoute(&calls))
	c := h.Dial(t, "/veto")
	c.SendText("async")
	if got := c.ReadText(); got != "caught 1" {
		t.Fatalf("got %q, want %q", got, "caught 1")
	}
	if got := c.ReadText(); got != "after" {
		t.Fatalf("got %q, want %q", got, "after")
	}
	c.SendText("fine")
	if got := c.ReadText(); got != "fine" {
		t.Fatalf("got %q, want %q", got, "fine")
	}
}
