package hub_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"
)

// TestMain checks, after every test and example has cleaned up, that no
// goroutine (hub writers, slow-consumer closes, connections) was left
// behind. Two fasthttp goroutines outlive a server on purpose: the
// process-wide Date header refresher, and each stopped server's worker
// pool cleaner, which sleeps up to 10s before it notices the stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

// roomCtrl serves /rooms/:room/:who: a connection joins :room on connect;
// "leave" leaves the room (staying connected), "ping" is answered "pong"
// (so a client knows its earlier messages were handled), "all:<text>"
// broadcasts text to the whole room, any other text to everyone but the
// sender.
type roomCtrl struct {
	prefix   string
	h        *hub.Hub
	sessions sync.Map // who -> *fiberws.Conn[*string]
	leaves   sync.Map // connection ID -> func()
}

func (c *roomCtrl) Prefix() string { return c.prefix }

func (c *roomCtrl) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/rooms/:room/:who", func(ctx context.Context, conn *fiberws.Conn[*string], msg *string) (*string, error) {
			room := conn.Params("room")
			switch {
			case msg == nil: // on-connect trigger
				// Stored before joining: tests look the session up as soon
				// as the hub counts the member.
				c.sessions.Store(conn.Params("who"), conn)
				leave, err := c.h.Join(ctx, room, conn)
				c.leaves.Store(conn.ID(), leave)
				return nil, err
			case *msg == "leave":
				if leave, ok := c.leaves.Load(conn.ID()); ok {
					leave.(func())()
				}
				return nil, nil
			case *msg == "ping":
				pong := "pong"
				return &pong, nil
			case len(*msg) > 4 && (*msg)[:4] == "all:":
				return nil, hub.Broadcast(ctx, c.h, room, (*msg)[4:])
			}
			return nil, hub.Broadcast(ctx, c.h, room, *msg, conn)
		}, fiberws.OnConnect()),
	}
}

func (c *roomCtrl) session(t *testing.T, who string) *fiberws.Conn[*string] {
	t.Helper()
	v, ok := c.sessions.Load(who)
	if !ok {
		t.Fatalf("no session for %q", who)
	}
	return v.(*fiberws.Conn[*string])
}

// summaries records the observers' summaries.
type summaries struct {
	mu   sync.Mutex
	list []hooks.Summary
}

func (s *summaries) OnRequest(hooks.Request) {}
func (s *summaries) OnSummary(sum hooks.Summary) {
	s.mu.Lock()
	s.list = append(s.list, sum)
	s.mu.Unlock()
}

func (s *summaries) find(who string) (hooks.Summary, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sum := range s.list {
		if sum.Params["who"] == who {
			return sum, true
		}
	}
	return hooks.Summary{}, false
}

type setup struct {
	srv  *fiberwstest.Server
	ctrl *roomCtrl
	h    *hub.Hub
	obs  *summaries
}

func start(t *testing.T, hcfg hub.Config, wcfg fiberws.Config) *setup {
	t.Helper()
	h := hub.New(hcfg)
	t.Cleanup(func() { _ = h.Close() })
	obs := &summaries{}
	wcfg.Observers = append(wcfg.Observers, obs)
	ctrl := &roomCtrl{h: h}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ws := fiberws.New(wcfg)
	if err := ws.Register(app, ctrl); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	// Cleanups run last registered first: the test's clients close, then
	// this waits for their connections to wind down, then the app stops.
	t.Cleanup(func() {
		fiberwstest.Eventually(t, func() bool { return ws.Connections() == 0 }, "connections still open: %d", fiberwstest.Later(func() any { return ws.Connections() }))
	})
	return &setup{srv: srv, ctrl: ctrl, h: h, obs: obs}
}

func waitMembers(t *testing.T, h *hub.Hub, room string, n int) {
	t.Helper()
	fiberwstest.Eventually(t, func() bool { return h.Members(room) == n }, "members of %q: got %d, want %d", room, fiberwstest.Later(func() any { return h.Members(room) }), n)
}

