package fiberws_test

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
)

// Tests of partial messages from hostile clients: continuation floods and
// the budget that bounds messages received only in part. The other
// hostile-client tests are with what they test (keepalive_test.go,
// limits_test.go, read_test.go); the attacks that take a whole server
// (file descriptors, memory) are in package attack's tests, against the
// examples.

// frameHeader is the header of a masked client frame (mask key zero, so
// the payload goes as it is): opcode op, FIN when final, n payload bytes.
func frameHeader(op byte, final bool, n int) []byte {
	b0 := op
	if final {
		b0 |= 0x80
	}
	switch {
	case n < 126:
		return []byte{b0, 0x80 | byte(n), 0, 0, 0, 0}
	case n <= 0xffff:
		return []byte{b0, 0x80 | 126, byte(n >> 8), byte(n), 0, 0, 0, 0}
	}
	h := []byte{b0, 0x80 | 127, 0, 0, 0, 0, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
	return append(h, 0, 0, 0, 0)
}

// TestEmptyContinuationFloodIsBounded: a client that starts a message and
// then sends empty continuation frames for ever (the library reads them
// without returning anything to us) is closed once the message has taken
// MessageTimeout, although no idle timeout is set.
func TestEmptyContinuationFloodIsBounded(t *testing.T) {
	const messageTimeout = 300 * time.Millisecond
	obs := newRelSummaries()
	h := serveWith(t, fiberws.Config{MessageTimeout: messageTimeout, CloseTimeout: 200 * time.Millisecond, Observers: []hooks.Observer{obs}},
		fiberws.WebSocket("/echo", echo))
	c := h.Dial(t, "/echo")
	nc := c.Conn().NetConn()
	batch := bytes.Repeat(frameHeader(0x0, false, 0), 4096)
	start := time.Now()
	flooding := make(chan struct{})
	go func() {
		defer close(flooding)
		_ = nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := nc.Write(frameHeader(0x1, false, 0)); err != nil {
			return
		}
		for time.Since(start) < 10*time.Second {
			if _, err := nc.Write(batch); err != nil {
				return // the server dropped us
			}
		}
	}()
	s := obs.next(t)
	elapsed := time.Since(start)
	<-flooding
	t.Logf("closed after %v: %d %q", elapsed.Round(time.Millisecond), s.CloseCode, s.CloseReason)
	if s.CloseCode != fiberws.ClosePolicyViolation || s.CloseReason != fiberws.ReasonMessageTimeout {
		t.Fatalf("summary %d %q, want 1008 %q", s.CloseCode, s.CloseReason, fiberws.ReasonMessageTimeout)
	}
}

// TestPartialMessagesHoldTheBudget: clients that each send all but the
// last byte of a 1 MiB frame and stall hold at most the Server's
// partial-message budget between them: past it, the connections asking
// for more are closed with 1013, and the live heap does not grow by a
// read limit per client. A message that arrives at a normal pace later
// still gets through, by closing a holder that has stalled.
func TestPartialMessagesHoldTheBudget(t *testing.T) {
	const (
		clients = 20
		size    = 1 << 20
		budget  = 4 << 20
	)
	obs := newRelSummaries()
	h := serveWith(t, fiberws.Config{PartialMessageBudget: budget, MessageTimeout: time.Minute, Observers: []hooks.Observer{obs}},
		fiberws.WebSocket("/echo", echo))
	payload := make([]byte, size-1)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range clients {
		c := h.Dial(t, "/echo")
		nc := c.Conn().NetConn()
		_ = nc.SetWriteDeadline(time.Now().Add(h.Timeout))
		if _, err := nc.Write(frameHeader(0x2, true, size)); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if _, err := nc.Write(payload); err != nil && !isReset(err) {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	busy := 0
	for busy < clients-budget/size {
		s := obs.next(t)
		if s.CloseCode != fiberws.CloseTryAgainLater || s.CloseReason != fiberws.ReasonServerBusy {
			t.Fatalf("summary %d %q, want 1013 %q", s.CloseCode, s.CloseReason, fiberws.ReasonServerBusy)
		}
		busy++
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d of %d closed 1013; live heap grew by %d KiB (budget %d KiB)", busy, clients, grew>>10, budget>>10)
	if grew > 2*budget {
		t.Fatalf("live heap grew by %d KiB with a %d KiB budget", grew>>10, budget>>10)
	}

	// The stalled messages have been arriving for over a second: a
	// message that arrives at a normal pace makes room by closing one.
	time.Sleep(1500 * time.Millisecond)
	c := h.Dial(t, "/echo")
	big := strings.Repeat("b", 512<<10)
	c.SendText(big)
	if got := c.ReadText(); got != "echo "+big {
		t.Fatalf("the prompt message got a %d-byte reply", len(got))
	}
	if s := obs.next(t); s.CloseCode != fiberws.CloseTryAgainLater {
		t.Fatalf("the room was made by closing %d %q, want a stalled holder closed 1013", s.CloseCode, s.CloseReason)
	}
}

// isReset reports a write error of a client the server has already
// dropped.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// TestPartialBudgetFitsTheReadLimit: a budget below a route's read limit
// is raised to it, so the largest message a route accepts still gets in
// on an idle server.
func TestPartialBudgetFitsTheReadLimit(t *testing.T) {
	h := serveWith(t, fiberws.Config{ReadLimit: 8 << 20, PartialMessageBudget: 1 << 20}, fiberws.WebSocket("/echo", mirror))
	c := h.Dial(t, "/echo")
	big := strings.Repeat("x", 4<<20)
	c.SendText(big)
	if got := c.ReadText(); got != big {
		t.Fatalf("a 4 MiB message under an 8 MiB read limit came back with %d bytes", len(got))
	}
}

// TestStalledHoldersEvictedWithoutMessageTimeout: with MessageTimeout
// off, stalled partial messages still give way to a message arriving at a
// normal pace once they have been stalled for over a second.
func TestStalledHoldersEvictedWithoutMessageTimeout(t *testing.T) {
	const size = 1 << 20
	obs := newRelSummaries()
	h := serveWith(t, fiberws.Config{MessageTimeout: -1, PartialMessageBudget: 2 * size, Observers: []hooks.Observer{obs}},
		fiberws.WebSocket("/echo", echo))
	payload := make([]byte, size-1)
	for range 2 {
		nc := h.Dial(t, "/echo").Conn().NetConn()
		_ = nc.SetWriteDeadline(time.Now().Add(h.Timeout))
		if _, err := nc.Write(append(frameHeader(0x2, true, size), payload...)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2500 * time.Millisecond) // stalled for over a second (and a sweeper tick)
	c := h.Dial(t, "/echo")
	msg := strings.Repeat("m", 1<<20)
	c.SendText(msg)
	if got := c.ReadText(); got != "echo "+msg {
		t.Fatalf("the prompt message got a %d-byte reply", len(got))
	}
	if s := obs.next(t); s.CloseCode != fiberws.CloseTryAgainLater {
		t.Fatalf("room made by closing %d %q, want a stalled holder closed 1013", s.CloseCode, s.CloseReason)
	}
}
