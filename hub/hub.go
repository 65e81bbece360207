package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

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

	// writers counts the goroutines the hub started (drains and
	// slow-consumer closes); Close waits for them. They are only started
	// under h.mu with closed unset, or under a room's read lock while the
	// room has members, so none starts once Close is waiting.
	writers sync.WaitGroup
	// brokerCalls counts the Subscribe and Cancel calls in flight, started
	// under h.mu; Close waits for them, so none reaches the broker after.
	brokerCalls sync.WaitGroup

	slowConsumers atomic.Int64
}

// room is the local membership of one room and its broker subscription.
type room struct {
	name    string
	mu      sync.RWMutex
	members map[*member]struct{}

	// Guarded by h.mu: sub is the broker subscription; settling, while a
	// Subscribe or Cancel for this room is in flight, is closed when it
	// returns. A room being cancelled stays in h.rooms, empty, until its
	// Cancel has returned, so that Subscribe and Cancel of one room never
	// overlap.
	sub      Subscription
	settling chan struct{}

	// gate lines up this hub's publishers of the room, so each waits for
	// the room's backlog before the next publishes (Publish). pressed
	// holds the members that went over half their budget on a delivery
	// to this room, for deliveries that come back asynchronously (a
	// networked broker); guarded by pressMu, taken under mu.
	gate    chan struct{}
	pressMu sync.Mutex
	pressed map[*member]struct{}
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

// MemberID is the identifier of connection c as a member of this hub:
// unique across nodes (the hub's ID and the connection's), the key that
// Envelope.Except lists.
func (h *Hub) MemberID(c fiberws.Receiver) string {
	return h.id + "." + strconv.FormatUint(c.ID(), 10)
}

// Join adds the connection c (any *fiberws.Conn[T]: a receive-only
// route's connection cannot receive) to room and returns a func that
// removes it again. Calling Join again for a room c is already in changes
// nothing and returns a working leave func. The connection leaves all its
// rooms by itself when it closes (through Session.Cleanup), so calling
// leave is only needed to leave a room while staying connected. leave is
// idempotent.
//
// The first local member of a room subscribes the hub to it at the
// broker, which for a networked broker waits on the network, bounded by
// ctx; other joins of that room wait for the subscription. Joining a
// closed hub, or with a connection that is already closed, does nothing.
// Join returns an error only when the subscription fails (or ctx ends
// first); c has then not joined.
func (h *Hub) Join(ctx context.Context, roomName string, c fiberws.Receiver) (leave func(), err error) {
	noop := func() {}
	if c == nil || c.Closed() {
		return noop, nil
	}
	h.mu.Lock()
	for {
		if h.closed {
			h.mu.Unlock()
			return noop, nil
		}
		r := h.rooms[roomName]
		if r != nil && r.settling == nil {
			break // subscribed: join it below, under this lock
		}
		if r != nil {
			// A Subscribe or Cancel of this room is in flight: wait for it,
			// then look again.
			settling := r.settling
			h.mu.Unlock()
			select {
			case <-settling:
			case <-ctx.Done():
				return noop, ctx.Err()
			}
			h.mu.Lock()
			continue
		}
		if err := h.subscribe(ctx, roomName); err != nil {
			h.mu.Unlock()
			return noop, err
		}
	}
	r := h.rooms[roomName]
	m := h.members[c.ID()]
	isNew := m == nil
	if isNew {
		m = newMember(h, c)
		h.members[c.ID()] = m
	} else if len(m.rooms) == 0 {
		m.restart() // it had left its last room
	}
	if gen, ok := m.rooms[roomName]; ok {
		h.mu.Unlock()
		return h.leaveFunc(roomName, m, gen), nil
	}
	m.gen++
	gen := m.gen
	m.rooms[roomName] = gen
	r.mu.Lock()
	r.members[m] = struct{}{}
	r.mu.Unlock()
	h.mu.Unlock()

	if isNew {
		// Once per connection (the member outlives leaving its last room,
		// so joining and leaving in a loop registers nothing more). Runs at
		// once if the connection has closed meanwhile.
		c.Cleanup(func() { h.leaveAll(m) })
	}
	return h.leaveFunc(roomName, m, gen), nil
}

// subscribe subscribes the hub to a room it has no entry for. It is called
// with h.mu held and returns with it held, but releases it while the
// broker works, with the room's entry marked as settling.
func (h *Hub) subscribe(ctx context.Context, roomName string) error {
	r := &room{name: roomName, members: map[*member]struct{}{}, settling: make(chan struct{}), gate: make(chan struct{}, 1)}
	h.rooms[roomName] = r
	h.brokerCalls.Add(1)
	defer h.brokerCalls.Done()
	h.mu.Unlock()
	sub, err := h.broker.Subscribe(ctx, roomName, r.deliverFunc(h))
	h.mu.Lock()
	close(r.settling)
	r.settling = nil
	if err == nil && h.closed {
		// Close ran meanwhile and did not see this subscription.
		h.mu.Unlock()
		h.cancelSub(sub)
		h.mu.Lock()
		return nil
	}
	if err != nil {
		delete(h.rooms, roomName)
		return err
	}
	r.sub = sub
	return nil
}

func (h *Hub) leaveFunc(roomName string, m *member, gen uint64) func() {
	var once sync.Once
	return func() { once.Do(func() { h.leave(roomName, m, gen) }) }
}

// leaveHook, when set by a test, runs in leave right after h.mu is
// released, to widen the window in which a concurrent Join races it.
var leaveHook atomic.Pointer[func()]

// leave removes m from one room, if it is still the membership gen.
func (h *Hub) leave(roomName string, m *member, gen uint64) {
	h.mu.Lock()
	if got, ok := m.rooms[roomName]; !ok || got != gen || h.members[m.r.ID()] != m {
		h.mu.Unlock()
		return
	}
	delete(m.rooms, roomName)
	if len(m.rooms) == 0 {
		// Under h.mu, where Join restarts it: a Join of another room
		// right after this leave must find the member stopped already.
		m.stop()
	}
	r := h.removeFromRoom(roomName, m)
	h.mu.Unlock()
	if hook := leaveHook.Load(); hook != nil {
		(*hook)()
	}
	h.cancel(r)
}

// leaveAll removes m from every room: the connection closed.
func (h *Hub) leaveAll(m *member) {
	var emptied []*room
	h.mu.Lock()
	if h.members[m.r.ID()] == m {
		for name := range m.rooms {
			if r := h.removeFromRoom(name, m); r != nil {
				emptied = append(emptied, r)
			}
		}
		clear(m.rooms)
		delete(h.members, m.r.ID())
	}
	m.stop()
	h.mu.Unlock()
	for _, r := range emptied {
		h.cancel(r)
	}
}

// removeFromRoom takes m out of the room. When the room is left empty it
// is marked settling and returned: the caller cancels its subscription
// with cancel, without h.mu held. Call with h.mu held.
func (h *Hub) removeFromRoom(roomName string, m *member) *room {
	r := h.rooms[roomName]
	if r == nil {
		return nil
	}
	r.mu.Lock()
	delete(r.members, m)
	empty := len(r.members) == 0
	r.pressMu.Lock()
	delete(r.pressed, m)
	r.pressMu.Unlock()
	r.mu.Unlock()
	if !empty || r.settling != nil {
		return nil
	}
	r.settling = make(chan struct{})
	h.brokerCalls.Add(1) // done by cancel
	return r
}

// cancel ends the subscription of a room that removeFromRoom emptied, then
// drops the room's entry, letting a Join waiting for it subscribe anew.
func (h *Hub) cancel(r *room) {
	if r == nil {
		return
	}
	if r.sub != nil {
		h.cancelSub(r.sub)
	}
	h.mu.Lock()
	if h.rooms[r.name] == r {
		delete(h.rooms, r.name)
	}
	close(r.settling)
	r.settling = nil
	h.mu.Unlock()
	h.brokerCalls.Done()
}

// cancelSub ends a subscription the hub no longer needs, bounded by
// Config.BrokerTimeout.
func (h *Hub) cancelSub(sub Subscription) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.BrokerTimeout)
	defer cancel()
	_ = sub.Cancel(ctx)
}