// ctx is the context of the tests' own hub calls.
var ctx = context.Background()

// TestConfigDefault pins hub.ConfigDefault to what SECURITY.md's "Default
// limits" table documents: 1 MiB queued per member.
func TestConfigDefault(t *testing.T) {
	if got := hub.ConfigDefault.QueueBytes; got != 1<<20 {
		t.Errorf("hub.ConfigDefault.QueueBytes = %d, SECURITY.md says 1 MiB: update SECURITY.md and this test together", got)
	}
	if got := hub.ConfigDefault.MinReadRate; got != 256<<10 {
		t.Errorf("hub.ConfigDefault.MinReadRate = %d, SECURITY.md says 256 KiB/s", got)
	}
	if got := hub.ConfigDefault.PresenceTTL; got != 30*time.Second {
		t.Errorf("hub.ConfigDefault.PresenceTTL = %v, SECURITY.md says 30s", got)
	}
	if got := hub.ConfigDefault.HistoryTTL; got != 24*time.Hour || hub.ConfigDefault.HistorySize != 0 {
		t.Errorf("hub history defaults %d messages for %v, SECURITY.md says none (24h when set)", hub.ConfigDefault.HistorySize, got)
	}
	if got := hub.ConfigDefault.BrokerTimeout; got != 5*time.Second {
		t.Errorf("hub.ConfigDefault.BrokerTimeout = %v, SECURITY.md says 5s", got)
	}
	if hub.ConfigDefault.Broker != nil {
		t.Errorf("hub.ConfigDefault.Broker is set: the default is a private in-memory broker per Hub")
	}
}

