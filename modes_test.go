package fiberws_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

func TestTwoMessagesEchoedInOrder(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/messages", echo))
	c := h.Dial(t, "/messages")
	c.SendText("first")
	c.SendText("second")
	if got := c.ReadText(); got != "echo first" {
		t.Fatalf("got %q, want echo first", got)
	}
	if got := c.ReadText(); got != "echo second" {
		t.Fatalf("got %q, want echo second", got)
	}
}

// Handlers that take different times still answer in arrival order.
func TestRepliesKeepArrivalOrder(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/m", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
		n, _ := strconv.Atoi(msg)
		time.Sleep(time.Duration(n%3) * time.Millisecond)
		return msg, nil
	}))
	c := h.Dial(t, "/m")
	const n = 100
	for i := range n {
		c.SendText(strconv.Itoa(i))
	}
	for i := range n {
		if got := c.ReadText(); got != strconv.Itoa(i) {
			t.Fatalf("reply %d is %q", i, got)
		}
	}
}

// The revali "async" handler: it takes a second. Meanwhile the connection
// answers the client's ping, and a second message is answered after the
// first, in order.
func TestOneSecondAsyncHandler(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/async", func(ctx context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
		if msg == "slow" {
			select {
			case <-time.After(time.Second):
			case <-ctx.Done():
				return "", ctx.Err()
			}
		}
		return "Processed: " + msg, nil
	}))
	c := h.Dial(t, "/async")
	pong := make(chan time.Time, 1)
	c.Conn().SetPongHandler(func(string) error {
		select {
		case pong <- time.Now():
		default:
		}
		return nil
	})

	start := time.Now()
	c.SendText("slow")
	if err := c.Conn().WriteControl(websocket.PingMessage, []byte("are you there"), time.Now().Add(c.Timeout())); err != nil {
		t.Fatal(err)
	}
	c.SendText("fast")

	if got := c.ReadText(); got != "Processed: slow" {
		t.Fatalf("first reply %q", got)
	}
	first := time.Since(start)
	if got := c.ReadText(); got != "Processed: fast" {
		t.Fatalf("second reply %q", got)
	}
	if first < time.Second {
		t.Fatalf("first reply after %v, want the handler's full second", first)
	}
	var pongAt time.Time
	select {
	case pongAt = <-pong:
	default:
		t.Fatal("the client's ping was never answered")
	}
	if d := pongAt.Sub(start); d > 500*time.Millisecond {
		t.Fatalf("pong came %v after the ping: it waited for the slow handler", d)
	}
}

func TestReceiveOnlyNeverReplies(t *testing.T) {
	got := make(chan string, 8)
	h := serveRoutes(t, fiberws.ReceiveOnly("/logs", func(_ context.Context, _ *fiberws.Session, msg string) error {
		got <- msg
		return nil
	}))
	c := h.Dial(t, "/logs")
	for _, m := range []string{"one", "two", "three"} {
		c.SendText(m)
	}
	for _, want := range []string{"one", "two", "three"} {
		if m := recv(t, got, "a message at the handler"); m != want {
			t.Fatalf("handler got %q, want %q", m, want)
		}
	}
	c.ExpectSilence(200 * time.Millisecond)
}

func TestReceiveOnlyError(t *testing.T) {
	h := serveRoutes(t, fiberws.ReceiveOnly("/logs", func(_ context.Context, _ *fiberws.Session, msg string) error {
		return &fiberws.CloseError{Code: 4400, Reason: "bad log line"}
	}))
	c := h.Dial(t, "/logs")
	c.SendText("x")
	if code, reason := c.ExpectClose(); code != 4400 || reason != "bad log line" {
		t.Fatalf("closed with %d %q", code, reason)
	}
}

func TestSendOnlyClosesAfterResult(t *testing.T) {
	h := serveRoutes(t, fiberws.SendOnly("/notify", func(_ context.Context, c *fiberws.Conn[string]) (string, error) {
		// Sent through the Conn while the handler runs: delivered first.
		if err := c.Send("early 1"); err != nil {
			return "", err
		}
		if err := c.Send("early 2"); err != nil {
			return "", err
		}
		return "Server notification", nil
	}))
	c := h.Dial(t, "/notify")
	msgs, code, reason := c.ReadUntilClose()
	want := []string{"early 1", "early 2", "Server notification"}
	if fmt.Sprint(msgs) != fmt.Sprint(want) {
		t.Fatalf("messages %q, want %q", msgs, want)
	}
	if code != fiberws.CloseNormalClosure {
		t.Fatalf("closed with %d %q, want 1000", code, reason)
	}
}

func TestSendOnlyJSONResult(t *testing.T) {
	h := serveRoutes(t, fiberws.SendOnly("/status", func(_ context.Context, c *fiberws.Conn[reply]) (reply, error) {
		return reply{Line: "up", Count: 3}, nil
	}))
	c := h.Dial(t, "/status")
	msgs, code, _ := c.ReadUntilClose()
	if len(msgs) != 1 || msgs[0] != `{"line":"up","count":3}` || code != 1000 {
		t.Fatalf("got %q and close %d", msgs, code)
	}
}

