package fiberws_test

import (
	"context"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

const pingEvery = 50 * time.Millisecond

// patientPing pings every pingEvery but waits a second for the pong: the
// tests that count pings must not lose their connection because a loaded
// machine (and the race detector) delayed one pong past 50ms.
func patientPing() fiberws.Option { return fiberws.WithPing(pingEvery, time.Second) }

// slowEcho answers "wait D" after D, everything else at once: a way to
// keep the client reading (and so seeing pings) for a known time.
func slowEcho(ctx context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
	if d, err := time.ParseDuration(msg); err == nil {
		select {
		case <-time.After(d):
		case <-ctx.Done():
		}
	}
	return "echo " + msg, nil
}

func TestPingsAtTheInterval(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/hb", slowEcho, patientPing()))
	c := h.Dial(t, "/hb")
	var mu sync.Mutex
	var at []time.Time
	conn := c.Conn()
	conn.SetPingHandler(func(data string) error {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		return conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.Timeout()))
	})
	const window = 600 * time.Millisecond
	start := time.Now()
	c.SendText(window.String())
	if got := c.ReadText(); got != "echo "+window.String() {
		t.Fatalf("got %q", got)
	}
	elapsed := time.Since(start)
	mu.Lock()
	n := len(at)
	mu.Unlock()
	// About elapsed/interval pings: generous bounds for a loaded machine,
	// tight enough to catch "no pings" or "pings far too often".
	expected := int(elapsed / pingEvery)
	if n < expected/3 || n < 3 {
		t.Fatalf("%d pings in %v at a %v interval, want about %d", n, elapsed, pingEvery, expected)
	}
	if n > expected+3 {
		t.Fatalf("%d pings in %v at a %v interval: more often than the interval", n, elapsed, pingEvery)
	}
	// The client answered every ping, so the connection is still open.
	c.SendText("still here")
	if got := c.ReadText(); got != "echo still here" {
		t.Fatalf("got %q", got)
	}
}

// fiberwstest's own counter sees the pings too.
func TestClientPingsCounter(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/hb", slowEcho, patientPing()))
	c := h.Dial(t, "/hb")
	c.SendText("300ms")
	c.ReadText()
	if p := c.Pings(); p < 2 {
		t.Fatalf("Pings() = %d after 300ms at a %v interval", p, pingEvery)
	}
}

// A client that does not answer pings is closed with 1001 and its
// cleanups run.
func TestSilentClientDropped(t *testing.T) {
	cleaned := make(chan struct{})
	h := serveRoutes(t, fiberws.Ping("/hb", pingEvery, func(ctx context.Context, c *fiberws.Conn[*string], msg *string) (*string, error) {
		if msg == nil {
			c.Cleanup(func() { close(cleaned) })
			return nil, nil
		}
		return msg, nil
	}, fiberws.OnConnect()))
	c := h.Dial(t, "/hb")
	var pings int
	c.Conn().SetPingHandler(func(string) error { pings++; return nil }) // no pong
	start := time.Now()
	code, reason := c.ExpectClose()
	if code != fiberws.CloseGoingAway {
		t.Fatalf("closed with %d %q, want 1001", code, reason)
	}
	if d := time.Since(start); d > 40*pingEvery {
		t.Errorf("dropped after %v; interval and timeout are %v", d, pingEvery)
	}
	if pings == 0 {
		t.Error("closed for not answering pings, but no ping arrived")
	}
	if !closedWithin(cleaned, fiberwstest.DefaultTimeout) {
		t.Fatal("cleanups did not run after the ping timeout")
	}
	h.waitIdle(t)
}

