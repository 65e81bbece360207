package hub

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"
)

// Member is one member of a room as presence lists it, on any node.
type Member struct {
	// ID is the member's ID (Hub.MemberID), unique across nodes.
	ID string
	// Node is the ID of the hub it is a member of.
	Node string
	// Data is the app's data given when it joined (WithPresence), such as
	// a user name.
	Data []byte
}

// PresenceEvent tells that a member joined or left a room, on any node.
type PresenceEvent struct {
	Room   string
	Member Member
	// Joined is true for a join, false for a leave.
	Joined bool
	// Expired marks a leave nobody said: the member's node stopped
	// refreshing its presence (it crashed, or lost Redis) for the
	// presence TTL.
	Expired bool
}

// Presence keeps who is in which room, across nodes: the hub records the
// members that joined WithPresence, refreshes them while they stay, and
// removes them when they leave. An entry not refreshed within its ttl
// expires. The in-process implementation is MemoryBroker's; hub/redisbroker
// keeps it in Redis.
type Presence interface {
	// AddPresence records m in room until ttl from now, or refreshes it;
	// it reports whether m was not there before.
	AddPresence(ctx context.Context, room string, m Member, ttl time.Duration) (added bool, err error)
	// RefreshPresence extends the ttl of those of members still in room,
	// without adding any, and returns the others (expired meanwhile).
	RefreshPresence(ctx context.Context, room string, members []Member, ttl time.Duration) (missing []Member, err error)
	// RemovePresence removes the member from room and reports whether it
	// was there.
	RemovePresence(ctx context.Context, room, memberID string) (removed bool, err error)
	// Presence lists the members of room whose ttl has not passed. The
	// ones it finds expired it removes and returns as expired, each to one
	// caller only, who announces their leave.
	Presence(ctx context.Context, room string) (members, expired []Member, err error)
}

// memoryPresence is the in-process Presence.
type memoryPresence struct {
	mu    sync.Mutex
	rooms map[string]map[string]presenceEntry
}

type presenceEntry struct {
	m       Member
	expires time.Time
}

func (p *memoryPresence) AddPresence(_ context.Context, room string, m Member, ttl time.Duration) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rooms == nil {
		p.rooms = map[string]map[string]presenceEntry{}
	}
	members := p.rooms[room]
	if members == nil {
		members = map[string]presenceEntry{}
		p.rooms[room] = members
	}
	_, had := members[m.ID]
	members[m.ID] = presenceEntry{m: m, expires: time.Now().Add(ttl)}
	return !had, nil
}

func (p *memoryPresence) RefreshPresence(_ context.Context, room string, members []Member, ttl time.Duration) ([]Member, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var missing []Member
	expires := time.Now().Add(ttl)
	for _, m := range members {
		e, ok := p.rooms[room][m.ID]
		if !ok {
			missing = append(missing, m)
			continue
		}
		e.expires = expires
		p.rooms[room][m.ID] = e
	}
	return missing, nil
}

func (p *memoryPresence) RemovePresence(_ context.Context, room, id string) (bool, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	members := p.rooms[room]
	if _, ok := members[id]; !ok {
		return false, nil
	}
	delete(members, id)
	if len(members) == 0 {
		delete(p.rooms, room)
	}
	return true, nil
}

func (p *memoryPresence) Presence(_ context.Context, room string) (members, expired []Member, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	for id, e := range p.rooms[room] {
		if now.After(e.expires) {
			expired = append(expired, e.m)
			delete(p.rooms[room], id)
			continue
		}
		members = append(members, e.m)
	}
	if len(p.rooms[room]) == 0 {
		delete(p.rooms, room)
	}
	return members, expired, nil
}

// memberOf is m as presence lists it, with data.
func (h *Hub) memberOf(m *member, data []byte) Member {
	return Member{ID: m.id, Node: h.id, Data: data}
}

// addPresence records a member that joined WithPresence, announces it if
// it is new, and makes sure the refresher runs.
func (h *Hub) addPresence(ctx context.Context, room string, m *member, data []byte) error {
	member := h.memberOf(m, data)
	added, err := h.presence.AddPresence(ctx, room, member, h.cfg.PresenceTTL)
	if err != nil {
		return err
	}
	h.startRefresher()
	if added {
		h.announce(ctx, PresenceEvent{Room: room, Member: member, Joined: true})
	}
	return nil
}

