package hub_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
	"github.com/gofiber/fiber/v2"
)

// presenceCtrl serves /p/:room/:who: a connection joins :room with its
// name as presence data and a greeting of the member list and history;
// every text message is broadcast to the room.
type presenceCtrl struct{ h *hub.Hub }

func (presenceCtrl) Prefix() string { return "/p" }

func (c presenceCtrl) Routes() []fiberws.Route {
	return []fiberws.Route{fiberws.WebSocket("/:room/:who", func(ctx context.Context, conn *fiberws.Conn[*string], msg string) (*string, error) {
		return nil, hub.Broadcast(ctx, c.h, conn.Params("room"), msg)
	}, fiberws.OnOpen(func(ctx context.Context, conn *fiberws.Conn[*string]) error {
		_, err := c.h.Join(ctx, conn.Params("room"), conn, hub.WithPresence([]byte(conn.Params("who"))),
			hub.WithGreeting(func(g hub.Greeting) (*fiberws.PreparedMessage, error) {
				var names, history []string
				for _, m := range g.Members {
					names = append(names, string(m.Data))
				}
				for _, env := range g.History {
					history = append(history, string(env.Data))
				}
				return fiberws.Prepare("welcome " + strings.Join(names, ",") + " history " + strings.Join(history, ","))
			}))
		return err
	}))}
}

