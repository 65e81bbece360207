package main

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	contribws "github.com/gofiber/contrib/websocket"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hub"
	"github.com/fiberws/fiberws/hub/redisbroker"
)

const room = "bench"

// broadcaster is the server side of the broadcast runs: raw contrib
// members written to by a plain loop, or fiberws members of a hub.
type broadcaster struct {
	mu       sync.Mutex
	raw      map[*contribws.Conn]struct{}
	sessions map[*fiberws.Conn[*string]]struct{} // fiberws members, for the plain-loop variant
	hub      *hub.Hub
}

func newBroadcaster() *broadcaster {
	return &broadcaster{raw: map[*contribws.Conn]struct{}{}, sessions: map[*fiberws.Conn[*string]]struct{}{}}
}

// rawMember keeps a contrib connection in the raw set until it closes.
func (b *broadcaster) rawMember(c *contribws.Conn) {
	b.mu.Lock()
	b.raw[c] = struct{}{}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.raw, c)
		b.mu.Unlock()
	}()
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

// hubRoute is the fiberws broadcast route: every connection joins the
// hub's room at connect and sends nothing. With redisURL, the hub's broker
// is a redisbroker on it, its keys and channels under redisPrefix.
func (b *broadcaster) hubRoute(redisURL string) (fiberws.Route, error) {
	var cfg hub.Config
	if redisURL != "" {
		rb, err := redisbroker.New(redisbroker.Config{URL: redisURL, Prefix: redisPrefix(os.Getppid())})
		if err != nil {
			return fiberws.Route{}, err
		}
		cfg.Broker = rb
	}
	b.hub = hub.New(cfg)
	h := b.hub
	return fiberws.WebSocket("/bc", func(ctx context.Context, c *fiberws.Conn[*string], msg *string) (*string, error) {
		if msg == nil {
			b.mu.Lock()
			b.sessions[c] = struct{}{}
			b.mu.Unlock()
			c.Cleanup(func() {
				b.mu.Lock()
				delete(b.sessions, c)
				b.mu.Unlock()
			})
			_, err := h.Join(ctx, room, c)
			return nil, err
		}
		return nil, nil
	}, fiberws.OnConnect()), nil
}

// redisPrefix is the Redis key prefix of the server children of the bench
// process pid (theirs is the parent's), so that runs sharing one Redis
// (-redis) do not hear each other.
func redisPrefix(pid int) string { return "fiberws-bench:" + strconv.Itoa(pid) + ":" }

// burstResult is what /ctl/burst answers.
type burstResult struct {
	Sent   int     `json:"sent"`
	Errors int     `json:"errors"`
	Ms     float64 `json:"ms"`
	Err    string  `json:"error,omitempty"`
}

// burst publishes n messages to the room through the hub, one after the
// other as fast as hub.Broadcast returns: "0-xxx…", "1-xxx…", each of
// size bytes at least.
func (b *broadcaster) burst(n, size int) burstResult {
	var res burstResult
	if b.hub == nil {
		res.Err = "no hub"
		return res
	}
	pad := strings.Repeat("x", max(0, size-6))
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; i++ {
		if err := hub.Broadcast(ctx, b.hub, room, strconv.Itoa(i)+"-"+pad); err != nil {
			res.Errors++
			if res.Err == "" {
				res.Err = err.Error()
			}
			continue
		}
		res.Sent++
	}
	res.Ms = float64(time.Since(start)) / float64(time.Millisecond)
	return res
}

func (b *broadcaster) members() int {
	if b.hub != nil {
		return b.hub.Members(room)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.raw)
}

// broadcast sends msg to every member: through the hub (which queues and
// returns), with a plain loop of SendPrepared over the fiberws sessions
// (loop), or with the plain loop a hand-written contrib server has.
func (b *broadcaster) broadcast(msg string, loop bool) (int, error) {
	if b.hub != nil && loop {
		p, err := fiberws.Prepare(msg)
		if err != nil {
			return 0, err
		}
		b.mu.Lock()
		sessions := make([]*fiberws.Conn[*string], 0, len(b.sessions))
		for s := range b.sessions {
			sessions = append(sessions, s)
		}
		b.mu.Unlock()
		for _, s := range sessions {
			_ = s.SendPrepared(p)
		}
		return len(sessions), nil
	}
	if b.hub != nil {
		return b.hub.Members(room), hub.Broadcast(context.Background(), b.hub, room, msg)
	}
	b.mu.Lock()
	conns := make([]*contribws.Conn, 0, len(b.raw))
	for c := range b.raw {
		conns = append(conns, c)
	}
	b.mu.Unlock()
	if len(conns) == 0 {
		return 0, errors.New("no members")
	}
	data := []byte(msg)
	for _, c := range conns {
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_ = c.WriteMessage(contribws.TextMessage, data)
	}
	return len(conns), nil
}