// removePresence removes a member that left (its connection closed, or it
// left the room) and announces the leave, bounded by BrokerTimeout: it
// runs in cleanups, which have no context.
func (h *Hub) removePresence(room string, m *member, data []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.BrokerTimeout)
	defer cancel()
	if removed, err := h.presence.RemovePresence(ctx, room, m.id); err == nil && removed {
		h.announce(ctx, PresenceEvent{Room: room, Member: h.memberOf(m, data)})
	}
}

// announce publishes a presence event to the room on every node.
func (h *Hub) announce(ctx context.Context, ev PresenceEvent) {
	if err := h.broker.Publish(ctx, ev.Room, Envelope{Origin: h.id, Presence: &ev}); err != nil {
		h.brokerErrors.Add(1)
	}
}

// Presence lists the members of room that joined WithPresence, on every
// node (ordered by ID). Members of a node that stopped refreshing them
// for Config.PresenceTTL are left out, and their leave is announced.
func (h *Hub) Presence(ctx context.Context, room string) ([]Member, error) {
	members, expired, err := h.presence.Presence(ctx, room)
	if err != nil {
		return nil, err
	}
	for _, m := range expired {
		h.announce(ctx, PresenceEvent{Room: room, Member: m, Expired: true})
	}
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return members, nil
}

// startRefresher starts, once, the goroutine that refreshes this hub's
// presence entries every third of the TTL, and sweeps the rooms it has
// members in for the expired entries of other nodes (announcing their
// leave). It stops with Close.
func (h *Hub) startRefresher() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refreshing || h.closed {
		return
	}
	h.refreshing = true
	h.writers.Add(1)
	go h.refresh()
}

func (h *Hub) refresh() {
	defer h.writers.Done()
	tick := time.NewTicker(h.cfg.PresenceTTL / 3)
	defer tick.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-tick.C:
		}
		// What to refresh, per room: a snapshot; a member leaving meanwhile
		// is not re-added, since a refresh only extends entries that are
		// there (RefreshPresence), and a missing one is re-added only if
		// it is still a member then.
		rooms := map[string][]present{}
		h.mu.Lock()
		for _, m := range h.members {
			for room, ms := range m.rooms {
				if ms.present {
					rooms[room] = append(rooms[room], present{m, ms.gen})
				}
			}
		}
		h.mu.Unlock()
		for room, list := range rooms {
			h.refreshRoom(room, list)
		}
	}
}

// present is one of this hub's presence entries: a member in a room, as
// membership gen.
type present struct {
	m   *member
	gen uint64
}

// refreshRoom refreshes one room's presence entries of this hub in one
// broker call, with a timeout of its own, re-adds (and announces) those
// that expired while they are still members (this node was cut off for the
// TTL), and sweeps the room for other nodes' expired entries.
func (h *Hub) refreshRoom(room string, list []present) {
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.BrokerTimeout)
	defer cancel()
	members := make([]Member, len(list))
	byID := make(map[string]int, len(list))
	for i, p := range list {
		h.mu.Lock()
		members[i] = h.memberOf(p.m, p.m.rooms[room].presence)
		h.mu.Unlock()
		byID[p.m.id] = i
	}
	missing, err := h.presence.RefreshPresence(ctx, room, members, h.cfg.PresenceTTL)
	if err != nil {
		return
	}
	for _, mm := range missing {
		p := list[byID[mm.ID]]
		if !h.isMember(p.m, room, p.gen) {
			continue // it left meanwhile
		}
		if added, err := h.presence.AddPresence(ctx, room, mm, h.cfg.PresenceTTL); err == nil && added {
			h.announce(ctx, PresenceEvent{Room: room, Member: mm, Joined: true})
		}
	}
	_, _ = h.Presence(ctx, room)
}

// presenceMessage hands a delivered presence event to Config.OnPresence
// and turns it into the message for this hub's members of the room
// (Config.PresenceMessage), stored in env; it reports whether there is one
// to send.
func (h *Hub) presenceMessage(env *Envelope) bool {
	ev := *env.Presence
	if h.cfg.OnPresence != nil {
		func() {
			defer func() { _ = recover() }() // the app's: it must not stop deliveries
			h.cfg.OnPresence(ev)
		}()
	}
	if h.cfg.PresenceMessage == nil {
		return false
	}
	p, err := h.cfg.PresenceMessage(ev)
	if err != nil || p == nil {
		return false
	}
	env.prepared, env.Type, env.Data = p, p.Type(), p.Data()
	return true
}