// Publish sends an already prepared message to every member of room (on
// every hub the broker reaches), except the connections listed in except.
// A nil p sends nothing. Use it to send one prepared message to several
// rooms; for a single value, Broadcast is shorter.
//
// Publish only queues the message; it never waits for a client's socket.
// It does hold back a publisher that outruns the room: this hub's
// publishers of a room take turns, and each waits, after queueing its
// message, while a member it reached holds more than half of
// Config.QueueBytes, until that member is down to a quarter (or is dropped
// for making no progress for its write timeout). From a handler, the wait
// pauses the connection's reading, so TCP pushes back on its client. So a
// burst makes the publisher slower, not its readers dropped. The members
// of other hubs of this process count; those of other nodes, reached
// through a networked broker, only bound their own queues. The waits end
// when ctx is done (the message is published either way); with a done
// ctx, Publish never waits, but a networked broker may then fail it.
func (h *Hub) Publish(ctx context.Context, roomName string, p *fiberws.PreparedMessage, except ...fiberws.Receiver) error {
	h.mu.Lock()
	closed := h.closed
	r := h.rooms[roomName]
	h.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if p == nil {
		return nil
	}
	if r != nil {
		select {
		case r.gate <- struct{}{}:
			defer func() { <-r.gate }()
		case <-ctx.Done():
		}
	}
	env := Envelope{Type: p.Type(), Data: p.Data(), Origin: h.id, prepared: p, pressed: &pressure{}}
	for _, c := range except {
		if c != nil {
			env.Except = append(env.Except, h.MemberID(c))
		}
	}
	if err := h.broker.Publish(ctx, roomName, env); err != nil {
		return err
	}
	for _, m := range env.pressed.members {
		m.waitDrained(ctx)
	}
	if r != nil {
		r.waitPressed(ctx)
	}
	return nil
}

