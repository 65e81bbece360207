package redisbroker_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hub"
	"github.com/fiberws/fiberws/hub/redisbroker"
	"github.com/fiberws/fiberws/internal/testproc"
	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

var ctx = context.Background()

// node is one fiberws node: a Fiber app serving /rooms/:room/:who, a hub
// on its own Broker, all on one Redis.
type node struct {
	name   string
	broker *redisbroker.Broker
	client *redis.Client
	h      *hub.Hub
	srv    *fiberwstest.Server
	conns  sync.Map // who -> *fiberws.Conn[*string]
	// joining counts the Joins in progress (their presence and greeting
	// still talking to Redis).
	joining atomic.Int64
	events  chan hub.PresenceEvent
	// greet, when set before a client dials, greets it (WithGreeting).
	greet func(hub.Greeting) (*fiberws.PreparedMessage, error)
}

// startNode starts a node on r. The route joins :room on connect, with
// presence data :who; "all:TEXT" broadcasts TEXT to the whole room, any
// other text to everyone but the sender.
func startNode(t *testing.T, name string, r *testproc.Redis, hcfg hub.Config, bcfg ...redisbroker.Config) *node {
	t.Helper()
	n := &node{name: name, events: make(chan hub.PresenceEvent, 1000)}
	n.client = redis.NewClient(&redis.Options{Addr: r.Addr(), MaxRetries: -1})
	cfg := redisbroker.Config{Prefix: "test:", Timeout: 500 * time.Millisecond, HealthCheck: 200 * time.Millisecond}
	if len(bcfg) > 0 {
		cfg.Sharded = bcfg[0].Sharded
	}
	cfg.Client = n.client
	b, err := redisbroker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.broker = b
	hcfg.Broker = b
	hcfg.OnPresence = func(ev hub.PresenceEvent) {
		select {
		case n.events <- ev:
		default:
		}
	}
	n.h = hub.New(hcfg)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	logger, _ := fiberwstest.NewLog(t)
	ws := fiberws.New(fiberws.Config{Logger: logger})
	route := fiberws.WebSocket("/rooms/:room/:who", func(ctx context.Context, c *fiberws.Conn[*string], msg *string) (*string, error) {
		room := c.Params("room")
		if msg == nil {
			n.conns.Store(c.Params("who"), c)
			opts := []hub.JoinOption{hub.WithPresence([]byte(c.Params("who")))}
			if n.greet != nil {
				opts = append(opts, hub.WithGreeting(n.greet))
			}
			n.joining.Add(1)
			defer n.joining.Add(-1)
			_, err := n.h.Join(ctx, room, c, opts...)
			return nil, err
		}
		if len(*msg) > 4 && (*msg)[:4] == "all:" {
			return nil, hub.Broadcast(ctx, n.h, room, (*msg)[4:])
		}
		return nil, hub.Broadcast(ctx, n.h, room, *msg, c)
	}, fiberws.OnConnect())
	if err := ws.Register(app, ctrl{route}); err != nil {
		t.Fatal(err)
	}
	n.srv = fiberwstest.Serve(t, app)
	t.Cleanup(func() {
		fiberwstest.Eventually(t, func() bool { return ws.Connections() == 0 }, "node %s: connections still open", name)
		_ = n.h.Close()
		_ = n.broker.Close()
		_ = n.client.Close()
	})
	return n
}

type ctrl struct{ route fiberws.Route }

func (ctrl) Prefix() string            { return "" }
func (c ctrl) Routes() []fiberws.Route { return []fiberws.Route{c.route} }

func (n *node) dial(t *testing.T, room, who string) *fiberwstest.Client {
	t.Helper()
	return n.srv.Dial(t, fmt.Sprintf("/rooms/%s/%s", room, who))
}

// waitMembers waits until room has want members on node n and no Join is
// in progress there: their presence is recorded too.
func waitMembers(t *testing.T, n *node, room string, want int) {
	t.Helper()
	fiberwstest.Eventually(t, func() bool { return n.h.Members(room) == want && n.joining.Load() == 0 }, "node %s: members of %q: %d, want %d (joins in progress: %d)",
		n.name, room, fiberwstest.Later(func() any { return n.h.Members(room) }), want, fiberwstest.Later(func() any { return n.joining.Load() }))
}

// nextEvent waits (bounded) for a presence event on node n.
func (n *node) nextEvent(t *testing.T) hub.PresenceEvent {
	t.Helper()
	select {
	case ev := <-n.events:
		return ev
	case <-time.After(fiberwstest.DefaultTimeout):
		t.Fatalf("node %s: no presence event within %v", n.name, fiberwstest.DefaultTimeout)
	}
	return hub.PresenceEvent{}
}
