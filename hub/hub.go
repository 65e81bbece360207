package hub

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/fiberws/fiberws"
)

// ErrClosed is returned by BroadcastPrepared, Broadcast, SendPrepared and Send after Close.
var ErrClosed = errors.New("hub: closed")

// ErrNotMember is returned by SendPrepared and Send for a connection that is in
// no room of the hub.
var ErrNotMember = errors.New("hub: not a member")

// Hub keeps rooms of connections and broadcasts to them. Create one with
// New, usually one per app, and share it between routes; all methods are
// safe for concurrent use.
type Hub struct {
	id       string
	cfg      Config
	broker   Broker
	presence Presence
	history  History
	// seq numbers this hub's broadcasts (Envelope.ID).
	seq atomic.Uint64
	// local is set when the broker delivers in process, before Broker.Publish
	// returns (MemoryBroker).
	local bool

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

	// Counters for Stats.
	slowConsumers, broadcasts, brokerErrors atomic.Int64
	// done is closed by Close; refreshing tells that the presence
	// refresher runs (guarded by mu).
	done       chan struct{}
	refreshing bool
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
	// the room's backlog before the next publishes (BroadcastPrepared). pressed
	// holds the members that went over half their budget on a delivery
	// to this room, for deliveries that come back asynchronously (a
	// networked broker); guarded by pressMu, taken under mu.
	gate    chan struct{}
	pressMu sync.Mutex
	pressed map[*member]struct{}
	// fallback holds the IDs of broadcasts delivered here without the
	// broker (it failed), so that a copy that arrives anyway is dropped.
	// Guarded by pressMu.
	fallback map[string]bool
}

// New creates a Hub. Zero fields of config take ConfigDefault's values.
func New(config ...Config) *Hub {
	cfg := configDefault(config...)
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &Hub{
		id:       hex.EncodeToString(id[:]),
		cfg:      cfg,
		broker:   cfg.Broker,
		presence: cfg.Presence,
		local:    isMemory(cfg.Broker),
		history:  cfg.History,
		done:     make(chan struct{}),
		rooms:    map[string]*room{},
		members:  map[uint64]*member{},
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

// InRoom reports whether the connection c is a member of room on this
// hub: for a handler that lets only members speak in a room.
func (h *Hub) InRoom(roomName string, c fiberws.Receiver) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.members[c.ID()]
	if m == nil || m.r != c {
		return false
	}
	_, ok := m.rooms[roomName]
	return ok
}

// Conns lists the connections of this hub in room now, ordered by
// connection ID, each as it joined (a *fiberws.Conn[T]: assert it back
// for its typed Send): to send one of them something, to list the room's
// users in an admin page, or to close them. Members on other nodes are not
// here; Presence lists those.
func (h *Hub) Conns(roomName string) []fiberws.Receiver {
	h.mu.Lock()
	r := h.rooms[roomName]
	h.mu.Unlock()
	if r == nil {
		return nil
	}
	r.mu.RLock()
	out := make([]fiberws.Receiver, 0, len(r.members))
	for m := range r.members {
		out = append(out, m.r)
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b fiberws.Receiver) int { return cmp.Compare(a.ID(), b.ID()) })
	return out
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

// Stats is a snapshot of a hub for metrics (package metrics/prometheus):
// its rooms and members on this node now, and counters since New.
type Stats struct {
	// Rooms is the rooms with at least one member on this hub; Members
	// the connections in them (a connection in two rooms counts once).
	Rooms, Members int
	// Broadcasts counts BroadcastPrepared calls (Broadcast's included) that
	// published a message; SlowConsumers the members dropped as slow
	// consumers; BrokerErrors the broker calls that failed (publishes,
	// including presence announcements, and subscriptions).
	Broadcasts, SlowConsumers, BrokerErrors int64
}

// Stats returns the hub's snapshot. It takes the hub's locks briefly, as
// Rooms does: call it at scrape time, not per message.
func (h *Hub) Stats() Stats {
	var st Stats
	in := map[*member]struct{}{}
	h.mu.Lock()
	for _, r := range h.rooms {
		r.mu.RLock()
		if len(r.members) > 0 {
			st.Rooms++
		}
		for m := range r.members {
			in[m] = struct{}{}
		}
		r.mu.RUnlock()
	}
	h.mu.Unlock()
	st.Members = len(in)
	st.Broadcasts = h.broadcasts.Load()
	st.SlowConsumers = h.slowConsumers.Load()
	st.BrokerErrors = h.brokerErrors.Load()
	return st
}

// Close empties every room, cancels the broker subscriptions, discards
// queued messages and waits for writes in flight (each bounded by its
// connection's write timeout). It does not close the connections: that is
// the fiberws Server's job on shutdown. After Close, Join does nothing and
// BroadcastPrepared and Broadcast return ErrClosed. Close is idempotent.
func (h *Hub) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.brokerCalls.Wait()
		h.writers.Wait()
		return nil
	}
	h.closed = true
	close(h.done)
	rooms, members := h.rooms, h.members
	// The members' presence goes with the hub: their leave would not find
	// them any more (h.members is emptied now).
	type present struct {
		room string
		m    *member
		data []byte
	}
	var gone []present
	for _, m := range members {
		for room, ms := range m.rooms {
			if ms.present {
				gone = append(gone, present{room, m, ms.presence})
			}
		}
	}
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
	for _, p := range gone {
		h.removePresence(p.room, p.m, p.data)
	}
	for _, sub := range subs {
		h.cancelSub(sub)
	}
	h.brokerCalls.Wait()
	h.writers.Wait()
	return nil
}

// isMemory reports whether b delivers in process, before b.Publish returns.
func isMemory(b Broker) bool {
	_, ok := b.(*MemoryBroker)
	return ok
}
