package hub

import (
	"context"
	"sync"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
)

// Envelope is one broadcast, or one presence event, as it travels
// through a Broker: plain data, so a networked broker ships it as it is
// (hub/redisbroker documents its wire format).
type Envelope struct {
	// Type is hooks.Text or hooks.Binary; Data the encoded payload,
	// exactly as it goes out in the frame. Both are zero for a presence
	// event.
	Type hooks.MessageType
	Data []byte
	// Origin is the ID of the Hub that published it (Hub.ID).
	Origin string
	// ID identifies the broadcast, unique across nodes (the origin hub's
	// ID and a counter), so that a member greeted with the room's history
	// does not get a message twice.
	ID string
	// Seq is the broadcast's place in its room's history, set by the
	// History that keeps it (PublishKept); zero for a broadcast not kept.
	// It only grows, also across the history expiring, so that a member
	// greeted with the history drops exactly the messages up to the
	// history's last that are still on their way to it.
	Seq uint64
	// Except lists the members that must not receive it, by member ID
	// (Hub.MemberID: unique across nodes), usually the sender.
	Except []string
	// Presence, when set, makes the envelope a presence event instead of
	// a message: every hub with members in the room hears of it
	// (Config.OnPresence, Config.PresenceMessage).
	Presence *PresenceEvent

	// prepared is the framed message of the publishing hub, reused by the
	// hubs of this process that receive the envelope as it is; pressed
	// collects the members that their deliveries found over half their
	// budget, for the publisher to wait for (Hub.BroadcastPrepared). A networked
	// broker ships neither.
	prepared *fiberws.PreparedMessage
	pressed  *pressure
}

// pressure is the list of members a publisher waits for.
type pressure struct {
	mu      sync.Mutex
	members []*member
}

func (p *pressure) add(ms []*member) {
	p.mu.Lock()
	p.members = append(p.members, ms...)
	p.mu.Unlock()
}

// message returns the envelope's frame, prepared once per process.
func (e *Envelope) message() (*fiberws.PreparedMessage, error) {
	if e.prepared != nil {
		return e.prepared, nil
	}
	return fiberws.NewPreparedMessage(e.Type, e.Data)
}

// Broker carries broadcasts between hubs: Publish hands an envelope to
// every subscription of its room, on every node, the publishing Hub's
// included. A Hub subscribes to a room when its first local member joins
// and cancels that subscription when the last one leaves; it never calls
// Subscribe or Cancel for a room while a previous call for that room is
// still in flight, and never while holding a lock that delivery needs.
//
// Implement it to run hubs on several nodes (hub/redisbroker is one); the
// in-process implementation is NewMemoryBroker. Implementations must be
// safe for concurrent use, must deliver the envelopes of one room to one
// subscription in publish order and one at a time, must not call deliver
// while holding a lock that Subscribe or Cancel takes, and must not block
// Publish on a slow subscriber (deliver itself never blocks on a socket).
// Calls that may wait on the network take a context and return when it
// is done.
type Broker interface {
	// Publish delivers env to the subscriptions of room.
	Publish(ctx context.Context, room string, env Envelope) error
	// Subscribe calls deliver for every envelope published to room from
	// now on, until the returned subscription is cancelled.
	Subscribe(ctx context.Context, room string, deliver func(Envelope)) (Subscription, error)
}

// Subscription is one Subscribe call's registration.
type Subscription interface {
	// Cancel ends this subscription, and only this one: other
	// subscriptions of the same room (another hub's, or a later one of
	// the same hub) keep receiving. After Cancel returns, deliver is not
	// called again. It is idempotent.
	Cancel(ctx context.Context) error
}

// MemoryBroker is the in-process Broker, Presence and History: Publish
// calls the room's subscribers synchronously, in the publisher's
// goroutine, one publication of a room after the other. Share one between
// several hubs of one process to broadcast across them (and to share their
// presence and history).
type MemoryBroker struct {
	memoryPresence
	history memoryHistory

	mu    sync.RWMutex
	rooms map[string]*memoryRoom
}

