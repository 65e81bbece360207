package fiberws_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

// A client that stops reading: once the socket buffers are full, a Send
// blocks at most Config.WriteTimeout, then the client is dropped and Send
// returns ErrClosed.
func TestSendToStuckClientBoundedByWriteTimeout(t *testing.T) {
	const writeTimeout = 200 * time.Millisecond
	type outcome struct {
		err     error
		longest time.Duration
		sends   int
	}
	done := make(chan outcome, 1)
	cleaned := make(chan struct{})
	h := start(t, fiberws.Config{WriteTimeout: writeTimeout}, ctrl{routes: []fiberws.Route{
		fiberws.WebSocket("/flood", func(_ context.Context, c *fiberws.Conn[[]byte], _ string) ([]byte, error) {
			c.Cleanup(func() { close(cleaned) })
			go func() {
				payload := make([]byte, 64<<10)
				var o outcome
				for o.err == nil && o.sends < 100000 {
					t0 := time.Now()
					o.err = c.Send(payload)
					o.longest = max(o.longest, time.Since(t0))
					o.sends++
				}
				done <- o
			}()
			return nil, nil
		}),
	}})
	c := h.Dial(t, "/flood")
	c.SendText("go") // and never read again
	o := recv(t, done, "Send to fail")
	if !errors.Is(o.err, fiberws.ErrClosed) {
		t.Fatalf("after %d sends: %v, want ErrClosed", o.sends, o.err)
	}
	if o.longest > writeTimeout+time.Second {
		t.Fatalf("a Send blocked %v; the write timeout is %v", o.longest, writeTimeout)
	}
	if !closedWithin(cleaned, fiberwstest.DefaultTimeout) {
		t.Fatal("the stuck client's cleanups did not run")
	}
	t.Logf("%d sends, the longest %v", o.sends, o.longest)
}

