package fiberws_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
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
