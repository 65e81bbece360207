// Package redisbroker runs fiberws hubs on many nodes through Redis: it is
// a hub.Broker (rooms' broadcasts over Redis pub/sub), a hub.Presence (who
// is in a room, on every node, with a TTL) and a hub.History (a room's last
// messages), on github.com/redis/go-redis/v9, so standalone Redis,
// Sentinel and Cluster all work.
//
//	b, err := redisbroker.New(redisbroker.Config{URL: "redis://127.0.0.1:6379/0"})
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer b.Close()
//	rooms := hub.New(hub.Config{Broker: b, HistorySize: 50})
//
// Each room is one Redis channel, PREFIX{ROOM}; a node subscribes to it
// while it has local members (the hub subscribes on the first and cancels
// on the last), so no node receives the traffic of rooms it has no members
// in. Its history is the list PREFIX{ROOM}:h, its presence the hash
// PREFIX{ROOM}:p (member data) and the sorted set PREFIX{ROOM}:e (expiry
// times, Redis's clock): the hash tag keeps a room's keys and channel in
// one Cluster slot. Envelopes travel in the compact, versioned format
// described in wire.go.
//
// Guarantees: a room's messages reach every subscribed node in publish
// order (one Redis channel, one subscription connection), at most once:
// a message published while a node's subscription is down (Redis
// restarting, a network cut) is not delivered to that node later. History
// is written in the same script as the publish, so its order is the
// delivery order. Presence entries expire after the hub's PresenceTTL
// unless refreshed.
//
// Failures: with Redis unreachable, Publish (and so hub.Broadcast) fails
// within Config.Timeout, and the hub still delivers to its own members; the
// subscription connection is pinged every Config.HealthCheck and comes
// back, with every room resubscribed, once Redis does. Deliveries never
// wait on a socket (the hub only queues), so a slow client never holds up
// the subscription, and a slow Redis never holds up a client's socket.
package redisbroker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/fiberws/fiberws/hub"
	"github.com/redis/go-redis/v9"
)

// Broker is the Redis hub.Broker, hub.Presence and hub.History. Create it
// with New, share it between the hubs of a node (usually one), and Close it
// after them.
type Broker struct {
	cfg    Config
	client redis.UniversalClient
	owned  bool // the client is ours to close

	mu     sync.Mutex
	rooms  map[string]*roomSubs
	shared *redis.PubSub // the subscription connection, when not sharded
	// pending holds, per channel being subscribed, what Redis's
	// confirmation closes (subscribeRedis).
	pending map[string]chan struct{}
	closed  bool
	wg      sync.WaitGroup // the receive goroutines
}

// roomSubs is the local subscriptions of one room. Its Redis subscription
// is made by the first and ended by the last; settling, while one of those
// calls is in flight, is closed when it returns, so the two never overlap.
type roomSubs struct {
	subs     map[*subscription]struct{}
	settling chan struct{}
	ps       *redis.PubSub // its own connection, when sharded
}

type subscription struct {
	b       *Broker
	room    string
	deliver func(hub.Envelope)
	mu      sync.Mutex // held during a delivery; Cancel takes it to wait for one in flight
	done    bool
}

var (
	_ hub.Broker   = (*Broker)(nil)
	_ hub.Presence = (*Broker)(nil)
	_ hub.History  = (*Broker)(nil)
)

// New creates a Broker on Config.Client, or on a client for Config.URL.
// It does not wait for Redis: a Redis that is down now makes calls fail
// until it is up.
func New(config ...Config) (*Broker, error) {
	cfg := configDefault(config...)
	b := &Broker{cfg: cfg, client: cfg.Client, rooms: map[string]*roomSubs{}, pending: map[string]chan struct{}{}}
	if b.client == nil {
		opts, err := redis.ParseURL(cfg.URL)
		if err != nil {
			return nil, err
		}
		b.client, b.owned = redis.NewClient(opts), true
	}
	return b, nil
}

// Close ends every subscription and waits for their deliveries to stop;
// it closes the client if the Broker made it. Close it after the hubs
// using it.
func (b *Broker) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	var conns []*redis.PubSub
	if b.shared != nil {
		conns = append(conns, b.shared)
	}
	for _, rs := range b.rooms {
		if rs.ps != nil {
			conns = append(conns, rs.ps)
		}
	}
	b.mu.Unlock()
	for _, ps := range conns {
		_ = ps.Close()
	}
	b.wg.Wait()
	if b.owned {
		return b.client.Close()
	}
	return nil
}

var errClosed = errors.New("redisbroker: closed")

// channel is the room's Redis channel; roomOf reverses it.
func (b *Broker) channel(room string) string { return b.cfg.Prefix + "{" + room + "}" }

func (b *Broker) roomOf(channel string) (string, bool) {
	rest, ok := strings.CutPrefix(channel, b.cfg.Prefix+"{")
	if !ok || !strings.HasSuffix(rest, "}") {
		return "", false
	}
	return rest[:len(rest)-1], true
}

func (b *Broker) key(room, kind string) string { return b.channel(room) + ":" + kind }

// bound gives ctx the Broker's Timeout unless it has a sooner deadline.
func (b *Broker) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= b.cfg.Timeout {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, b.cfg.Timeout)
}

// Publish sends env to the room's subscribers on every node.
func (b *Broker) Publish(ctx context.Context, room string, env hub.Envelope) error {
	payload, err := encode(env)
	if err != nil {
		return err
	}
	ctx, cancel := b.bound(ctx)
	defer cancel()
	if b.cfg.Sharded {
		return b.client.SPublish(ctx, b.channel(room), payload).Err()
	}
	return b.client.Publish(ctx, b.channel(room), payload).Err()
}