// memoryRoom is the subscriptions of one room; mu orders its
// publications, so that every subscription (and the history) sees them in
// one order.
type memoryRoom struct {
	mu   sync.Mutex
	subs map[*memorySubscription]struct{}
	dead bool // its last subscription was cancelled; it is leaving the map
}

type memorySubscription struct {
	b       *MemoryBroker
	room    string
	deliver func(Envelope)
	mu      sync.Mutex // held during a delivery; Cancel takes it to wait for one in flight
	done    bool
}

// NewMemoryBroker returns an empty in-process broker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{rooms: map[string]*memoryRoom{}}
}

// Publish calls every current subscriber of room with env, one after the
// other, and returns nil. Publications of one room are serialized, so
// every subscription sees the room's envelopes in one order.
func (b *MemoryBroker) Publish(_ context.Context, room string, env Envelope) error {
	b.publish(room, env, nil)
	return nil
}

// PublishKept publishes env and keeps it in room's history, in the same
// order as the deliveries.
func (b *MemoryBroker) PublishKept(_ context.Context, room string, env Envelope, size int, ttl time.Duration) error {
	b.publish(room, env, func(env *Envelope) { b.history.keep(room, env, size, ttl) })
	return nil
}

// History returns the kept envelopes of room, oldest first.
func (b *MemoryBroker) History(ctx context.Context, room string) ([]Envelope, error) {
	return b.history.History(ctx, room)
}

func (b *MemoryBroker) publish(room string, env Envelope, keep func(*Envelope)) {
	b.mu.RLock()
	r := b.rooms[room]
	b.mu.RUnlock()
	if r == nil {
		if keep == nil {
			return
		}
		// No subscriber: keep it under b.mu, which Subscribe takes, so a
		// subscription (and its greeting's history) comes either before
		// it (and gets it live) or after it (and finds it in the history).
		b.mu.Lock()
		if r = b.rooms[room]; r == nil {
			keep(&env)
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if keep != nil {
		keep(&env) // sets env.Seq for the deliveries below
	}
	for s := range r.subs {
		s.mu.Lock()
		if !s.done {
			s.deliver(env)
		}
		s.mu.Unlock()
	}
}

// Subscribe registers deliver for room.
func (b *MemoryBroker) Subscribe(_ context.Context, room string, deliver func(Envelope)) (Subscription, error) {
	s := &memorySubscription{b: b, room: room, deliver: deliver}
	for {
		b.mu.Lock()
		r := b.rooms[room]
		if r == nil {
			r = &memoryRoom{subs: map[*memorySubscription]struct{}{}}
			b.rooms[room] = r
		}
		b.mu.Unlock()
		r.mu.Lock()
		if r.dead {
			r.mu.Unlock()
			continue // its last subscription just went: a new room follows
		}
		r.subs[s] = struct{}{}
		r.mu.Unlock()
		return s, nil
	}
}

// Cancel removes the subscription and waits for a delivery in flight to
// finish; the room goes with its last subscription. It never holds the
// broker-wide lock while it waits for a room's delivery.
func (s *memorySubscription) Cancel(context.Context) error {
	b := s.b
	b.mu.RLock()
	r := b.rooms[s.room]
	b.mu.RUnlock()
	if r != nil {
		r.mu.Lock()
		delete(r.subs, s)
		empty := len(r.subs) == 0
		if empty {
			r.dead = true
		}
		r.mu.Unlock()
		if empty {
			b.mu.Lock()
			if b.rooms[s.room] == r {
				delete(b.rooms, s.room)
			}
			b.mu.Unlock()
		}
	}
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
	return nil
}

var (
	_ Broker   = (*MemoryBroker)(nil)
	_ Presence = (*MemoryBroker)(nil)
	_ History  = (*MemoryBroker)(nil)
)