// Send never blocks much past the write timeout, however many goroutines
// send at once to a client that reads slowly: waiting for the other
// writers counts toward each Send's own timeout.
func TestConcurrentSendsBoundedByWriteTimeout(t *testing.T) {
	const writeTimeout = time.Second
	// Each frame alone takes about a quarter of the write timeout to get
	// through the slow reader below (at most ~2 MB/s: it sleeps between
	// reads), so the first ones get through even on a loaded machine; one
	// after the other, the last would wait about two timeouts.
	const senders, size = 8, 512 << 10
	type sendResult struct {
		took time.Duration
		err  error
	}
	results := make(chan sendResult, senders)
	app := newApp()
	if err := fiberws.New(fiberws.Config{WriteTimeout: writeTimeout}).Register(app, ctrl{routes: []fiberws.Route{
		fiberws.WebSocket("/big", func(_ context.Context, c *fiberws.Conn[string], _ string) (string, error) {
			payload := strings.Repeat("x", size)
			for range senders {
				go func() {
					start := time.Now()
					err := c.Send(payload)
					results <- sendResult{time.Since(start), err}
				}()
			}
			return "", nil
		}),
	}}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Small socket buffers on both ends, so the kernel does not absorb
	// the frames and the reader's pace is what the writers see.
	srv := fiberwstest.ServeListener(t, app, smallSendBufferListener{ln})
	d := websocket.Dialer{HandshakeTimeout: srv.Timeout, NetDial: func(network, addr string) (net.Conn, error) {
		c, err := net.Dial(network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(32 << 10)
		}
		return c, err
	}}
	conn, _, err := d.Dial(srv.URL("/big"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte("go")); err != nil {
		t.Fatal(err)
	}
	// Read the raw socket slowly, about 2 MB/s.
	var received atomic.Int64
	go func() {
		buf := make([]byte, 64<<10)
		for {
			_ = conn.NetConn().SetReadDeadline(time.Now().Add(srv.Timeout))
			n, err := conn.NetConn().Read(buf)
			received.Add(int64(n))
			if err != nil {
				return
			}
			time.Sleep(15 * time.Millisecond)
		}
	}()
	sent := 0
	for range senders {
		r := recv(t, results, "a Send to return")
		if r.took > writeTimeout+writeTimeout/2 {
			t.Fatalf("a Send blocked %v; the write timeout is %v", r.took, writeTimeout)
		}
		if r.err == nil {
			sent++
		}
		t.Logf("Send: %v after %v", r.err, r.took.Round(time.Millisecond))
	}
	// Not passing by every Send failing at once: the frames did go out,
	// at least the first one in full.
	if sent == 0 {
		t.Fatal("no Send succeeded")
	}
	fiberwstest.Eventually(t, func() bool { return received.Load() >= size }, "the client received %d bytes, want at least one %d-byte frame", fiberwstest.Later(func() any { return received.Load() }), size)
}

type smallSendBufferListener struct{ net.Listener }

func (l smallSendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(32 << 10)
	}
	return c, err
}

// A client that stops reading must not hold up anyone else: not the other
// connections of the same handler, not the goroutine that sends to it for
// longer than WriteTimeout. It is dropped (1006, closed by timeout) once a
// write times out.
func TestSlowConsumerIsDroppedAndBlocksNoOne(t *testing.T) {
	// Long enough that the echoes below run while a write to the slow
	// client is blocked, and that an echo held up by that write (it would
	// take up to writeTimeout) stands out from one slowed by a loaded
	// machine.
	const writeTimeout = 2 * time.Second
	obs := newRelSummaries()
	type sendResult struct {
		sent    int
		blocked time.Duration // how long the failing Send took
		err     error
	}
	slowDone := make(chan sendResult, 1)
	route := fiberws.WebSocket("/feed", func(ctx context.Context, c *fiberws.Conn[*[]byte], msg *[]byte) (*[]byte, error) {
		if msg != nil {
			return msg, nil // echo
		}
		if c.Query("role") == "slow" {
			// The sender: pushes until the client's buffers are full and
			// a write times out.
			go func() {
				chunk := make([]byte, 64<<10)
				var r sendResult
				for range 100000 {
					start := time.Now()
					if err := c.Send(&chunk); err != nil {
						r.blocked, r.err = time.Since(start), err
						break
					}
					r.sent++
				}
				slowDone <- r
			}()
		}
		return nil, nil
	}, fiberws.OnConnect())
	srv, ws := relServe(t, fiberws.Config{WriteTimeout: writeTimeout, Observers: []hooks.Observer{obs}}, route)

	good := srv.Dial(t, "/feed")
	slow := srv.Dial(t, "/feed?role=slow") // never reads
	other := srv.Dial(t, "/feed")
	relWaitConns(t, ws, 3)

	// While the slow client's buffers fill and its writes block, the others
	// get every echo, well within the write timeout a shared stall would
	// cost.
	var worst time.Duration
	for i := range 40 {
		for _, c := range []*fiberwstest.Client{good, other} {
			start := time.Now()
			c.SendBinary([]byte{byte(i)})
			if got := c.ReadBinary(); len(got) != 1 || got[0] != byte(i) {
				t.Fatalf("echo %d: %v", i, got)
			}
			worst = max(worst, time.Since(start))
		}
		time.Sleep(10 * time.Millisecond) // spread the samples over the stuck client's write timeout
	}
	if worst >= writeTimeout/2 {
		t.Fatalf("an echo took %v while another client was stuck (WriteTimeout %v)", worst, writeTimeout)
	}

	r := recv(t, slowDone, "the slow sender")
	if !errors.Is(r.err, fiberws.ErrClosed) {
		t.Fatalf("Send to the slow client: %v, want ErrClosed", r.err)
	}
	if r.blocked > writeTimeout+time.Second {
		t.Fatalf("Send blocked %v, WriteTimeout %v", r.blocked, writeTimeout)
	}
	s := obs.next(t)
	if s.ClosedBy != hooks.ByTimeout || s.CloseCode != fiberws.CloseAbnormalClosure {
		t.Fatalf("slow client summary: %d by %s", s.CloseCode, s.ClosedBy)
	}
	t.Logf("slow consumer: %d chunks of 64 KiB taken before the write timed out after %v; worst echo meanwhile %v", r.sent, r.blocked.Round(time.Millisecond), worst.Round(time.Microsecond))
	slow.Drop()
	good.SendBinary([]byte("still"))
	if string(good.ReadBinary()) != "still" {
		t.Fatal("no echo after the slow client was dropped")
	}
}