// Incoming data on a send-only route is read and discarded; it does not
// reach the handler (which has no body) nor stop the close.
func TestSendOnlyDrainsIncoming(t *testing.T) {
	release := make(chan struct{})
	h := serveRoutes(t, fiberws.SendOnly("/notify", func(ctx context.Context, c *fiberws.Conn[string]) (string, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return "done", nil
	}))
	c := h.Dial(t, "/notify")
	for i := range 20 {
		c.SendText("ignored " + strconv.Itoa(i))
	}
	close(release)
	msgs, code, _ := c.ReadUntilClose()
	if len(msgs) != 1 || msgs[0] != "done" || code != 1000 {
		t.Fatalf("got %q and close %d, want [done] and 1000", msgs, code)
	}
}

func TestSendOnlyStreamClosesAfterLastElement(t *testing.T) {
	h := serveRoutes(t, fiberws.SendOnlyStream("/count", func(_ context.Context, _ *fiberws.Conn[int]) (iter.Seq[int], error) {
		return func(yield func(int) bool) {
			for i := 1; i <= 5; i++ {
				if !yield(i) {
					return
				}
			}
		}, nil
	}))
	c := h.Dial(t, "/count")
	msgs, code, reason := c.ReadUntilClose()
	if fmt.Sprint(msgs) != "[1 2 3 4 5]" {
		t.Fatalf("messages %q", msgs)
	}
	if code != fiberws.CloseNormalClosure {
		t.Fatalf("closed with %d %q, want 1000", code, reason)
	}
}

func TestSendOnlyErrorCloses1011Not1000(t *testing.T) {
	h := serveRoutes(t, fiberws.SendOnly("/fail", func(context.Context, *fiberws.Conn[string]) (string, error) {
		return "never sent", fmt.Errorf("backend down")
	}))
	c := h.Dial(t, "/fail")
	msgs, code, reason := c.ReadUntilClose()
	if len(msgs) != 0 || code != fiberws.CloseInternalError || reason != "internal error" {
		t.Fatalf("got %q and %d %q, want nothing and 1011 internal error", msgs, code, reason)
	}
}

func TestTwoWayStream(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocketStream("/spell", func(_ context.Context, _ *fiberws.Conn[string], msg string) (iter.Seq[string], error) {
		return func(yield func(string) bool) {
			for _, r := range msg {
				if !yield(string(r)) {
					return
				}
			}
		}, nil
	}))
	c := h.Dial(t, "/spell")
	c.SendText("abc")
	c.SendText("dé")
	var got []string
	for range 5 {
		got = append(got, c.ReadText())
	}
	if fmt.Sprint(got) != "[a b c d é]" {
		t.Fatalf("got %q", got)
	}
}

// An endless stream stops iterating once the client leaves.
func TestStreamStopsWhenConnectionCloses(t *testing.T) {
	stopped := make(chan struct{})
	var sent atomic.Int64
	h := serveRoutes(t, fiberws.SendOnlyStream("/forever", func(_ context.Context, _ *fiberws.Conn[int]) (iter.Seq[int], error) {
		return func(yield func(int) bool) {
			defer close(stopped)
			for i := 0; ; i++ {
				if !yield(i) {
					return
				}
				sent.Add(1)
				time.Sleep(time.Millisecond)
			}
		}, nil
	}))
	c := h.Dial(t, "/forever")
	for i := range 3 {
		if got := c.ReadText(); got != strconv.Itoa(i) {
			t.Fatalf("element %d is %q", i, got)
		}
	}
	c.Drop()
	if !closedWithin(stopped, fiberwstest.DefaultTimeout) {
		t.Fatalf("the stream kept iterating after the client left (%d sent)", sent.Load())
	}
	h.waitIdle(t)
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

// A send-only connection ends after its one run, whatever that run's fate:
// dropped by a pre-interceptor, or an error a catcher answered with a reply.
func TestSendOnlyClosesWhenItsRunIsDroppedOrCaught(t *testing.T) {
	drop := hooks.PreFunc(func(context.Context, hooks.Peer, *hooks.Message) error { return hooks.ErrDrop })
	keepOpen := hooks.CatcherFunc(func(context.Context, hooks.Peer, error) (hooks.Outcome, bool) {
		return hooks.Reply("caught"), true
	})
	h := serveRoutes(t,
		fiberws.SendOnly("/dropped", func(context.Context, *fiberws.Conn[string]) (string, error) {
			return "never sent", nil
		}, fiberws.WithInterceptors(drop)),
		fiberws.SendOnly("/caught", func(context.Context, *fiberws.Conn[string]) (string, error) {
			return "", errors.New("boom")
		}, fiberws.WithCatchers(keepOpen)),
	)
	if msgs, code, _ := h.Dial(t, "/dropped").ReadUntilClose(); len(msgs) != 0 || code != fiberws.CloseNormalClosure {
		t.Fatalf("dropped run: got %q and close %d, want nothing and 1000", msgs, code)
	}
	if msgs, code, _ := h.Dial(t, "/caught").ReadUntilClose(); len(msgs) != 1 || msgs[0] != "caught" || code != fiberws.CloseNormalClosure {
		t.Fatalf("caught run: got %q and close %d, want [caught] and 1000", msgs, code)
	}
}
