package hub

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiberws/fiberws"
)

// member is one connection of the hub, with its bounded outgoing queue.
// The queue is shared by all the rooms the connection is in, so messages
// reach it in the order they were broadcast.
type member struct {
	h *Hub
	r fiberws.Receiver

	// rooms maps each joined room to its membership generation; gen is
	// the last generation handed out. Both are guarded by h.mu.
	rooms map[string]uint64
	gen   uint64

	mu      sync.Mutex
	queue   []*fiberws.PreparedMessage // ring buffer of Config.QueueSize, allocated on first use
	head, n int
	writing bool // a writer goroutine is draining the queue
	stopped bool // left the hub, dropped, or its connection is closing: accept nothing
}

// enqueue adds p to the queue. It never blocks on the socket. It reports
// whether the member now needs a writer (its queue was idle): the caller
// hands it to a drain, usually together with the other members of the same
// broadcast. A full queue drops the member as a slow consumer.
func (m *member) enqueue(p *fiberws.PreparedMessage) (needsWriter bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return false
	}
	if m.queue == nil {
		m.queue = make([]*fiberws.PreparedMessage, m.h.cfg.QueueSize)
	}
	if m.n == len(m.queue) {
		m.stopLocked()
		m.h.writers.Add(1)
		go func() {
			defer m.h.writers.Done()
			// Blocks at most the write timeout when a write is stuck.
			_ = m.r.CloseSlowConsumer()
		}()
		return false
	}
	m.queue[(m.head+m.n)%len(m.queue)] = p
	m.n++
	if m.writing {
		return false
	}
	m.writing = true
	return true
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
		p := m.queue[m.head]
		m.queue[m.head] = nil
		m.head = (m.head + 1) % len(m.queue)
		m.n--
		m.mu.Unlock()

		// SendPrepared is bounded by the write timeout; when a write fails
		// or times out, fiberws drops the connection and we get ErrClosed.
		// Other errors come from post-interceptors and have already gone to
		// the route's catchers, which decided whether the connection stays.
		if err := m.r.SendPrepared(p); errors.Is(err, fiberws.ErrClosed) {
			m.stop()
		}
	}
}

// stallBudget is how long one member's writes may hold up the members
// after it in a drain before another goroutine takes over the rest.
const stallBudget = time.Millisecond

// drain writes the queues of a list of members (those a broadcast woke up)
// one after the other, from one goroutine: a broadcast to N idle members
// costs one goroutine, not N. A member whose socket does not take its
// frames (a slow consumer) must not hold up the others, so each member's
// turn arms a timer: if it is still writing after stallBudget, the timer
// starts another goroutine that continues with the next members. Members
// are taken in order through an atomic index, so each is written by one
// goroutine, and a member's own messages keep their order (one writer per
// member, see member.writing).
type drain struct {
	h      *Hub
	list   []*member
	next   atomic.Int64 // index of the next member to take
	active atomic.Int64 // goroutines of this drain; the last one out calls writers.Done
}

// startDrain writes the queues of list from a new goroutine.
func (h *Hub) startDrain(list []*member) {
	if len(list) == 0 {
		return
	}
	d := &drain{h: h, list: list}
	d.active.Store(1)
	h.writers.Add(1)
	go d.run()
}

func (d *drain) run() {
	var stall *time.Timer
	defer func() {
		if stall != nil {
			stall.Stop()
		}
		if d.active.Add(-1) == 0 {
			d.h.writers.Done()
		}
	}()
	for {
		i := int(d.next.Add(1)) - 1
		if i >= len(d.list) {
			return
		}
		if i+1 < len(d.list) {
			if stall == nil {
				stall = time.AfterFunc(stallBudget, d.spawn)
			} else {
				stall.Reset(stallBudget)
			}
		}
		d.list[i].write()
		if stall != nil {
			stall.Stop()
		}
	}
}

// spawn runs on a stall timer: a member is taking long, so another
// goroutine goes on with the members after it. A late timer finds the
// drain finished (or nothing left to take) and does nothing.
func (d *drain) spawn() {
	for {
		a := d.active.Load()
		if a == 0 || int(d.next.Load()) >= len(d.list) {
			return
		}
		if d.active.CompareAndSwap(a, a+1) {
			go d.run()
			return
		}
	}
}

// restart makes a member that left its last room accept messages again,
// when it joins a room anew.
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
	clear(m.queue)
	m.head, m.n = 0, 0
}
