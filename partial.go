package fiberws

import (
	"errors"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/msgbuf"
)

// Messages still arriving, the time and the memory they may take:
//
//   - time: a message must be complete within Config.MessageTimeout of its
//     first frame, whatever IdleTimeout says; the Server's sweeper
//     (sweep.go) closes the connections whose message is late with 1008
//     "message timeout". It also bounds a message made of endless empty
//     continuation frames, which the library reads without ever returning
//     one to us;
//   - memory: growing a message buffer past msgbuf.MaxPooled takes from a
//     budget shared by the Server's connections
//     (Config.PartialMessageBudget). When it runs out, the connections
//     holding most among those whose message has been arriving for over a
//     second (staleAfter) are closed with 1013 "server busy", to make room;
//     without such a one the connection asking is closed instead. So a
//     thousand clients that each send all but the last byte of a large
//     frame hold the budget, not a thousand times the read limit, and a
//     message that arrives at a normal pace still gets through them.

// ReasonMessageTimeout and ReasonServerBusy are the close reasons of a
// message not complete within Config.MessageTimeout (1008) and of a
// connection closed to keep the partial-message budget (1013).
const (
	ReasonMessageTimeout = "message timeout"
	ReasonServerBusy     = "server busy"
)

var errPartialBudget = errors.New("fiberws: partial-message budget exhausted")

// staleAfter is how long a message must have been arriving before its
// connection may be closed to make room in the partial-message budget.
const staleAfter = time.Second

// partialBudget is the bytes the Server's messages still arriving may hold
// beyond their first msgbuf.MaxPooled.
type partialBudget struct {
	limit   int64
	mu      sync.Mutex
	total   int64
	holders map[*Session]int64
}

// take reserves n more bytes for s. Over the budget, it closes the
// largest holders whose message has been arriving for over staleAfter
// until n fits, and refuses when none is left, or when s alone would not
// fit. Messages are stamped with the sweeper's coarse clock, a tick old at
// most, so a holder counts as stale only one tick later.
func (b *partialBudget) take(s *Session, n int64, tick time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holders[s]+n > b.limit {
		return false
	}
	now := time.Now().UnixNano()
	for b.total+n > b.limit {
		var victim *Session
		var most int64
		for h, held := range b.holders {
			if since := h.msgSince.Load(); h != s && held > most && since != 0 && now-since > int64(staleAfter+tick) {
				victim, most = h, held
			}
		}
		if victim == nil {
			return false
		}
		// The victim no longer counts from now, so one eviction frees
		// room at once; evict makes its reader let go of the memory.
		b.total -= most
		delete(b.holders, victim)
		go victim.evict()
	}
	b.total += n
	b.holders[s] += n
	return true
}

// give returns what s holds, once its message is complete or abandoned.
func (b *partialBudget) give(s *Session) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if held, ok := b.holders[s]; ok { // not if it was evicted
		b.total -= held
		delete(b.holders, s)
	}
}

// growMessage is the msgbuf.Buf grow func of the reader: it doubles the
// buffer, within the read limit, taking from the partial-message budget
// what goes past msgbuf.MaxPooled.
func (s *Session) growMessage(m *msgbuf.Buf) error {
	c := max(2*cap(m.B), msgbuf.Initial)
	if limit := int(s.route.readLimit) + 1; c > limit {
		c = max(limit, cap(m.B)+1)
	}
	if c > msgbuf.MaxPooled {
		if s.state.Load() != stateOpen {
			// Closing (evicted, or late): the rest of the message is not
			// worth memory; the reader discards it.
			return errPartialBudget
		}
		n := int64(c - max(cap(m.B), msgbuf.MaxPooled))
		if !s.route.srv.partial.take(s, n, sweepTick(s.route.srv.cfg.MessageTimeout)) {
			return errPartialBudget
		}
		s.partialHeld = true
	}
	m.GrowTo(c)
	return nil
}

// messageDone returns what the message read took from the budget.
func (s *Session) messageDone() {
	s.msgSince.Store(0)
	if s.partialHeld {
		s.partialHeld = false
		s.route.srv.partial.give(s)
	}
}

// evict closes a connection whose partial message is dropped to make
// room: 1013 "server busy", the close frame sent if the socket is free at
// once, and reading cut short now, so that its reader lets go of the
// message's memory without waiting for the client.
func (s *Session) evict() {
	if !s.markClosing(CloseTryAgainLater, ReasonServerBusy, hooks.ByServer, errPartialBudget) {
		return
	}
	if s.writeMu.TryLock() {
		if !s.released {
			msg := websocket.FormatCloseMessage(CloseTryAgainLater, ReasonServerBusy)
			_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(100*time.Millisecond))
		}
		s.writeMu.Unlock()
	}
	_ = s.tcp.SetReadDeadline(time.Now())
}

// fitPartialBudget raises the partial-message budget to hold at least the
// largest message a mounted route accepts: a budget below a read limit
// would refuse such a message even on an idle server.
func (srv *Server) fitPartialBudget(mounts []*mountedRoute) {
	srv.partial.mu.Lock()
	defer srv.partial.mu.Unlock()
	for _, m := range mounts {
		srv.partial.limit = max(srv.partial.limit, m.readLimit+msgbuf.MaxPooled)
	}
}
