package hub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/fiberws/fiberws"
)

var errEmptyRoom = errors.New("hub: empty room name")

// JoinOption shapes a Join.
type JoinOption func(*joinOptions)

type joinOptions struct {
	presence []byte
	present  bool
	greet    func(Greeting) (*fiberws.PreparedMessage, error)
}

// WithPresence makes the member part of the room's presence, with data
// (a user name, say: keep it small): Hub.Presence lists it on every node,
// and its join and leave are presence events (Config.OnPresence,
// Config.PresenceMessage), also when its node dies without saying goodbye
// (after Config.PresenceTTL).
func WithPresence(data []byte) JoinOption {
	return func(o *joinOptions) { o.presence, o.present = data, true }
}

// Greeting is what a member joining WithGreeting is greeted with: the
// room's presence and its history (Config.HistorySize), as they are once
// it has joined.
type Greeting struct {
	Members []Member
	History []Envelope
}

// WithGreeting makes Join queue build's message for the new member before
// anything else: no message of the room comes before it, and none in its
// History (nor any older) comes after it. Use it to send a newcomer the member list
// and the recent messages (the chat's welcome). A nil message sends
// nothing; an error fails the Join.
func WithGreeting(build func(Greeting) (*fiberws.PreparedMessage, error)) JoinOption {
	return func(o *joinOptions) { o.greet = build }
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
// ctx; other joins of that room wait for the subscription. WithPresence
// and WithGreeting also ask the broker (presence, history). Joining a
// closed hub, or with a connection that is already closed, does nothing.
// Join returns an error when the subscription, the presence or the
// greeting fails (or ctx ends first); c has then not joined.
func (h *Hub) Join(ctx context.Context, roomName string, c fiberws.Receiver, opts ...JoinOption) (leave func(), err error) {
	var o joinOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	noop := func() {}
	if roomName == "" {
		return noop, errEmptyRoom
	}
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
	if ms, ok := m.rooms[roomName]; ok {
		h.mu.Unlock()
		return h.leaveFunc(roomName, m, ms.gen), nil
	}
	m.gen++
	gen := m.gen
	m.rooms[roomName] = membership{gen: gen, presence: o.presence, present: o.present}
	if o.greet != nil {
		m.hold() // deliveries queue behind the greeting from now on
	}
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
	leave = h.leaveFunc(roomName, m, gen)
	if o.present {
		if err := h.addPresence(ctx, roomName, m, o.presence); err != nil {
			if o.greet != nil {
				h.releaseMember(m, nil, "", 0)
			}
			leave()
			return noop, err
		}
		if !h.isMember(m, roomName, gen) {
			// It left (its connection closed) while its presence was being
			// added, so its leave found nothing to remove: remove it now.
			h.removePresence(roomName, m, o.presence)
		}
	}
	if o.greet != nil {
		if err := h.greet(ctx, roomName, m, o.greet); err != nil {
			leave()
			return noop, err
		}
	}
	return leave, nil
}

// isMember reports whether m is still in room as membership gen.
func (h *Hub) isMember(m *member, room string, gen uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	ms, ok := m.rooms[room]
	return ok && ms.gen == gen && h.members[m.r.ID()] == m
}

// greet builds a held member's greeting from the room's presence and
// history, and releases it with the greeting first.
func (h *Hub) greet(ctx context.Context, roomName string, m *member, build func(Greeting) (*fiberws.PreparedMessage, error)) error {
	var g Greeting
	var err error
	if g.Members, err = h.Presence(ctx, roomName); err == nil {
		g.History, err = h.History(ctx, roomName)
	}
	var p *fiberws.PreparedMessage
	if err == nil {
		p, err = build(g)
	}
	if err != nil {
		h.releaseMember(m, nil, "", 0)
		return err
	}
	var last uint64
	if n := len(g.History); n > 0 {
		last = g.History[n-1].Seq
	}
	h.releaseMember(m, p, roomName, last)
	return nil
}

// releaseMember releases a held member (member.release) and starts its
// writer if it needs one, under h.mu as every writer start is.
func (h *Hub) releaseMember(m *member, greeting *fiberws.PreparedMessage, room string, last uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if m.release(greeting, room, last) && !h.closed {
		h.startDrain([]*member{m})
	}
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
		h.brokerErrors.Add(1)
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
	ms, ok := m.rooms[roomName]
	if !ok || ms.gen != gen || h.members[m.r.ID()] != m {
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
	if ms.present {
		h.removePresence(roomName, m, ms.presence)
	}
	h.cancel(r)
}

// leaveAll removes m from every room: the connection closed.
func (h *Hub) leaveAll(m *member) {
	var emptied []*room
	present := map[string][]byte{}
	h.mu.Lock()
	if h.members[m.r.ID()] == m {
		for name, ms := range m.rooms {
			if ms.present {
				present[name] = ms.presence
			}
			if r := h.removeFromRoom(name, m); r != nil {
				emptied = append(emptied, r)
			}
		}
		clear(m.rooms)
		delete(h.members, m.r.ID())
	}
	m.stop()
	h.mu.Unlock()
	for name, data := range present {
		h.removePresence(name, m, data)
	}
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