func TestThousandClientsAllReceive(t *testing.T) {
	const n = 1000
	s := start(t, hub.Config{}, fiberws.Config{})

	clients := make([]*fiberwstest.Client, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				clients[i], _, errs[i] = s.srv.TryDial(fmt.Sprintf("/rooms/big/c%d", i))
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, c := range clients {
		if errs[i] != nil {
			t.Fatalf("dial client %d: %v", i, errs[i])
		}
		t.Cleanup(func() { _ = c.Conn().Close() })
	}
	waitMembers(t, s.h, "big", n)

	start := time.Now()
	if err := hub.Broadcast(ctx, s.h, "big", map[string]string{"text": "hello everyone"}); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		mt, data, err := c.Read()
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		if mt != websocket.TextMessage || string(data) != `{"text":"hello everyone"}` {
			t.Fatalf("client %d got %q (type %d)", i, data, mt)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("delivering to %d clients took %v", n, d)
	}
	t.Logf("broadcast to %d clients delivered in %v", n, time.Since(start))
}

// TestSlowConsumerDoesNotDelayOthers: one member never reads. Large
// broadcasts fill its TCP buffers, then its queue; it must be dropped with
// 1008 while the others keep receiving every message without waiting for
// it (the write timeout is 2s: a hub that waited would stall that long).
func TestSlowConsumerDoesNotDelayOthers(t *testing.T) {
	const (
		size     = 128 << 10
		maxSteps = 600
		after    = 20 // broadcasts after the drop
	)
	const writeTimeout, closeTimeout = 2 * time.Second, time.Second
	s := start(t, hub.Config{QueueBytes: 1 << 20}, fiberws.Config{WriteTimeout: writeTimeout, CloseTimeout: closeTimeout})

	fast := []*fiberwstest.Client{
		s.srv.Dial(t, "/rooms/r/fast1"),
		s.srv.Dial(t, "/rooms/r/fast2"),
		s.srv.Dial(t, "/rooms/r/fast3"),
	}
	slowClient := s.srv.Dial(t, "/rooms/r/slow") // never reads, never leaves
	waitMembers(t, s.h, "r", 4)
	slow := s.ctrl.session(t, "slow")

	payload := make([]byte, size)
	var maxStep time.Duration
	dropped := -1
	var droppedAt time.Time
	step := 0
	for ; step < maxSteps && (dropped < 0 || step < dropped+after); step++ {
		binary.BigEndian.PutUint32(payload, uint32(step))
		begin := time.Now()
		if err := hub.Broadcast(ctx, s.h, "r", payload); err != nil {
			t.Fatal(err)
		}
		for i, c := range fast {
			mt, data, err := c.Read()
			if err != nil {
				t.Fatalf("step %d: fast client %d: %v", step, i, err)
			}
			if mt != websocket.BinaryMessage || len(data) != size || !bytes.Equal(data, payload) {
				t.Fatalf("step %d: fast client %d got a wrong message (type %d, %d bytes, seq %d)",
					step, i, mt, len(data), binary.BigEndian.Uint32(data))
			}
		}
		maxStep = max(maxStep, time.Since(begin))
		if dropped < 0 && slow.Closed() {
			dropped, droppedAt = step, time.Now()
		}
	}
	if dropped < 0 {
		t.Fatalf("slow client not dropped after %d broadcasts of %d bytes", maxSteps, size)
	}
	t.Logf("slow client dropped at broadcast %d; %d broadcasts, slowest round trip %v", dropped, step, maxStep)
	if maxStep > time.Second {
		t.Errorf("a broadcast took %v to reach the fast clients; the slow one delayed them", maxStep)
	}

	// The drop is 1008 "slow consumer", as the observers see it once the
	// connection has ended. The client stays connected without reading:
	// the server gives up on the close frame it cannot write (write
	// timeout) or on the answer that never comes (close timeout), drops
	// TCP, and the session ends.
	var sum hooks.Summary
	deadline := droppedAt.Add(writeTimeout + closeTimeout + 2*time.Second)
	for {
		var ok bool
		if sum, ok = s.obs.find("slow"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no summary for the slow client %v after its drop (write timeout %v, close timeout %v)",
				time.Since(droppedAt).Round(time.Millisecond), writeTimeout, closeTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("slow client summary %v after the drop: %d %q, closed by %s", time.Since(droppedAt).Round(time.Millisecond), sum.CloseCode, sum.CloseReason, sum.ClosedBy)
	if sum.CloseCode != fiberws.ClosePolicyViolation || sum.CloseReason != "slow consumer" {
		t.Errorf("slow client closed with %d %q, want 1008 \"slow consumer\"", sum.CloseCode, sum.CloseReason)
	}
	// Its TCP connection is gone: reading what was buffered ends in EOF
	// (or a reset), not in a timeout.
	nc := slowClient.Conn().NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(fiberwstest.DefaultTimeout))
	buf := make([]byte, 64<<10)
	for {
		if _, err := nc.Read(buf); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("the slow client's connection is still open: %v", err)
			}
			break
		}
	}
	waitMembers(t, s.h, "r", 3)
	for _, who := range []string{"fast1", "fast2", "fast3"} {
		if _, ok := s.obs.find(who); ok {
			t.Errorf("%s was closed too", who)
		}
	}
}

func TestMembersLeaveOnClose(t *testing.T) {
	s := start(t, hub.Config{}, fiberws.Config{})
	a := s.srv.Dial(t, "/rooms/x/a")
	b := s.srv.Dial(t, "/rooms/x/b")
	c := s.srv.Dial(t, "/rooms/y/c")
	waitMembers(t, s.h, "x", 2)
	waitMembers(t, s.h, "y", 1)
	if got := s.h.Rooms(); fmt.Sprint(got) != "[x y]" {
		t.Fatalf("rooms %v", got)
	}

	if code := a.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close answered %d", code)
	}
	waitMembers(t, s.h, "x", 1)

	b.Drop() // no close handshake
	waitMembers(t, s.h, "x", 0)
	if got := s.h.Rooms(); fmt.Sprint(got) != "[y]" {
		t.Fatalf("rooms after x emptied: %v", got)
	}

	// Leaving explicitly while staying connected.
	c.SendText("leave")
	waitMembers(t, s.h, "y", 0)
	if got := s.h.Rooms(); len(got) != 0 {
		t.Fatalf("rooms after all left: %v", got)
	}
	if err := hub.Broadcast(ctx, s.h, "y", "nobody hears this"); err != nil {
		t.Fatal(err)
	}
	if code := c.Close(1000, ""); code != 1000 {
		t.Fatalf("close answered %d", code)
	}
}

