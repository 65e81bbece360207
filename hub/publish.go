package hub

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/fiberws/fiberws"
)

// BroadcastPrepared sends an already prepared message to every member of room (on
// every hub the broker reaches), except the connections listed in except.
// A nil p sends nothing. Use it to send one prepared message to several
// rooms; for a single value, Broadcast is shorter.
//
// BroadcastPrepared only queues the message; it never waits for a client's socket.
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
// ctx, BroadcastPrepared never waits, but a networked broker may then fail it.
func (h *Hub) BroadcastPrepared(ctx context.Context, roomName string, p *fiberws.PreparedMessage, except ...fiberws.Receiver) error {
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
	if r != nil && h.local {
		// An in-process broker delivers before BroadcastPrepared returns, so the
		// wait below sees this message's pressure: publishers take turns
		// to keep a burst of them from overflowing a member at once. A
		// networked broker delivers later, through the network; taking
		// turns would only cap the room at one publish per round trip.
		select {
		case r.gate <- struct{}{}:
			defer func() { <-r.gate }()
		case <-ctx.Done():
		}
	}
	env := Envelope{
		Type: p.Type(), Data: p.Data(), Origin: h.id,
		ID:       h.id + "." + strconv.FormatUint(h.seq.Add(1), 36),
		prepared: p, pressed: &pressure{},
	}
	for _, c := range except {
		if c != nil {
			env.Except = append(env.Except, h.MemberID(c))
		}
	}
	var err error
	if h.cfg.HistorySize > 0 {
		err = h.history.PublishKept(ctx, roomName, env, h.cfg.HistorySize, h.cfg.HistoryTTL)
	} else {
		err = h.broker.Publish(ctx, roomName, env)
	}
	h.broadcasts.Add(1)
	if err != nil {
		h.brokerErrors.Add(1)
		if r != nil {
			// The broker could not take it (Redis is down): this node's
			// members still get it, and the caller hears that the others
			// did not. Should the broker have taken it after all (a
			// timeout after Redis ran it), its copy is dropped on arrival.
			r.fellBack(env.ID)
			r.deliverFunc(h)(env)
		}
		return fmt.Errorf("hub: publish to room %q reached this node only: %w", roomName, err)
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
// in except (pass the sender to leave it out), as BroadcastPrepared does: it may
// wait, bounded by ctx, for a room its publisher outruns. It returns the
// encoding or broker error, or ErrClosed after h.Close; slow members do
// not make it fail.
func Broadcast[T any](ctx context.Context, h *Hub, roomName string, v T, except ...fiberws.Receiver) error {
	p, err := fiberws.Prepare(v)
	if err != nil {
		return err
	}
	return h.BroadcastPrepared(ctx, roomName, p, except...)
}

// SendPrepared queues p for one member of the hub, in the same queue as the
// broadcasts it receives, so the order holds: a welcome queued right after
// Join reaches the client before any broadcast published after it, which a
// direct Conn.Send cannot promise. Like BroadcastPrepared, it never waits for the
// client's socket but waits, bounded by ctx, while the member holds more
// than half its budget (so a replay in a loop is held back, not dropped),
// and a queue that would exceed the budget drops the member as a slow
// consumer. A nil p sends nothing. c must be in a room of this hub
// (ErrNotMember).
func (h *Hub) SendPrepared(ctx context.Context, c fiberws.Receiver, p *fiberws.PreparedMessage) error {
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
	wake, pressed := m.enqueue(p, 0, "")
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
// with SendPrepared, in order with the broadcasts c receives.
func Send[T any](ctx context.Context, h *Hub, c fiberws.Receiver, v T) error {
	p, err := fiberws.Prepare(v)
	if err != nil {
		return err
	}
	return h.SendPrepared(ctx, c, p)
}

// deliverFunc is the room's broker subscriber: it queues the envelope's
// message for every local member it is meant for. The broker calls it one
// envelope at a time, so all members of the room get the room's messages
// in one order.
func (r *room) deliverFunc(h *Hub) func(Envelope) {
	return func(env Envelope) {
		if env.prepared == nil && r.deliveredBefore(env.ID) {
			return // a fallback delivered it already (BroadcastPrepared)
		}
		skip := env.Except
		if env.Presence != nil {
			if !h.presenceMessage(&env) {
				return
			}
			skip = []string{env.Presence.Member.ID}
		}
		p, err := env.message()
		if err != nil {
			return // not a frame we can send (a foreign publisher's)
		}
		var wake, pressed []*member
		r.mu.RLock()
		for m := range r.members {
			if len(skip) > 0 && slices.Contains(skip, m.id) {
				continue
			}
			w, press := m.enqueue(p, env.Seq, r.name)
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

// fallbackKeep is how many fallback deliveries a room remembers, to drop
// the broker's copy of one should it arrive after all.
const fallbackKeep = 256

// fellBack records that a broadcast was delivered to this node's members
// without the broker.
func (r *room) fellBack(id string) {
	r.pressMu.Lock()
	defer r.pressMu.Unlock()
	if r.fallback == nil {
		r.fallback = map[string]bool{}
	}
	if len(r.fallback) >= fallbackKeep {
		clear(r.fallback) // long ago: their copies are not coming
	}
	r.fallback[id] = true
}

// deliveredBefore reports (once) whether a broadcast arriving from the
// broker was already delivered by a fallback.
func (r *room) deliveredBefore(id string) bool {
	if id == "" {
		return false
	}
	r.pressMu.Lock()
	defer r.pressMu.Unlock()
	if !r.fallback[id] {
		return false
	}
	delete(r.fallback, id)
	return true
}