// With a longer timeout than interval, a client is dropped only once its
// oldest unanswered ping is older than the timeout.
func TestPingTimeoutOption(t *testing.T) {
	const timeout = 400 * time.Millisecond
	h := serveRoutes(t, fiberws.WebSocket("/hb", slowEcho, fiberws.WithPing(pingEvery, timeout)))
	// Taken before the dial: the server's clock starts later (the first
	// ping goes out an interval after the upgrade, the timeout runs from
	// there), so the drop comes at least timeout after it.
	start := time.Now()
	c := h.Dial(t, "/hb")
	c.Conn().SetPingHandler(func(string) error { return nil })
	if code, _ := c.ExpectClose(); code != fiberws.CloseGoingAway {
		t.Fatalf("close code %d, want 1001", code)
	}
	if d := time.Since(start); d < timeout {
		t.Fatalf("dropped after %v, before the %v timeout", d, timeout)
	}
}

// Client pings are answered on any route.
func TestClientPingAnswered(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/e", echo))
	c := h.Dial(t, "/e")
	pong := make(chan string, 1)
	c.Conn().SetPongHandler(func(data string) error { pong <- data; return nil })
	if err := c.Conn().WriteControl(websocket.PingMessage, []byte("hello"), time.Now().Add(c.Timeout())); err != nil {
		t.Fatal(err)
	}
	c.SendText("x") // the pong is seen while reading the echo
	if got := c.ReadText(); got != "echo x" {
		t.Fatalf("got %q", got)
	}
	if got := recv(t, pong, "the pong"); got != "hello" {
		t.Fatalf("pong payload %q", got)
	}
}

// Keep-alive costs no goroutine per connection: N connections on a ping
// route run about as many goroutines as N connections on a plain route.
func TestKeepaliveNoGoroutinePerConnection(t *testing.T) {
	const n = 30
	h := serveRoutes(t,
		fiberws.WebSocket("/plain", echo),
		// The clients do not read while measured, so they do not answer
		// pings: a long timeout keeps them connected.
		fiberws.WebSocket("/hb", echo, fiberws.WithPing(pingEvery, time.Minute)),
	)
	measure := func(path string) int {
		clients := make([]*fiberwstest.Client, n)
		for i := range clients {
			clients[i] = h.Dial(t, path)
			clients[i].SendText("x")
			clients[i].ReadText()
		}
		// A few samples across ping rounds; the lowest leaves out the
		// short-lived goroutine of a ping being written.
		low := -1
		for range 5 {
			time.Sleep(pingEvery / 3) // samples spread over ping rounds
			if g := runtime.NumGoroutine(); low < 0 || g < low {
				low = g
			}
		}
		for _, c := range clients {
			// Drop, not Close: fiberwstest's ping handler fails the
			// client's read when a ping crosses its close frame.
			c.Drop()
		}
		h.waitIdle(t)
		return low
	}
	plain := measure("/plain")
	ping := measure("/hb")
	if extra := ping - plain; extra > n/3 {
		t.Fatalf("%d connections with keep-alive run %d more goroutines than without (%d vs %d)", n, extra, ping, plain)
	}
}

// TestPingTimeoutNotCausedByOurBackPressure: a client sends its messages
// at once to a slow handler on a route that pings every 200ms (pong
// timeout: one interval), then reads and answers every ping. The receive
// queue fills, reading pauses, and the client's pongs wait unread behind
// its own messages for seconds: that is our back-pressure, not a dead
// client, so the connection must stay open and answer them all. With a
// 100ms handler the reader pauses for less than a pong timeout at a time;
// with a 500ms one and a queue of one, each pause outlasts it.
func TestPingTimeoutNotCausedByOurBackPressure(t *testing.T) {
	for _, tc := range []struct {
		n       int
		handler time.Duration
		queue   int
	}{{40, 100 * time.Millisecond, 0}, {8, 500 * time.Millisecond, 1}} {
		t.Run(tc.handler.String(), func(t *testing.T) {
			h := serveWith(t, fiberws.Config{QueueSize: tc.queue}, fiberws.Ping("/slow", 200*time.Millisecond, func(ctx context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
				select {
				case <-time.After(tc.handler):
				case <-ctx.Done():
				}
				return "done " + msg, nil
			}))
			c := h.Dial(t, "/slow")
			for i := range tc.n {
				c.SendText(strconv.Itoa(i))
			}
			conn := c.Conn()
			_ = conn.SetReadDeadline(time.Now().Add(time.Duration(tc.n)*tc.handler + c.Timeout()))
			for i := range tc.n {
				_, data, err := conn.ReadMessage()
				if err != nil {
					t.Fatalf("after %d of %d replies (%d pings answered): %v", i, tc.n, c.Pings(), err)
				}
				if got, want := string(data), "done "+strconv.Itoa(i); got != want {
					t.Fatalf("reply %d is %q, want %q", i, got, want)
				}
			}
			if c.Pings() == 0 {
				t.Fatalf("no ping arrived in %d × %v at a 200ms interval", tc.n, tc.handler)
			}
		})
	}
}

