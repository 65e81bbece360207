package hub

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync"

	"github.com/fiberws/fiberws"
)

// ErrClosed is returned by Publish, Broadcast, SendTo and Send after Close.
var ErrClosed = errors.New("hub: closed")

// ErrNotMember is returned by SendTo and Send for a connection that is in
// no room of the hub.
var ErrNotMember = errors.New("hub: not a member")

// Hub keeps rooms of connections and broadcasts to them. Create one with
// New, usually one per app, and share it between routes; all methods are
// safe for concurrent use.
type Hub struct {
	id     string
	cfg    Config
	broker Broker

	mu      sync.Mutex
	rooms   map[string]*room
	members map[uint64]*member // by connection ID; a member stays until its connection closes
	closed  bool

	// writers counts the goroutines the hub started (queue writers and
	// slow-consumer closes); Close waits for them. They are only started
	// under h.mu with closed unset, or under a room's read lock while the
	// room has members, so none starts once Close is waiting.
	writers sync.WaitGroup
}

// room is the local membership of one room and its broker subscription.
type room struct {
	name    string
	mu      sync.RWMutex
	members map[*member]struct{}
	cancel  func()
}

// New creates a Hub. Zero fields of config take ConfigDefault's values.
func New(config ...Config) *Hub {
	cfg := configDefault(config...)
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Hub{
		id:      hex.EncodeToString(id[:]),
		cfg:     cfg,
		broker:  cfg.Broker,
		rooms:   map[string]*room{},
		members: map[uint64]*member{},
	}
}

// ID is this hub's random identifier, the Origin of the envelopes it
// publishes.
func (h *Hub) ID() string { return h.id }

// Join adds the connection c (any *fiberws.Conn[T]: a receive-only
// route's connection cannot receive) to room and returns a func that
// removes it again. Calling Join again for a room c is already in changes
// nothing and returns a working leave func. The connection leaves all its
// rooms by itself when it closes (through Session.Cleanup), so calling
// leave is only needed to leave a room while staying connected. leave is
// idempotent.
//
// Joining a closed hub, or with a connection that is already closed, does
// nothing. It returns an error only when the broker cannot subscribe to
// the room; c has then not joined.
func (h *Hub) Join(roomName string, c fiberws.Receiver) (leave func(), err error) {
	noop := func() {}
	if c == nil || c.Closed() {
		return noop, nil
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return noop, nil
	}
	m := h.members[c.ID()]
	newMember := m == nil
	if newMember {
		m = &member{h: h, r: c, rooms: map[string]uint64{}}
		h.members[c.ID()] = m
	} else if len(m.rooms) == 0 {
		m.restart() // it had left its last room
	}
	if gen, ok := m.rooms[roomName]; ok {
		h.mu.Unlock()
		return h.leaveFunc(roomName, m, gen), nil
	}
	r := h.rooms[roomName]
	if r == nil {
		r = &room{name: roomName, members: map[*member]struct{}{}}
		cancel, err := h.broker.Subscribe(roomName, r.deliverFunc(h))
		if err != nil {
			if newMember {
				delete(h.members, c.ID())
			}
			h.mu.Unlock()
			return noop, err
		}
		r.cancel = cancel
		h.rooms[roomName] = r
	}
	m.gen++
	gen := m.gen
	m.rooms[roomName] = gen
	r.mu.Lock()
	r.members[m] = struct{}{}
	r.mu.Unlock()
	h.mu.Unlock()

	if newMember {
		// Once per connection (the member outlives leaving its last room,
		// so joining and leaving in a loop registers nothing more). Runs at
		// once if the connection has closed meanwhile.
		c.Cleanup(func() { h.leaveAll(m) })
	}
	return h.leaveFunc(roomName, m, gen), nil
}

func (h *Hub) leaveFunc(roomName string, m *member, gen uint64) func() {
	var once sync.Once
	return func() { once.Do(func() { h.leave(roomName, m, gen) }) }
}

// leave removes m from one room, if it is still the membership gen.
func (h *Hub) leave(roomName string, m *member, gen uint64) {
	h.mu.Lock()
	if got, ok := m.rooms[roomName]; !ok || got != gen || h.members[m.r.ID()] != m {
		h.mu.Unlock()
		return
	}
	delete(m.rooms, roomName)
	cancel := h.removeFromRoom(roomName, m)
	last := len(m.rooms) == 0
	h.mu.Unlock()
	if last {
		m.stop()
	}
	if cancel != nil {
		cancel()
	}
}

// leaveAll removes m from every room: the connection closed.
func (h *Hub) leaveAll(m *member) {
	var cancels []func()
	h.mu.Lock()
	if h.members[m.r.ID()] == m {
		for name := range m.rooms {
			if cancel := h.removeFromRoom(name, m); cancel != nil {
				cancels = append(cancels, cancel)
			}
		}
		clear(m.rooms)
		delete(h.members, m.r.ID())
	}
	h.mu.Unlock()
	m.stop()
	for _, cancel := range cancels {
		cancel()
	}
}