func TestBroadcastExceptSender(t *testing.T) {
	s := start(t, hub.Config{}, fiberws.Config{})
	a := s.srv.Dial(t, "/rooms/r/a")
	b := s.srv.Dial(t, "/rooms/r/b")
	c := s.srv.Dial(t, "/rooms/r/c")
	waitMembers(t, s.h, "r", 3)

	a.SendText("from a")     // everyone but a
	a.SendText("all:to all") // everyone, a included
	for name, cl := range map[string]*fiberwstest.Client{"b": b, "c": c} {
		if got := cl.ReadText(); got != "from a" {
			t.Fatalf("%s got %q, want %q", name, got, "from a")
		}
		if got := cl.ReadText(); got != "to all" {
			t.Fatalf("%s got %q, want %q", name, got, "to all")
		}
	}
	// Per member, messages keep broadcast order: had a received its own
	// message, it would come before "to all".
	if got := a.ReadText(); got != "to all" {
		t.Fatalf("sender got %q, want only %q", got, "to all")
	}
}

// TestSharedBroker: two hubs on one broker behave as two nodes: a
// broadcast reaches the members of both, and "except" still leaves out the
// sender only. With the in-process broker the envelope travels as it is;
// with wireBroker as plain data, the way a networked broker ships it.
func TestSharedBroker(t *testing.T) {
	for name, broker := range map[string]hub.Broker{"memory": hub.NewMemoryBroker(), "wire": wireBroker{hub.NewMemoryBroker()}} {
		t.Run(name, func(t *testing.T) { sharedBroker(t, broker) })
	}
}

func sharedBroker(t *testing.T, broker hub.Broker) {
	h1 := hub.New(hub.Config{Broker: broker})
	h2 := hub.New(hub.Config{Broker: broker})
	t.Cleanup(func() { _ = h1.Close(); _ = h2.Close() })
	c1, c2 := &roomCtrl{prefix: "/one", h: h1}, &roomCtrl{prefix: "/two", h: h2}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ws := fiberws.New()
	if err := ws.Register(app, c1, c2); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	t.Cleanup(func() {
		fiberwstest.Eventually(t, func() bool { return ws.Connections() == 0 }, "connections still open: %d", fiberwstest.Later(func() any { return ws.Connections() }))
	})
	a := srv.Dial(t, "/one/rooms/r/a")
	b := srv.Dial(t, "/two/rooms/r/b")
	c := srv.Dial(t, "/two/rooms/r/c")
	waitMembers(t, h1, "r", 1)
	waitMembers(t, h2, "r", 2)

	a.SendText("hi from node one") // to everyone but a
	b.SendText("hi from node two") // to everyone but b, on both nodes
	b.SendText("all:hello all")
	want := map[string][]string{
		"a": {"hi from node two", "hello all"},
		"b": {"hi from node one", "hello all"},
		"c": {"hi from node one", "hi from node two", "hello all"},
	}
	for name, cl := range map[string]*fiberwstest.Client{"a": a, "b": b, "c": c} {
		var got []string
		for range want[name] {
			got = append(got, cl.ReadText())
		}
		slices.Sort(got)
		exp := slices.Sorted(slices.Values(want[name]))
		if !slices.Equal(got, exp) {
			t.Errorf("%s got %q, want %q", name, got, exp)
		}
	}
}

// wireBroker ships every envelope as JSON of its exported fields, as a
// networked broker would: the hubs receive plain data, never the
// publisher's objects.
type wireBroker struct{ *hub.MemoryBroker }

