package hub

import (
	"errors"
	"sync"

	"github.com/fiberws/fiberws"
)

// member is one connection of the hub, with its bounded outgoing queue.
// The queue is shared by all the rooms the connection is in, so messages
// reach it in the order they were broadcast.
type member struct {
	h *Hub
	s *fiberws.Session

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

// enqueue adds p to the queue, starting the writer if none runs. It never
// blocks on the socket. A full queue drops the member as a slow consumer.
func (m *member) enqueue(p *fiberws.PreparedMessage) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return
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
			_ = m.s.CloseSlowConsumer()
		}()
		return
	}
	m.queue[(m.head+m.n)%len(m.queue)] = p
	m.n++
	if !m.writing {
		m.writing = true
		m.h.writers.Add(1)
		go m.write()
	}
}

// write drains the queue and exits when it is empty.
func (m *member) write() {
	defer m.h.writers.Done()
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
		if err := m.s.SendPrepared(p); errors.Is(err, fiberws.ErrClosed) {
			m.stop()
		}
	}
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