// removeFromRoom takes m out of the room; when the room is left empty it
// is dropped and its broker cancel func returned, to be called without
// h.mu held. Call with h.mu held.
func (h *Hub) removeFromRoom(roomName string, m *member) (cancel func()) {
	r := h.rooms[roomName]
	if r == nil {
		return nil
	}
	r.mu.Lock()
	delete(r.members, m)
	empty := len(r.members) == 0
	r.mu.Unlock()
	if !empty {
		return nil
	}
	delete(h.rooms, roomName)
	return r.cancel
}

// Publish sends an already prepared message to every member of room (on
// every hub the broker reaches), except the connections listed in except.
// It only queues the message: it never waits for a client. A nil p sends
// nothing. Use it to send one prepared message to several rooms; for a
// single value, Broadcast is shorter.
func (h *Hub) Publish(roomName string, p *fiberws.PreparedMessage, except ...fiberws.Receiver) error {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if p == nil {
		return nil
	}
	env := Envelope{Message: p, Origin: h.id}
	for _, c := range except {
		if c != nil {
			env.Except = append(env.Except, c.ID())
		}
	}
	return h.broker.Publish(roomName, env)
}

// Broadcast encodes v once, the way a handler result is encoded (string:
// text frame, []byte: binary frame, nil pointer: nothing, anything else:
// JSON text), and sends it to every member of room except the connections
// in except (pass the sender to leave it out). It returns the encoding or
// broker error, or ErrClosed after h.Close; slow members do not make it
// fail or wait.
func Broadcast[T any](h *Hub, roomName string, v T, except ...fiberws.Receiver) error {
	p, err := fiberws.Prepare(v)
	if err != nil {
		return err
	}
	return h.Publish(roomName, p, except...)
}

// SendTo queues p for one member of the hub, in the same queue as the
// broadcasts it receives, so the order holds: a welcome queued right after
// Join reaches the client before any broadcast published after it, which a
// direct Conn.Send cannot promise. Like a broadcast, it never waits for the
// client, and a full queue drops the member as a slow consumer. A nil p
// sends nothing. c must be in a room of this hub (ErrNotMember).
func (h *Hub) SendTo(c fiberws.Receiver, p *fiberws.PreparedMessage) error {
	if c == nil {
		return ErrNotMember
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.members[c.ID()]
	switch {
	case h.closed:
		return ErrClosed
	case m == nil || len(m.rooms) == 0:
		return ErrNotMember
	}
	// Under h.mu, so that no writer goroutine starts once Close has set
	// closed (Close then waits for the writers).
	if p != nil && m.enqueue(p) {
		h.startDrain([]*member{m})
	}
	return nil
}

// Send encodes v like Broadcast does and queues it for the one member c
// with SendTo, in order with the broadcasts c receives.
func Send[T any](h *Hub, c fiberws.Receiver, v T) error {
	p, err := fiberws.Prepare(v)
	if err != nil {
		return err
	}
	return h.SendTo(c, p)
}

// deliverFunc is the room's broker subscriber: it queues the envelope's
// message for every local member it is meant for.
func (r *room) deliverFunc(h *Hub) func(Envelope) {
	return func(env Envelope) {
		own := env.Origin == h.id
		var wake []*member
		r.mu.RLock()
		for m := range r.members {
			if own && len(env.Except) > 0 && slices.Contains(env.Except, m.r.ID()) {
				continue
			}
			if m.enqueue(env.Message) {
				wake = append(wake, m)
			}
		}
		// Before RUnlock: Close empties the room under the write lock
		// before it waits for the writers, so every writer it must wait
		// for has been counted by then.
		h.startDrain(wake)
		r.mu.RUnlock()
	}
}

// Members is how many connections of this hub are in room now. Members
// being dropped as slow consumers count until their connection has closed.
func (h *Hub) Members(roomName string) int {
	h.mu.Lock()
	r := h.rooms[roomName]
	h.mu.Unlock()
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.members)
}

// Rooms lists, sorted, the rooms that have at least one member on this hub.
func (h *Hub) Rooms() []string {
	h.mu.Lock()
	names := make([]string, 0, len(h.rooms))
	for name := range h.rooms {
		names = append(names, name)
	}
	h.mu.Unlock()
	slices.Sort(names)
	return names
}

// Close empties every room, cancels the broker subscriptions, discards
// queued messages and waits for writes in flight (each bounded by its
// connection's write timeout). It does not close the connections: that is
// the fiberws Server's job on shutdown. After Close, Join does nothing and
// Publish and Broadcast return ErrClosed. Close is idempotent.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.writers.Wait()
		return nil
	}
	h.closed = true
	rooms, members := h.rooms, h.members
	h.rooms, h.members = map[string]*room{}, map[uint64]*member{}
	h.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		clear(r.members)
		r.mu.Unlock()
		r.cancel()
	}
	for _, m := range members {
		m.stop()
	}
	h.writers.Wait()
	return nil
}
