package fiberwstest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/gofiber/fiber/v2"
)

// silentApp serves a WebSocket route that never replies.
func silentApp(t *testing.T) *fiber.App {
	t.Helper()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	routes := []fiberws.Route{fiberws.ReceiveOnly("/silent", func(context.Context, *fiberws.Session, string) error { return nil })}
	if err := fiberws.Register(app, rootCtrl(routes)); err != nil {
		t.Fatal(err)
	}
	return app
}

type rootCtrl []fiberws.Route

func (rootCtrl) Prefix() string            { return "" }
func (r rootCtrl) Routes() []fiberws.Route { return r }

// TestServeStartsWithDefaultTimeout: a served Server and the clients dialed
// from it wait DefaultTimeout unless told otherwise.
func TestServeStartsWithDefaultTimeout(t *testing.T) {
	t.Parallel()
	srv := fiberwstest.Serve(t, silentApp(t))
	if srv.Timeout != fiberwstest.DefaultTimeout {
		t.Fatalf("Server.Timeout = %v, want DefaultTimeout (%v)", srv.Timeout, fiberwstest.DefaultTimeout)
	}
	if got := srv.Dial(t, "/silent").Timeout(); got != fiberwstest.DefaultTimeout {
		t.Fatalf("Client.Timeout() = %v, want %v", got, fiberwstest.DefaultTimeout)
	}
}

// TestServerTimeoutBoundsItsClients: a client waits its server's Timeout,
// as it was when the client was dialed, and a client of another server
// keeps its own.
func TestServerTimeoutBoundsItsClients(t *testing.T) {
	t.Parallel()
	const short = 150 * time.Millisecond
	quick := fiberwstest.Serve(t, silentApp(t))
	quick.Timeout = short
	c := quick.Dial(t, "/silent")
	quick.Timeout = 10 * time.Second // too late for c
	other := fiberwstest.Serve(t, silentApp(t)).Dial(t, "/silent")
	if c.Timeout() != short || other.Timeout() != fiberwstest.DefaultTimeout {
		t.Fatalf("client timeouts %v and %v, want %v and %v", c.Timeout(), other.Timeout(), short, fiberwstest.DefaultTimeout)
	}

	start := time.Now()
	_, _, err := c.Read()
	took := time.Since(start)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Read from a silent route: %v, want a timeout", err)
	}
	if took < short || took > fiberwstest.DefaultTimeout/2 {
		t.Fatalf("Read gave up after %v, want about %v", took, short)
	}
}

// fakeTB records the failure of a helper instead of failing the test.
type fakeTB struct {
	testing.TB
	mu  sync.Mutex
	msg string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.msg = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// failure runs wait with a fakeTB in its own goroutine (Fatalf ends it) and
// returns the failure message and how long wait took.
func failure(t *testing.T, wait func(testing.TB)) (string, time.Duration) {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(done)
		wait(f)
	}()
	select {
	case <-done:
	case <-time.After(2 * fiberwstest.DefaultTimeout):
		t.Fatal("the wait did not give up")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.msg, time.Since(start)
}

// TestServerEventuallyUsesTheServersTimeout: Server.Eventually gives up
// after the server's Timeout and says so; it returns at once when the
// condition holds.
func TestServerEventuallyUsesTheServersTimeout(t *testing.T) {
	t.Parallel()
	srv := fiberwstest.Serve(t, silentApp(t))
	srv.Timeout = 100 * time.Millisecond
	// Serve's shutdown at the end waits by the server's Timeout too: give it
	// the default back (cleanups run last-registered first), so a loaded
	// machine does not fail the test on the shutdown.
	t.Cleanup(func() { srv.Timeout = fiberwstest.DefaultTimeout })
	msg, took := failure(t, func(tb testing.TB) {
		srv.Eventually(tb, func() bool { return false }, "never %d", 42)
	})
	if !strings.Contains(msg, "timed out after 100ms") || !strings.Contains(msg, "never 42") {
		t.Fatalf("failure message %q", msg)
	}
	if took < srv.Timeout || took > fiberwstest.DefaultTimeout/2 {
		t.Fatalf("gave up after %v, want about %v", took, srv.Timeout)
	}
	msg, _ = failure(t, func(tb testing.TB) {
		srv.Eventually(tb, func() bool { return true }, "holds")
	})
	if msg != "" {
		t.Fatalf("a condition that holds failed: %q", msg)
	}
}