// TestPingsCostNoGoroutineEach: the scheduler writes the pings of a tick
// one after the other, not from a goroutine per ping: over a second of
// 30 connections pinged every 50ms, far fewer goroutines are started than
// pings are sent. (Counted with runtime/metrics, Go 1.26 and later.)
func TestPingsCostNoGoroutineEach(t *testing.T) {
	const n = 30
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	if metrics.Read(created); created[0].Value.Kind() != metrics.KindUint64 {
		t.Skip("this Go has no /sched/goroutines-created metric")
	}
	h := serveRoutes(t, fiberws.WebSocket("/hb", echo, patientPing()))
	clients := make([]*fiberwstest.Client, n)
	var readers sync.WaitGroup
	for i := range clients {
		clients[i] = h.Dial(t, "/hb")
		readers.Add(1)
		go func() { // reading answers the pings
			defer readers.Done()
			_, _, _ = clients[i].Conn().ReadMessage()
		}()
	}
	pings := func() (sum int) {
		for _, c := range clients {
			sum += c.Pings()
		}
		return sum
	}
	fiberwstest.Eventually(t, func() bool { // every connection in its ping rhythm
		for _, c := range clients {
			if c.Pings() == 0 {
				return false
			}
		}
		return true
	}, "not every connection pinged yet (%d pings)", fiberwstest.Later(func() any { return pings() }))
	metrics.Read(created)
	goroutinesBefore, pingsBefore := created[0].Value.Uint64(), pings()
	time.Sleep(time.Second) // the window the pings and goroutines are counted over
	metrics.Read(created)
	started, sent := int(created[0].Value.Uint64()-goroutinesBefore), pings()-pingsBefore
	for _, c := range clients {
		c.Drop()
	}
	readers.Wait()
	t.Logf("%d pings, %d goroutines started", sent, started)
	if sent < n*5 {
		t.Fatalf("only %d pings in a second to %d connections at a %v interval", sent, n, pingEvery)
	}
	if started > sent/3 {
		t.Fatalf("%d goroutines started for %d pings", started, sent)
	}
}

// TestPingFloodWithoutReadingIsDropped: a client that floods pings and
// never reads fills its buffers with our pongs; the pong that cannot be
// written within the write timeout drops the connection, instead of the
// server reading its pings for ever with a dead write side.
func TestPingFloodWithoutReadingIsDropped(t *testing.T) {
	const writeTimeout = time.Second
	obs := newRelSummaries()
	h := serveWith(t, fiberws.Config{WriteTimeout: writeTimeout, Observers: []hooks.Observer{obs}}, fiberws.WebSocket("/echo", echo))
	c := h.Dial(t, "/echo")
	conn := c.Conn()
	payload := []byte(strings.Repeat("p", 125))
	start := time.Now()
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		for time.Since(start) < 20*time.Second {
			if conn.WriteControl(websocket.PingMessage, payload, time.Now().Add(c.Timeout())) != nil {
				return // the server dropped us
			}
		}
	}()
	s := obs.next(t)
	t.Logf("dropped after %v: %d %q by %s", time.Since(start).Round(time.Millisecond), s.CloseCode, s.CloseReason, s.ClosedBy)
	if s.ClosedBy != hooks.ByTimeout {
		t.Errorf("closed by %s, want timeout (the pong write)", s.ClosedBy)
	}
	<-flooded
}