func startPresence(t *testing.T, cfg hub.Config) (*fiberwstest.Server, *hub.Hub) {
	t.Helper()
	cfg.PresenceMessage = func(ev hub.PresenceEvent) (*fiberws.PreparedMessage, error) {
		kind := "left"
		if ev.Joined {
			kind = "joined"
		}
		return fiberws.Prepare(string(ev.Member.Data) + " " + kind)
	}
	h := hub.New(cfg)
	t.Cleanup(func() { _ = h.Close() })
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ws := fiberws.New()
	if err := ws.Register(app, presenceCtrl{h}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	t.Cleanup(func() {
		fiberwstest.Eventually(t, func() bool { return ws.Connections() == 0 }, "connections still open")
	})
	return srv, h
}

// TestPresenceAndGreetingInMemory: the in-memory default does what the
// Redis broker does: members listed with their data, joins and leaves
// announced to the others (PresenceMessage), a greeting first with the
// member list and the history, and no history message again after it.
func TestPresenceAndGreetingInMemory(t *testing.T) {
	srv, h := startPresence(t, hub.Config{HistorySize: 2})
	ann := srv.Dial(t, "/p/r/ann")
	if got := ann.ReadText(); got != "welcome ann history " {
		t.Fatalf("ann's greeting %q", got)
	}
	for i := range 3 {
		ann.SendText(fmt.Sprintf("m%d", i))
		ann.ReadText()
	}
	bob := srv.Dial(t, "/p/r/bob")
	if got := bob.ReadText(); got != "welcome ann,bob history m1,m2" {
		t.Fatalf("bob's greeting %q", got)
	}
	if got := ann.ReadText(); got != "bob joined" {
		t.Fatalf("ann got %q, want bob's join", got)
	}
	ann.SendText("m3")
	if got := bob.ReadText(); got != "m3" {
		t.Fatalf("bob got %q after the greeting, want m3", got)
	}
	members, err := h.Presence(ctx, "r")
	if err != nil || len(members) != 2 {
		t.Fatalf("presence %v, %v", members, err)
	}
	if code := bob.Close(1000, ""); code != 1000 {
		t.Fatalf("close answered %d", code)
	}
	for {
		if got := ann.ReadText(); got == "bob left" {
			break
		} else if got != "m3" {
			t.Fatalf("ann got %q, want bob's leave", got)
		}
	}
	fiberwstest.Eventually(t, func() bool {
		members, _ := h.Presence(ctx, "r")
		return len(members) == 1
	}, "bob still listed after leaving")
}

// TestPresenceExpiresInMemory: an entry nobody refreshes expires after the
// TTL (here, one written straight into the presence, as a dead node's
// would be), and the hub that finds it announces the leave.
func TestPresenceExpiresInMemory(t *testing.T) {
	const ttl = 300 * time.Millisecond
	broker := hub.NewMemoryBroker()
	srv, h := startPresence(t, hub.Config{Broker: broker, PresenceTTL: ttl})
	ann := srv.Dial(t, "/p/r/ann")
	ann.ReadText()
	if _, err := broker.AddPresence(ctx, "r", hub.Member{ID: "dead.1", Node: "dead", Data: []byte("ghost")}, ttl); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(fiberwstest.DefaultTimeout)
	for {
		_ = ann.Conn().SetReadDeadline(deadline)
		_, data, err := ann.Conn().ReadMessage()
		if err != nil {
			t.Fatalf("no leave for the expired member: %v", err)
		}
		if string(data) == "ghost left" {
			break
		}
	}
	if members, _ := h.Presence(ctx, "r"); len(members) != 1 || string(members[0].Data) != "ann" {
		t.Fatalf("presence after the expiry %v, want ann alone", members)
	}
}

// TestEmptyRoomIsAnError: a room needs a name.
func TestEmptyRoomIsAnError(t *testing.T) {
	h := hub.New()
	defer h.Close()
	if _, err := h.Join(ctx, "", nil); err == nil {
		t.Fatal("Join of an empty room name: no error")
	}
}

// TestSeqGrowsAcrossExpiryInMemory: as TestSeqGrowsAcrossExpiry in
// hub/redisbroker, for the in-process history.
func TestSeqGrowsAcrossExpiryInMemory(t *testing.T) {
	b := hub.NewMemoryBroker()
	const ttl = 50 * time.Millisecond
	var last uint64
	for round := range 2 {
		for i := range 3 {
			env := hub.Envelope{Type: hooks.Text, Data: []byte{byte('0' + i)}, Origin: "t"}
			if err := b.PublishKept(context.Background(), "seq", env, 5, ttl); err != nil {
				t.Fatal(err)
			}
		}
		history, _ := b.History(context.Background(), "seq")
		if len(history) != 3 {
			t.Fatalf("round %d: history %+v", round, history)
		}
		for _, env := range history {
			if env.Seq <= last {
				t.Fatalf("round %d: Seq %d after %d", round, env.Seq, last)
			}
			last = env.Seq
		}
		time.Sleep(3 * ttl) // the history and its counter expire: what is tested
	}
}

// TestConnsListsTheRoom: Conns lists the local connections of a room in
// connection order, as the typed Conns they joined as, and follows joins
// and leaves.
func TestConnsListsTheRoom(t *testing.T) {
	srv, h := startPresence(t, hub.Config{})
	ann := srv.Dial(t, "/p/lobby/ann")
	ann.ReadText() // welcome
	bob := srv.Dial(t, "/p/lobby/bob")
	bob.ReadText()
	ann.ReadText() // bob joined
	names := func() string {
		var out []string
		for _, r := range h.Conns("lobby") {
			c, ok := r.(*fiberws.Conn[*string])
			if !ok {
				t.Fatalf("a member is a %T", r)
			}
			out = append(out, c.Params("who"))
		}
		return strings.Join(out, ",")
	}
	if got := names(); got != "ann,bob" {
		t.Fatalf("Conns: %s, want ann,bob", got)
	}
	bobConn := h.Conns("lobby")[1]
	if !h.InRoom("lobby", bobConn) || h.InRoom("kitchen", bobConn) {
		t.Fatal("InRoom does not follow bob's rooms")
	}
	if got := h.Conns("nowhere"); len(got) != 0 {
		t.Fatalf("Conns of an empty room: %v", got)
	}
	bob.Close(fiberws.CloseNormalClosure, "")
	fiberwstest.Eventually(t, func() bool { return names() == "ann" }, "Conns after bob left: %s", fiberwstest.Later(func() any { return names() }))
	if h.InRoom("lobby", bobConn) {
		t.Fatal("bob is InRoom after leaving")
	}
}
