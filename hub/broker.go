package hub

import (
	"context"
	"sync"

	"github.com/fiberws/fiberws"
)

// Envelope is one broadcast as it travels through a Broker: plain data, so
// a networked broker ships it as it is (see Marshal in a broker package,
// or encode the fields yourself).
type Envelope struct {
	// Type is fiberws.Text or fiberws.Binary; Data the encoded payload,
	// exactly as it goes out in the frame.
	Type fiberws.MessageType
	Data []byte
	// Origin is the ID of the Hub that published it (Hub.ID).
	Origin string
	// Except lists the members that must not receive it, by member ID
	// (Hub.MemberID: unique across nodes), usually the sender.
	Except []string

	// prepared is the framed message of the publishing hub, reused by the
	// hubs of this process that receive the envelope as it is; pressed
	// collects the members that their deliveries found over half their
	// budget, for the publisher to wait for (Hub.Publish). A networked
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

// MemoryBroker is the in-process Broker: Publish calls the room's
// subscribers synchronously, in the publisher's goroutine. Share one
// between several hubs of one process to broadcast across them.
type MemoryBroker struct {
	mu    sync.RWMutex
	rooms map[string]map[*memorySubscription]struct{}
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
	return &MemoryBroker{rooms: map[string]map[*memorySubscription]struct{}{}}
}

// Publish calls every current subscriber of room with env, one after the
// other, and returns nil. Deliveries to one subscription are serialized,
// so each sees the room's envelopes in one order.
func (b *MemoryBroker) Publish(_ context.Context, room string, env Envelope) error {
	b.mu.RLock()
	subs := make([]*memorySubscription, 0, len(b.rooms[room]))
	for s := range b.rooms[room] {
		subs = append(subs, s)
	}
	b.mu.RUnlock()
	for _, s := range subs {
		s.mu.Lock()
		if !s.done {
			s.deliver(env)
		}
		s.mu.Unlock()
	}
	return nil
}

// Subscribe registers deliver for room.
func (b *MemoryBroker) Subscribe(_ context.Context, room string, deliver func(Envelope)) (Subscription, error) {
	s := &memorySubscription{b: b, room: room, deliver: deliver}
	b.mu.Lock()
	subs := b.rooms[room]
	if subs == nil {
		subs = map[*memorySubscription]struct{}{}
		b.rooms[room] = subs
	}
	subs[s] = struct{}{}
	b.mu.Unlock()
	return s, nil
}

// Cancel removes the subscription and waits for a delivery in flight to
// finish.
func (s *memorySubscription) Cancel(context.Context) error {
	b := s.b
	b.mu.Lock()
	if subs := b.rooms[s.room]; subs != nil {
		delete(subs, s)
		if len(subs) == 0 {
			delete(b.rooms, s.room)
		}
	}
	b.mu.Unlock()
	s.mu.Lock()
	s.done = true
	s.mu.Unlock()
	return nil
}
