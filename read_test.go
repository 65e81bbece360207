package fiberws_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

// TestProtocolErrorRecordedAsSent: the library closes a connection whose
// client breaks the protocol with 1002 and its reason; the observers see
// that, closed by the server, not a 1006 by the client.
func TestProtocolErrorRecordedAsSent(t *testing.T) {
	obs := newRelSummaries()
	h := serveWith(t, fiberws.Config{Observers: []hooks.Observer{obs}}, fiberws.WebSocket("/echo", echo))
	c := h.Dial(t, "/echo")
	// A masked frame with the reserved opcode 3 and no payload.
	if _, err := c.Conn().NetConn().Write([]byte{0x83, 0x80, 0, 0, 0, 0}); err != nil {
		t.Fatal(err)
	}
	code, reason := c.ExpectClose()
	if code != fiberws.CloseProtocolError {
		t.Fatalf("client got %d %q, want 1002", code, reason)
	}
	s := obs.next(t)
	if s.CloseCode != fiberws.CloseProtocolError || s.ClosedBy != hooks.ByServer || !strings.Contains(s.CloseReason, "bad opcode") {
		t.Fatalf("summary %d %q by %s, want 1002 \"bad opcode 3\" by server", s.CloseCode, s.CloseReason, s.ClosedBy)
	}
	// An unmasked client frame: "bad MASK" (the library's wording is what
	// tells protocol errors apart; a new wording must fail here).
	c = h.Dial(t, "/echo")
	if _, err := c.Conn().NetConn().Write([]byte{0x81, 0x02, 'h', 'i'}); err != nil {
		t.Fatal(err)
	}
	if code, reason := c.ExpectClose(); code != fiberws.CloseProtocolError {
		t.Fatalf("client got %d %q, want 1002", code, reason)
	}
	if s := obs.next(t); s.CloseCode != fiberws.CloseProtocolError || !strings.Contains(s.CloseReason, "bad MASK") {
		t.Fatalf("summary %d %q, want 1002 \"bad MASK\"", s.CloseCode, s.CloseReason)
	}
}

// A flooding client against a blocked handler: the server stops reading
// once QueueSize messages wait, so TCP back-pressure stalls the client.
// The listening socket's receive buffer and the client's send buffer are
// kept small so the kernel cannot hide an unbounded server-side queue.
func TestSlowHandlerBoundsQueuedMessages(t *testing.T) {
	// The count bound: two messages may wait.
	floodSlowHandler(t, fiberws.Config{QueueSize: 2}, 2)
}

func TestSlowHandlerBoundsQueuedBytes(t *testing.T) {
	// The byte bound: room for 100 messages, but 128 KiB hold two of 64 KiB
	// (the one at the handler included).
	floodSlowHandler(t, fiberws.Config{QueueSize: 100, QueueBytes: 128 << 10}, 2)
}

// floodSlowHandler floods a route whose handler blocks, and checks that
// the server stops reading once about queue messages wait, then delivers
// every message in order once the handler is released.
func floodSlowHandler(t *testing.T, cfg fiberws.Config, queue int) {
	const (
		size  = 64 << 10 // bytes per message
		total = 200      // 12.5 MiB: far more than the kernel buffers hold
		// Messages the client may get out while the handler is blocked:
		// the queue, the one at the handler, the one the reader holds,
		// plus what the (small) socket buffers hold on both sides.
		slack = 1 << 20
	)
	maxAhead := int64(queue + 2 + slack/size)
	release := make(chan struct{})
	var seen atomic.Int64
	order := make(chan int, total)
	app := newApp()
	logger, _ := fiberwstest.NewLog(t)
	cfg.Logger = logger
	wsrv := fiberws.New(cfg)
	if err := wsrv.Register(app, ctrl{routes: []fiberws.Route{
		fiberws.ReceiveOnly("/flood", func(ctx context.Context, _ *fiberws.Session, msg []byte) error {
			seen.Add(1)
			n, _ := strconv.Atoi(string(msg[:8]))
			order <- n
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}),
	}}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := fiberwstest.ServeListener(t, app, smallBufferListener{ln}).Addr

	d := websocket.Dialer{HandshakeTimeout: fiberwstest.DefaultTimeout, WriteBufferSize: 4096}
	conn, _, err := d.Dial("ws://"+addr+"/flood", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.NetConn().(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(32 << 10)
	}

	var written atomic.Int64
	writerDone := make(chan error, 1)
	go func() {
		payload := make([]byte, size)
		for i := range total {
			copy(payload, fmt.Sprintf("%08d", i))
			_ = conn.SetWriteDeadline(time.Now().Add(2 * fiberwstest.DefaultTimeout))
			if err := conn.WriteMessage(websocket.BinaryMessage, payload); err != nil {
				writerDone <- err
				return
			}
			written.Add(1)
		}
		writerDone <- nil
	}()

	// Wait for the writes to stall: no progress for 300ms once the handler
	// holds the first message.
	last, lastChange := int64(-1), time.Now()
	deadline := time.Now().Add(fiberwstest.DefaultTimeout)
	for {
		n := written.Load()
		if n == total {
			close(release)
			t.Fatalf("the client wrote all %d messages (%d MiB) while the handler was blocked: reading never paused", total, total*size>>20)
		}
		if n != last {
			last, lastChange = n, time.Now()
		} else if time.Since(lastChange) > 300*time.Millisecond && seen.Load() > 0 {
			break
		}
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("no stall within %v (%d written)", fiberwstest.DefaultTimeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stalledAt := written.Load()
	if s := seen.Load(); s != 1 {
		t.Errorf("the blocked handler has seen %d messages, want 1", s)
	}
	if stalledAt > maxAhead {
		t.Errorf("the client got %d messages out before stalling; the server should hold at most %d (queue %d)", stalledAt, maxAhead, queue)
	}
	t.Logf("writes stalled after %d messages of %d KiB (queue %d)", stalledAt, size>>10, queue)

	// Released, the handler takes every message, in order: nothing lost.
	close(release)
	if err := recv(t, writerDone, "the writer to finish"); err != nil {
		t.Fatalf("write: %v", err)
	}
	for i := range total {
		if n := recv(t, order, fmt.Sprintf("message %d at the handler", i)); n != i {
			t.Fatalf("handler got message %d, want %d", n, i)
		}
	}
}

// smallBufferListener shrinks each accepted socket's receive buffer.
type smallBufferListener struct{ net.Listener }

func (l smallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(32 << 10)
	}
	return c, err
}
