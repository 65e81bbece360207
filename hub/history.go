package hub

import (
	"context"
	"sync"
	"time"
)

// History keeps the last messages of each room, so that a member joining
// can be shown what was said before (WithGreeting). The hub uses it when
// Config.HistorySize is set. The in-process implementation is
// MemoryBroker's; hub/redisbroker keeps it in Redis.
type History interface {
	// PublishKept publishes env to room as Broker.Publish does, and keeps
	// it among the room's last size envelopes, the room's history
	// expiring ttl after its last message. History and delivery have the
	// same order, and both carry the Seq it gives env: greater than that of
	// every envelope of the room before it, the expired ones included.
	PublishKept(ctx context.Context, room string, env Envelope, size int, ttl time.Duration) error
	// History returns the kept envelopes of room, oldest first.
	History(ctx context.Context, room string) ([]Envelope, error)
}

// memoryHistory is the in-process history.
type memoryHistory struct {
	mu    sync.Mutex
	rooms map[string]*roomHistory
	seq   uint64 // the last Seq given, in any room
}

type roomHistory struct {
	envs    []Envelope
	expires time.Time
}

// keep adds env to room's history and sets its Seq; call it under the
// lock that orders the room's deliveries, so that history and delivery
// agree.
func (h *memoryHistory) keep(room string, env *Envelope, size int, ttl time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms == nil {
		h.rooms = map[string]*roomHistory{}
	}
	r := h.rooms[room]
	now := time.Now()
	if r == nil || now.After(r.expires) {
		r = &roomHistory{}
		h.rooms[room] = r
	}
	// One counter for all rooms grows across a room's history expiring.
	h.seq++
	env.Seq = h.seq
	kept := *env
	kept.pressed = nil // the publisher's, not history's
	r.envs = append(r.envs, kept)
	if over := len(r.envs) - size; over > 0 {
		r.envs = append(r.envs[:0:0], r.envs[over:]...)
	}
	r.expires = now.Add(ttl)
}

func (h *memoryHistory) History(_ context.Context, room string) ([]Envelope, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[room]
	if r == nil {
		return nil, nil
	}
	if time.Now().After(r.expires) {
		delete(h.rooms, room)
		return nil, nil
	}
	return append([]Envelope(nil), r.envs...), nil
}

// History returns the kept messages of room (Config.HistorySize), oldest
// first, with their broadcast IDs. It returns nothing when history is off.
func (h *Hub) History(ctx context.Context, room string) ([]Envelope, error) {
	if h.cfg.HistorySize <= 0 {
		return nil, nil
	}
	return h.history.History(ctx, room)
}

// separateHistory is the in-memory history of a hub whose broker keeps
// none: it keeps what this process publishes, then publishes through the
// broker (so other nodes' messages are not in it).
type separateHistory struct {
	broker Broker
	mu     sync.Mutex // orders keep and publish, as one room's history must match its deliveries
	memoryHistory
}

func (h *separateHistory) PublishKept(ctx context.Context, room string, env Envelope, size int, ttl time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keep(room, &env, size, ttl)
	return h.broker.Publish(ctx, room, env)
}
