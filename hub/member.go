package hub

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/internal/drain"
)

// member is one connection of the hub, with its outgoing queue. The queue
// is shared by all the rooms the connection is in, so messages reach it in
// the order they were queued.
//
// The queue is bounded in bytes (Config.QueueBytes), not in messages: a
// burst of small messages to a reader that keeps up only makes the queue
// longer for a moment. Publishers wait (BroadcastPrepared, SendPrepared) while a member
// holds more than half the budget, until it is down to a quarter; a member
// is a slow consumer when its queue would exceed the budget, or when its
// writer has completed no write for the connection's write timeout.
type member struct {
	h   *Hub
	r   fiberws.Receiver
	id  string // Hub.MemberID
	cfg *Config

	// rooms maps each joined room to the membership; gen is the last
	// generation handed out. Both are guarded by h.mu.
	rooms map[string]membership
	gen   uint64

	mu      sync.Mutex
	queue   []entry // ring buffer, grown as needed
	head, n int
	queued  int64 // bytes held for this member: queued messages and the one being written
	writing bool  // a drain is writing the queue
	stopped bool  // left the hub, dropped, or its connection is closing: accept nothing
	// held keeps the writer from starting while a greeting is prepared
	// (Join with WithGreeting): what arrives meanwhile waits behind it.
	held int
	// progress is when the writer last got anywhere: it was woken, or
	// started or completed a write; writing is the size of the write in
	// progress (0: between writes). See draining.
	progress time.Time
	inFlight int
	// drained, when a publisher waits, is closed once the queue is back
	// at a quarter of the budget, or the member stopped.
	drained chan struct{}
	// skip holds, per room, the Seq of a greeting's last history message
	// while messages up to it may still arrive live: a message can be in
	// the history and on its way at once. A room's messages arrive in
	// order, so the first one past it ends the skip.
	skip map[string]uint64
}

// entryOverhead is what one prepared message costs in memory beyond its
// payload (the PreparedMessage, its frame cache, the queue slot), so that
// a flood of small messages is bounded by what it really holds.
const entryOverhead = 512

// stuckAfter is how long a member's writer may go without progress (beyond
// the time its write in progress takes at Config.MinReadRate) before the
// member counts as not draining.
const stuckAfter = 250 * time.Millisecond

// drainBudget is how long one member's write may hold up the members after
// it in a drain before another goroutine takes over the rest.
const drainBudget = time.Millisecond

// membership is a member's place in one room: its generation (so that a
// stale leave func does nothing) and its presence data, when it joined
// WithPresence.
type membership struct {
	gen      uint64
	presence []byte
	present  bool
}

// entry is one queued message, with its room and history Seq (zero for
// one sent to this member alone, or not kept).
type entry struct {
	p    *fiberws.PreparedMessage
	seq  uint64
	room string
}

func newMember(h *Hub, r fiberws.Receiver) *member {
	return &member{h: h, r: r, id: h.MemberID(r), cfg: &h.cfg, rooms: map[string]membership{}}
}

// cost is what queueing p holds in memory, about: its payload twice (as
// encoded and as framed) and the overhead.
func cost(p *fiberws.PreparedMessage) int64 { return 2*int64(len(p.Data())) + entryOverhead }

// enqueue adds p to the queue. It never blocks on the socket. needsWriter
// reports that the member's queue was idle: the caller hands it to a
// drain, usually together with the other members of the same broadcast.
// pressed reports that the member now holds more than half its budget, so
// the publisher should wait for it (waitDrained). A queue that would go
// over the budget drops the member as a slow consumer (a single message
// larger than the whole budget still gets into an empty queue).
func (m *member) enqueue(p *fiberws.PreparedMessage, seq uint64, room string) (needsWriter, pressed bool) {
	c := cost(p)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return false, false
	}
	if last, ok := m.skip[room]; ok && seq != 0 {
		if seq <= last {
			return false, false // the greeting's history had it, or a later one
		}
		delete(m.skip, room)
	}
	if m.queued > 0 && m.queued+c > m.cfg.QueueBytes {
		m.dropLocked()
		return false, false
	}
	if m.n == len(m.queue) {
		m.grow()
	}
	m.queue[(m.head+m.n)%len(m.queue)] = entry{p, seq, room}
	m.n++
	m.queued += c
	pressed = m.queued > m.cfg.QueueBytes/2
	if m.writing || m.held > 0 {
		return false, pressed
	}
	m.writing = true
	m.progress = time.Now()
	return true, pressed
}

func (m *member) grow() {
	size := max(2*len(m.queue), 16)
	q := make([]entry, size)
	for i := range m.n {
		q[i] = m.queue[(m.head+i)%len(m.queue)]
	}
	m.queue, m.head = q, 0
}

// dropLocked stops the member and closes its connection as a slow
// consumer, on a goroutine of its own: the close frame waits for the
// write lock, at most the connection's write timeout.
func (m *member) dropLocked() {
	m.stopLocked()
	m.h.slowConsumers.Add(1)
	m.h.writers.Add(1)
	go func() {
		defer m.h.writers.Done()
		_ = m.r.CloseSlowConsumer()
	}()
}