// Subscribe calls deliver for every envelope published to room from now
// on, until the subscription is cancelled.
func (b *Broker) Subscribe(ctx context.Context, room string, deliver func(hub.Envelope)) (hub.Subscription, error) {
	s := &subscription{b: b, room: room, deliver: deliver}
	b.mu.Lock()
	for {
		if b.closed {
			b.mu.Unlock()
			return nil, errClosed
		}
		rs := b.rooms[room]
		if rs != nil && rs.settling == nil {
			rs.subs[s] = struct{}{}
			b.mu.Unlock()
			return s, nil
		}
		if rs != nil {
			settling := rs.settling
			b.mu.Unlock()
			select {
			case <-settling:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			b.mu.Lock()
			continue
		}
		rs = &roomSubs{subs: map[*subscription]struct{}{s: {}}, settling: make(chan struct{})}
		b.rooms[room] = rs
		b.mu.Unlock()
		err := b.subscribeRedis(ctx, room, rs)
		b.mu.Lock()
		close(rs.settling)
		rs.settling = nil
		if err != nil {
			delete(b.rooms, room)
			b.mu.Unlock()
			return nil, err
		}
		b.mu.Unlock()
		return s, nil
	}
}

// subscribeRedis subscribes the node to room's channel: on the shared
// subscription connection (made, with its receive goroutine, on first
// use), or on a connection of the room's own when sharded. It returns once
// Redis has confirmed the subscription, so that nothing published after it
// returns is missed.
func (b *Broker) subscribeRedis(ctx context.Context, room string, rs *roomSubs) error {
	ctx, cancel := b.bound(ctx)
	defer cancel()
	channel := b.channel(room)
	confirmed := make(chan struct{})
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return errClosed
	}
	b.pending[channel] = confirmed
	ps := b.shared
	if b.cfg.Sharded {
		ps = b.client.SSubscribe(context.Background())
		rs.ps = ps
		b.receive(ps)
	} else if ps == nil {
		ps = b.client.Subscribe(context.Background())
		b.shared = ps
		b.receive(ps)
	}
	b.mu.Unlock()
	var err error
	if b.cfg.Sharded {
		err = ps.SSubscribe(ctx, channel)
	} else {
		err = ps.Subscribe(ctx, channel)
	}
	if err == nil {
		select {
		case <-confirmed:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	b.mu.Lock()
	delete(b.pending, channel)
	b.mu.Unlock()
	if err != nil {
		// go-redis keeps the channel among those it resubscribes after a
		// reconnect even when the call failed: take it out again.
		if b.cfg.Sharded {
			_ = ps.Close()
		} else {
			uctx, ucancel := context.WithTimeout(context.Background(), b.cfg.Timeout)
			_ = ps.Unsubscribe(uctx, channel)
			ucancel()
		}
		return err
	}
	return nil
}

// receive delivers what ps receives, in order, on a goroutine of its own,
// until ps is closed, and signals subscription confirmations. go-redis
// reconnects and resubscribes by itself; the health check finds a dead
// connection within Config.HealthCheck. Call with b.mu held and b open.
func (b *Broker) receive(ps *redis.PubSub) {
	ch := ps.ChannelWithSubscriptions(redis.WithChannelHealthCheckInterval(b.cfg.HealthCheck), redis.WithChannelSize(1024))
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		for item := range ch {
			switch v := item.(type) {
			case *redis.Message:
				b.dispatch(v.Channel, v.Payload)
			case *redis.Subscription:
				if v.Kind == "subscribe" || v.Kind == "ssubscribe" {
					b.mu.Lock()
					if c := b.pending[v.Channel]; c != nil {
						close(c)
						delete(b.pending, v.Channel)
					}
					b.mu.Unlock()
				}
			}
		}
	}()
}

// dispatch hands one received envelope to the room's subscriptions.
func (b *Broker) dispatch(channel, payload string) {
	room, ok := b.roomOf(channel)
	if !ok {
		return
	}
	env, err := decode(room, []byte(payload))
	if err != nil {
		b.cfg.Logger.Warn("redisbroker: dropped an envelope that does not decode", "room", room, "error", err)
		return
	}
	b.mu.Lock()
	rs := b.rooms[room]
	var subs []*subscription
	if rs != nil {
		subs = make([]*subscription, 0, len(rs.subs))
		for s := range rs.subs {
			subs = append(subs, s)
		}
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		if !s.done {
			s.deliver(env)
		}
		s.mu.Unlock()
	}
}

// Cancel ends this subscription; the node unsubscribes from the room's
// channel with its last one.
func (s *subscription) Cancel(ctx context.Context) error {
	b := s.b
	s.mu.Lock()
	already := s.done
	s.done = true
	s.mu.Unlock()
	if already {
		return nil
	}
	b.mu.Lock()
	rs := b.rooms[s.room]
	if rs == nil || rs.settling != nil {
		// Not ours to end (a Subscribe of the room is in flight, and it
		// owns the entry): just stop delivering.
		if rs != nil {
			delete(rs.subs, s)
		}
		b.mu.Unlock()
		return nil
	}
	delete(rs.subs, s)
	if len(rs.subs) > 0 || b.closed {
		b.mu.Unlock()
		return nil
	}
	rs.settling = make(chan struct{})
	b.mu.Unlock()

	ctx, cancel := b.bound(ctx)
	defer cancel()
	var err error
	if rs.ps != nil {
		err = rs.ps.Close()
	} else {
		err = b.shared.Unsubscribe(ctx, b.channel(s.room))
	}
	b.mu.Lock()
	if b.rooms[s.room] == rs {
		delete(b.rooms, s.room)
	}
	close(rs.settling)
	rs.settling = nil
	b.mu.Unlock()
	return err
}
