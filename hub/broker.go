package hub

import (
	"sync"

	"github.com/fiberws/fiberws"
)

// Envelope is one broadcast as it travels through a Broker.
type Envelope struct {
	// Message is the encoded message, prepared once for all receivers. A
	// multi-node broker ships Message.Type() and Message.Data() and
	// rebuilds it on the receiving node with fiberws.Prepare (a string
	// for text, a []byte for binary).
	Message *fiberws.PreparedMessage
	// Origin is the ID of the Hub that published the broadcast.
	Origin string
	// Except lists the IDs (fiberws.Session.ID) of the sessions of the
	// Origin hub that must not receive it. Session IDs are only unique
	// within one process, so hubs apply Except only to their own
	// broadcasts.
	Except []uint64
}

// Broker carries broadcasts between hubs: Publish hands an envelope to
// every subscriber of its room, on every node, the publishing Hub
// included. A Hub subscribes to a room when its first local member joins
// and cancels when the last one leaves.
//
// Implement it to run hubs on several nodes (Redis pub/sub, NATS…); the
// in-process implementation is NewMemoryBroker. Implementations must be
// safe for concurrent use, must not call deliver while holding a lock that
// Subscribe or a cancel func takes, and should not block Publish on slow
// subscribers (deliver itself never blocks on a socket).
type Broker interface {
	// Publish delivers env to the subscribers of room.
	Publish(room string, env Envelope) error
	// Subscribe calls deliver for every envelope published to room from
	// now on, until cancel is called. After cancel returns, deliver is
	// not called again.
	Subscribe(room string, deliver func(Envelope)) (cancel func(), err error)
}

// MemoryBroker is the in-process Broker: Publish calls the room's
// subscribers synchronously, in the publisher's goroutine. Share one
// between several hubs of one process to broadcast across them.
type MemoryBroker struct {
	mu    sync.RWMutex
	rooms map[string]map[*subscription]struct{}
}

type subscription struct {
	deliver func(Envelope)
	mu      sync.Mutex // held during a delivery; cancel takes it to wait for one in flight
	done    bool
}

// NewMemoryBroker returns an empty in-process broker.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{rooms: map[string]map[*subscription]struct{}{}}
}

// Publish calls every current subscriber of room with env, one after the
// other, and returns nil.
func (b *MemoryBroker) Publish(room string, env Envelope) error {
	b.mu.RLock()
	subs := make([]*subscription, 0, len(b.rooms[room]))
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

// Subscribe registers deliver for room. The returned cancel removes it and
// waits for a delivery in flight to finish; it is idempotent.
func (b *MemoryBroker) Subscribe(room string, deliver func(Envelope)) (func(), error) {
	s := &subscription{deliver: deliver}
	b.mu.Lock()
	subs := b.rooms[room]
	if subs == nil {
		subs = map[*subscription]struct{}{}
		b.rooms[room] = subs
	}
	subs[s] = struct{}{}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		if subs := b.rooms[room]; subs != nil {
			delete(subs, s)
			if len(subs) == 0 {
				delete(b.rooms, room)
			}
		}
		b.mu.Unlock()
		s.mu.Lock()
		s.done = true
		s.mu.Unlock()
	}, nil
}