// draining reports whether the member keeps taking its messages: its
// writer has made progress within stuckAfter, plus the time the write in
// progress takes at Config.MinReadRate. Publishers wait only for members
// that are draining; one that is not can still catch up, or fills its
// queue past the budget and is dropped. Call with m.mu held.
func (m *member) draining(now time.Time) (bool, time.Duration) {
	if m.held > 0 {
		return false, 0 // being greeted: its queue waits for the greeting, not for a reader
	}
	if !m.writing {
		return true, stuckAfter
	}
	window := stuckAfter + time.Duration(int64(m.inFlight)*int64(time.Second)/m.cfg.MinReadRate)
	left := window - now.Sub(m.progress)
	return left > 0, left
}

// write drains the queue and returns when it is empty.
func (m *member) write() {
	for {
		m.mu.Lock()
		if m.n == 0 || m.stopped {
			m.writing = false
			m.mu.Unlock()
			return
		}
		p := m.queue[m.head].p
		m.queue[m.head] = entry{}
		m.head = (m.head + 1) % len(m.queue)
		m.n--
		m.progress, m.inFlight = time.Now(), len(p.Data())
		m.mu.Unlock()

		// Bounded by the write timeout: a write that times out closes the
		// connection as a slow consumer and returns ErrClosed.
		err := m.r.SendPrepared(p)

		m.mu.Lock()
		m.progress, m.inFlight = time.Now(), 0
		m.queued -= cost(p)
		if m.drained != nil && m.queued <= m.cfg.QueueBytes/4 {
			close(m.drained)
			m.drained = nil
		}
		m.mu.Unlock()
		switch {
		case errors.Is(err, fiberws.ErrClosed):
			m.stop()
		case err != nil:
			// A post-interceptor's error: there is no handler to return it
			// to, so it goes to the connection's catchers, on a goroutine
			// of their own (a catcher that broadcasts must not wait for
			// this very writer).
			m.h.writers.Add(1)
			go func() {
				defer m.h.writers.Done()
				m.r.Fail(err)
			}()
		}
	}
}

// waitDrained holds a publisher while the member holds more than a
// quarter of its budget and is draining; it returns when the member is
// below that, stops, stops draining, or ctx is done.
func (m *member) waitDrained(ctx context.Context) {
	m.mu.Lock()
	for m.queued > m.cfg.QueueBytes/4 && !m.stopped {
		ok, wait := m.draining(time.Now())
		if !ok {
			break // not keeping up: the budget, or its write timeout, deals with it
		}
		if m.drained == nil {
			m.drained = make(chan struct{})
		}
		drained := m.drained
		m.mu.Unlock()
		t := time.NewTimer(wait)
		select {
		case <-drained:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
		t.Stop()
		m.mu.Lock()
	}
	m.mu.Unlock()
}

// startDrain writes the queues of list, one member after the other, from
// one new goroutine; a member whose socket does not take its frames hands
// the rest to another goroutine after drainBudget (package drain). Each
// member has one writer at a time (member.writing), so its own messages
// keep their order.
func (h *Hub) startDrain(list []*member) {
	if len(list) == 0 {
		return
	}
	h.writers.Add(1)
	drain.Start(list, drainBudget, (*member).write, h.writers.Done)
}

// restart makes a member that left its last room accept messages again,
// when it joins a room anew. Call with h.mu held.
func (m *member) restart() {
	m.mu.Lock()
	m.stopped = false
	m.mu.Unlock()
}

// stop makes the member accept nothing more and discards its queue.
func (m *member) stop() {
	m.mu.Lock()
	m.stopLocked()
	m.mu.Unlock()
}

func (m *member) stopLocked() {
	m.stopped = true
	for i := range m.n {
		m.queued -= cost(m.queue[(m.head+i)%len(m.queue)].p)
	}
	clear(m.queue)
	m.head, m.n = 0, 0
	m.skip = nil
	if m.drained != nil {
		close(m.drained)
		m.drained = nil
	}
}

// hold keeps the writer from starting until release: Join prepares a
// greeting meanwhile.
func (m *member) hold() {
	m.mu.Lock()
	m.held++
	m.mu.Unlock()
}

// release puts greeting (if any) before everything queued while held,
// drops the messages of room queued meanwhile that the greeting's history
// had (Seq up to last), keeps dropping them should more still arrive, and
// lets the writer go; it reports whether the member now needs a writer.
func (m *member) release(greeting *fiberws.PreparedMessage, room string, last uint64) (needsWriter bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.held--
	if m.stopped {
		return false
	}
	if greeting != nil || last > 0 {
		kept := make([]entry, 0, m.n+1)
		if greeting != nil {
			kept = append(kept, entry{p: greeting})
			m.queued += cost(greeting)
		}
		past := false // a message of room after last came: no more of the history will
		for i := range m.n {
			e := m.queue[(m.head+i)%len(m.queue)]
			if e.room == room && e.seq != 0 && !past {
				if e.seq <= last {
					m.queued -= cost(e.p)
					continue
				}
				past = true
			}
			kept = append(kept, e)
		}
		if last > 0 && !past {
			if m.skip == nil {
				m.skip = map[string]uint64{}
			}
			m.skip[room] = last
		}
		m.queue, m.head, m.n = kept[:cap(kept)], 0, len(kept)
		if len(m.queue) == 0 {
			m.queue = nil
		}
	}
	if m.held > 0 || m.writing || m.n == 0 {
		return false
	}
	m.writing = true
	m.progress = time.Now()
	return true
}