// waitPressed waits for the members that asynchronous deliveries found
// over half their budget.
func (r *room) waitPressed(ctx context.Context) {
	r.pressMu.Lock()
	if len(r.pressed) == 0 {
		r.pressMu.Unlock()
		return
	}
	pressed := make([]*member, 0, len(r.pressed))
	for m := range r.pressed {
		pressed = append(pressed, m)
	}
	clear(r.pressed)
	r.pressMu.Unlock()
	for _, m := range pressed {
		m.waitDrained(ctx)
	}
}

// Broadcast encodes v once, the way a handler result is encoded (string:
// text frame, []byte: binary frame, nil pointer: nothing, anything else:
// JSON text), and sends it to every member of room except the connections
// in except (pass the sender to leave it out), as Publish does: it may
// wait, bounded by ctx, for a room its publisher outruns. It returns the
// encoding or broker error, or ErrClosed after h.Close; slow members do
// not make it fail.
func Broadcast[T any](ctx context.Context, h *Hub, roomName string, v T, except ...fiberws.Receiver) error {
	p, err := fiberws.Prepare(v)
	if err != nil {
		return err
	}
	return h.Publish(ctx, roomName, p, except...)
}

// SendTo queues p for one member of the hub, in the same queue as the
// broadcasts it receives, so the order holds: a welcome queued right after
// Join reaches the client before any broadcast published after it, which a
// direct Conn.Send cannot promise. Like Publish, it never waits for the
// client's socket but waits, bounded by ctx, while the member holds more
// than half its budget (so a replay in a loop is held back, not dropped),
// and a queue that would exceed the budget drops the member as a slow
// consumer. A nil p sends nothing. c must be in a room of this hub
// (ErrNotMember).
func (h *Hub) SendTo(ctx context.Context, c fiberws.Receiver, p *fiberws.PreparedMessage) error {
	if c == nil {
		return ErrNotMember
	}
	h.mu.Lock()
	m := h.members[c.ID()]
	switch {
	case h.closed:
		h.mu.Unlock()
		return ErrClosed
	case m == nil || len(m.rooms) == 0:
		h.mu.Unlock()
		return ErrNotMember
	case p == nil:
		h.mu.Unlock()
		return nil
	}
	// Under h.mu, so that no writer goroutine starts once Close has set
	// closed (Close then waits for the writers).
	wake, pressed := m.enqueue(p)
	if wake {
		h.startDrain([]*member{m})
	}
	h.mu.Unlock()
	if pressed {
		m.waitDrained(ctx)
	}
	return nil
}

// Send encodes v like Broadcast does and queues it for the one member c
// with SendTo, in order with the broadcasts c receives.
func Send[T any](ctx context.Context, h *Hub, c fiberws.Receiver, v T) error {
	p, err := fiberws.Prepare(v)
	if err != nil {
		return err
	}
	return h.SendTo(ctx, c, p)
}

// deliverFunc is the room's broker subscriber: it queues the envelope's
// message for every local member it is meant for. The broker calls it one
// envelope at a time, so all members of the room get the room's messages
// in one order.
func (r *room) deliverFunc(h *Hub) func(Envelope) {
	return func(env Envelope) {
		p, err := env.message()
		if err != nil {
			return // not a frame we can send (a foreign publisher's)
		}
		var wake, pressed []*member
		r.mu.RLock()
		for m := range r.members {
			if len(env.Except) > 0 && slices.Contains(env.Except, m.id) {
				continue
			}
			w, press := m.enqueue(p)
			if w {
				wake = append(wake, m)
			}
			if press {
				pressed = append(pressed, m)
			}
		}
		// Before RUnlock: Close empties the room under the write lock
		// before it waits for the writers, so every writer it must wait
		// for has been counted by then; and a member removed from the room
		// is removed from pressed under the write lock too.
		h.startDrain(wake)
		if len(pressed) > 0 {
			if env.pressed != nil {
				env.pressed.add(pressed) // the publisher, in this process, waits
			} else {
				r.pressMu.Lock()
				if r.pressed == nil {
					r.pressed = map[*member]struct{}{}
				}
				for _, m := range pressed {
					r.pressed[m] = struct{}{}
				}
				r.pressMu.Unlock()
			}
		}
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
	for name, r := range h.rooms {
		r.mu.RLock()
		if len(r.members) > 0 {
			names = append(names, name)
		}
		r.mu.RUnlock()
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
		h.brokerCalls.Wait()
		h.writers.Wait()
		return nil
	}
	h.closed = true
	rooms, members := h.rooms, h.members
	h.rooms, h.members = map[string]*room{}, map[uint64]*member{}
	var subs []Subscription
	for _, r := range rooms {
		r.mu.Lock()
		clear(r.members)
		r.mu.Unlock()
		if r.sub != nil && r.settling == nil {
			// Rooms settling are cancelled by the leave in flight; rooms
			// still subscribing are cancelled by their Join.
			subs = append(subs, r.sub)
		}
	}
	for _, m := range members {
		m.stop()
	}
	h.mu.Unlock()
	for _, sub := range subs {
		h.cancelSub(sub)
	}
	h.brokerCalls.Wait()
	h.writers.Wait()
	return nil
}
