package fiberws_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
)

// Handlers run on the reader goroutine while they are quick and move
// reading to a second goroutine when one is slow. These tests cross that
// hand-off: order must hold across it, and a handler that blocks must not
// stop the connection from answering pings.

func TestOrderAcrossHandOff(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/ws", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
		if msg == "slow" {
			time.Sleep(20 * time.Millisecond) // well past the inline budget
		}
		return msg, nil
	}))
	c := h.Dial(t, "/ws")
	const n = 50
	for i := 0; i < n; i++ {
		if i == 10 {
			c.SendText("slow")
		}
		c.SendText(strconv.Itoa(i))
	}
	for i := 0; i < n; i++ {
		if i == 10 {
			if got := c.ReadText(); got != "slow" {
				t.Fatalf("reply %d: got %q, want \"slow\"", i, got)
			}
		}
		if got := c.ReadText(); got != strconv.Itoa(i) {
			t.Fatalf("reply %d: got %q", i, got)
		}
	}
}

func TestBlockedHandlerStillAnswersPings(t *testing.T) {
	release := make(chan struct{})
	h := serveRoutes(t, fiberws.WebSocket("/ws", func(ctx context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
		select {
		case <-release:
		case <-ctx.Done():
		case <-time.After(fiberwstest.DefaultTimeout):
		}
		return msg, nil
	}))
	c := h.Dial(t, "/ws")
	conn := c.Conn()
	pong := make(chan struct{}, 1)
	conn.SetPongHandler(func(string) error {
		select {
		case pong <- struct{}{}:
		default:
		}
		return nil
	})
	c.SendText("block")
	if err := conn.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(c.Timeout())); err != nil {
		t.Fatal(err)
	}
	// Pongs are processed while the client reads; the reply arrives only
	// after release, so the pong must come first.
	replies := make(chan string, 1)
	go func() {
		_ = conn.SetReadDeadline(time.Now().Add(2 * c.Timeout()))
		_, data, err := conn.ReadMessage()
		if err != nil {
			replies <- "error: " + err.Error()
			return
		}
		replies <- string(data)
	}()
	recv(t, pong, "the pong while the handler is blocked")
	close(release)
	if got := recv(t, replies, "the reply"); got != "block" {
		t.Fatalf("reply %q", got)
	}
}

// Handlers that are now quick, now past the budget, now just under it,
// with messages pipelined: reading moves between goroutines many times
// (hand-off, hand-back, hand-off while handing back), and every reply
// still comes once, in order.
func TestOrderAcrossRepeatedHandOffs(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/ws", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
		n, _ := strconv.Atoi(msg)
		switch {
		case n%97 == 0:
			time.Sleep(3 * time.Millisecond)
		case n%13 == 0:
			time.Sleep(900 * time.Microsecond)
		case n%5 == 0:
			time.Sleep(50 * time.Microsecond)
		}
		return msg, nil
	}))
	c := h.Dial(t, "/ws")
	const n = 3000
	sent := make(chan error, 1)
	go func() {
		conn := c.Conn()
		_ = conn.SetWriteDeadline(time.Now().Add(c.Timeout()))
		for i := 0; i < n; i++ {
			if err := conn.WriteMessage(websocket.TextMessage, []byte(strconv.Itoa(i))); err != nil {
				sent <- err
				return
			}
			if i%7 == 0 { // now pipelined, now one at a time
				time.Sleep(20 * time.Microsecond)
			}
		}
		sent <- nil
	}()
	for i := 0; i < n; i++ {
		if got := c.ReadText(); got != strconv.Itoa(i) {
			t.Fatalf("reply %d: got %q", i, got)
		}
	}
	if err := recv(t, sent, "the sender"); err != nil {
		t.Fatal(err)
	}
}