func (b wireBroker) Publish(ctx context.Context, room string, env hub.Envelope) error {
	data, err := json.Marshal(env)
	if err != nil {
		return err
	}
	var shipped hub.Envelope
	if err := json.Unmarshal(data, &shipped); err != nil {
		return err
	}
	return b.MemoryBroker.Publish(ctx, room, shipped)
}

// TestSendKeepsOrder: a message queued for one member right after Join
// comes before every broadcast published after it, and only it gets it.
func TestSendKeepsOrder(t *testing.T) {
	s := start(t, hub.Config{}, fiberws.Config{})
	a := s.srv.Dial(t, "/rooms/r/a")
	b := s.srv.Dial(t, "/rooms/r/b")
	waitMembers(t, s.h, "r", 2)
	sa := s.ctrl.session(t, "a")
	for i := range 50 {
		if err := hub.Send(ctx, s.h, sa, fmt.Sprintf("private %d", i)); err != nil {
			t.Fatal(err)
		}
		if err := hub.Broadcast(ctx, s.h, "r", fmt.Sprintf("public %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		if got, want := a.ReadText(), fmt.Sprintf("private %d", i); got != want {
			t.Fatalf("a got %q, want %q", got, want)
		}
		if got, want := a.ReadText(), fmt.Sprintf("public %d", i); got != want {
			t.Fatalf("a got %q, want %q", got, want)
		}
		if got, want := b.ReadText(), fmt.Sprintf("public %d", i); got != want {
			t.Fatalf("b got %q, want %q", got, want)
		}
	}
	if err := hub.Send(ctx, s.h, nil, "x"); err != hub.ErrNotMember {
		t.Fatalf("Send to a non-member: %v, want ErrNotMember", err)
	}
}

func TestClosedHub(t *testing.T) {
	s := start(t, hub.Config{}, fiberws.Config{})
	a := s.srv.Dial(t, "/rooms/r/a")
	waitMembers(t, s.h, "r", 1)
	if err := s.h.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.h.Members("r"); n != 0 {
		t.Fatalf("members after Close: %d", n)
	}
	if err := hub.Broadcast(ctx, s.h, "r", "late"); err != hub.ErrClosed {
		t.Fatalf("Broadcast after Close: %v, want ErrClosed", err)
	}
	leave, err := s.h.Join(ctx, "r", s.ctrl.session(t, "a"))
	if err != nil || s.h.Members("r") != 0 {
		t.Fatalf("Join after Close: err %v, members %d", err, s.h.Members("r"))
	}
	leave()
	// The connection itself stays open: closing it is the server's job.
	if code := a.Close(1000, ""); code != 1000 {
		t.Fatalf("close answered %d", code)
	}
}

// A connection that left its last room can join again and receives the
// room's broadcasts; joining and leaving in a loop does not grow memory
// (the hub registers one cleanup per connection, not one per join).
func TestRejoinAndJoinLeaveLoop(t *testing.T) {
	s := start(t, hub.Config{}, fiberws.Config{})
	a := s.srv.Dial(t, "/rooms/r/a")
	waitMembers(t, s.h, "r", 1)
	sa := s.ctrl.session(t, "a")
	a.SendText("leave")
	waitMembers(t, s.h, "r", 0)
	if err := hub.Send(ctx, s.h, sa, "x"); err != hub.ErrNotMember {
		t.Fatalf("Send after leaving every room: %v, want ErrNotMember", err)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const cycles = 50000
	for range cycles {
		leave, err := s.h.Join(ctx, "loop", sa)
		if err != nil {
			t.Fatal(err)
		}
		leave()
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > 1<<20 {
		t.Fatalf("heap grew by %d bytes over %d join/leave cycles", grew, cycles)
	}

	if _, err := s.h.Join(ctx, "again", sa); err != nil {
		t.Fatal(err)
	}
	if err := hub.Broadcast(ctx, s.h, "again", "welcome back"); err != nil {
		t.Fatal(err)
	}
	if got := a.ReadText(); got != "welcome back" {
		t.Fatalf("got %q", got)
	}
}
