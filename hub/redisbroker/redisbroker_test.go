package redisbroker_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
	"github.com/fiberws/fiberws/hub/redisbroker"
	"github.com/fiberws/fiberws/internal/testproc"
)

// TestBroadcastAcrossNodes: two nodes on one Redis behave as one hub: a
// broadcast reaches the room's members on both, "everyone but the sender"
// holds across nodes, and a room's messages arrive in publish order.
func TestBroadcastAcrossNodes(t *testing.T) {
	for name, sharded := range map[string]bool{"classic": false, "sharded": true} {
		t.Run(name, func(t *testing.T) { broadcastAcrossNodes(t, redisbroker.Config{Sharded: sharded}) })
	}
}

// broadcastAcrossNodes runs TestBroadcastAcrossNodes with classic or
// sharded pub/sub (Redis 7 has SSUBSCRIBE on a standalone server too).
func broadcastAcrossNodes(t *testing.T, bcfg redisbroker.Config) {
	r := testproc.StartRedis(t)
	a, b := startNode(t, "a", r, hub.Config{}, bcfg), startNode(t, "b", r, hub.Config{}, bcfg)
	ann := a.dial(t, "lobby", "ann")
	bob := b.dial(t, "lobby", "bob")
	cy := b.dial(t, "lobby", "cy")
	waitMembers(t, a, "lobby", 1)
	waitMembers(t, b, "lobby", 2)

	ann.SendText("hi from a") // to bob and cy, not ann
	for _, c := range []*fiberwstest.Client{bob, cy} {
		if got := c.ReadText(); got != "hi from a" {
			t.Fatalf("got %q", got)
		}
	}
	bob.SendText("hi from b") // to ann and cy, not bob
	for _, c := range []*fiberwstest.Client{ann, cy} {
		if got := c.ReadText(); got != "hi from b" {
			t.Fatalf("got %q", got)
		}
	}
	const n = 500
	for i := range n {
		ann.SendText(fmt.Sprintf("all:%d", i))
	}
	for _, c := range []*fiberwstest.Client{ann, bob, cy} {
		for i := range n {
			if got, want := c.ReadText(), fmt.Sprint(i); got != want {
				t.Fatalf("message %d is %q: out of order", i, got)
			}
		}
	}
}

// TestSubscribedOnlyWhileMembers: a node subscribes to a room's channel
// with its first member and unsubscribes with its last, so it receives no
// traffic of rooms it has no members in.
func TestSubscribedOnlyWhileMembers(t *testing.T) {
	r := testproc.StartRedis(t)
	a := startNode(t, "a", r, hub.Config{})
	numsub := func() int64 {
		res, err := a.client.PubSubNumSub(ctx, "test:{quiet}").Result()
		if err != nil {
			t.Fatal(err)
		}
		return res["test:{quiet}"]
	}
	if n := numsub(); n != 0 {
		t.Fatalf("%d subscribers before any member", n)
	}
	c := a.dial(t, "quiet", "ann")
	waitMembers(t, a, "quiet", 1)
	if n := numsub(); n != 1 {
		t.Fatalf("%d subscribers with one member, want 1", n)
	}
	if code := c.Close(1000, ""); code != 1000 {
		t.Fatalf("close answered %d", code)
	}
	fiberwstest.Eventually(t, func() bool { return numsub() == 0 }, "still subscribed after the last member left")
}

// TestPresenceAcrossNodes: every node lists the room's members of all
// nodes with their data, and hears of joins and leaves anywhere.
func TestPresenceAcrossNodes(t *testing.T) {
	r := testproc.StartRedis(t)
	a, b := startNode(t, "a", r, hub.Config{}), startNode(t, "b", r, hub.Config{})
	a.dial(t, "lobby", "ann")
	if ev := a.nextEvent(t); !ev.Joined || string(ev.Member.Data) != "ann" {
		t.Fatalf("a heard %+v, want ann's join", ev)
	}
	bob := b.dial(t, "lobby", "bob")
	for _, n := range []*node{a, b} {
		if ev := n.nextEvent(t); !ev.Joined || string(ev.Member.Data) != "bob" || ev.Member.Node != b.h.ID() {
			t.Fatalf("%s heard %+v, want bob's join on b", n.name, ev)
		}
	}
	for _, n := range []*node{a, b} {
		if got := names(t, n, "lobby"); got != "ann,bob" {
			t.Fatalf("%s lists %s, want ann,bob", n.name, got)
		}
	}
	if code := bob.Close(1000, ""); code != 1000 {
		t.Fatalf("close answered %d", code)
	}
	if ev := a.nextEvent(t); ev.Joined || ev.Expired || string(ev.Member.Data) != "bob" {
		t.Fatalf("a heard %+v, want bob's leave", ev)
	}
	if got := names(t, a, "lobby"); got != "ann" {
		t.Fatalf("a lists %s after bob left, want ann", got)
	}
}

func names(t *testing.T, n *node, room string) string {
	t.Helper()
	members, err := n.h.Presence(ctx, room)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range members {
		out = append(out, string(m.Data))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// TestPresenceExpiresWhenANodeDies: a node that loses Redis without
// saying goodbye (its client closed, its members never leave) has its
// members expire after the presence TTL; the other node announces their
// leave, as expired.
func TestPresenceExpiresWhenANodeDies(t *testing.T) {
	const ttl = time.Second
	r := testproc.StartRedis(t)
	a, b := startNode(t, "a", r, hub.Config{PresenceTTL: ttl}), startNode(t, "b", r, hub.Config{PresenceTTL: ttl})
	a.dial(t, "lobby", "ann")
	a.nextEvent(t)
	b.dial(t, "lobby", "bob")
	if ev := a.nextEvent(t); !ev.Joined || string(ev.Member.Data) != "bob" {
		t.Fatalf("a heard %+v, want bob's join", ev)
	}
	_ = b.client.Close() // b "crashes": no leave, no refresh
	crashed := time.Now()
	for {
		ev := a.nextEvent(t)
		if !ev.Joined && string(ev.Member.Data) == "bob" {
			if !ev.Expired {
				t.Fatalf("bob's leave is not marked expired: %+v", ev)
			}
			break
		}
	}
	if d := time.Since(crashed); d > 2*ttl+time.Second {
		t.Fatalf("bob expired %v after b crashed, TTL %v", d, ttl)
	}
	if got := names(t, a, "lobby"); got != "ann" {
		t.Fatalf("a lists %s, want ann", got)
	}
}

// TestHistoryAndGreeting: a room keeps its last HistorySize messages,
// across nodes and in order; a member joining WithGreeting gets them
// first, and never one of them again live.
func TestHistoryAndGreeting(t *testing.T) {
	r := testproc.StartRedis(t)
	a, b := startNode(t, "a", r, hub.Config{HistorySize: 3}), startNode(t, "b", r, hub.Config{HistorySize: 3})
	ann := a.dial(t, "lobby", "ann")
	waitMembers(t, a, "lobby", 1)
	for i := range 5 {
		ann.SendText(fmt.Sprintf("all:m%d", i))
		ann.ReadText()
	}
	history, err := b.h.History(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, env := range history {
		got = append(got, string(env.Data))
	}
	if strings.Join(got, ",") != "m2,m3,m4" {
		t.Fatalf("history %v, want m2,m3,m4", got)
	}
	// A greeting built from presence and history, on the other node.
	greeted := make(chan hub.Greeting, 1)
	b.greet = func(g hub.Greeting) (*fiberws.PreparedMessage, error) {
		greeted <- g
		var texts []string
		for _, env := range g.History {
			texts = append(texts, string(env.Data))
		}
		return fiberws.Prepare("welcome " + strings.Join(texts, ","))
	}
	cy := b.dial(t, "lobby", "cy")
	if got := cy.ReadText(); got != "welcome m2,m3,m4" {
		t.Fatalf("cy's first message %q", got)
	}
	if g := <-greeted; len(g.Members) != 2 {
		t.Fatalf("greeting lists %d members, want ann and cy", len(g.Members))
	}
	ann.SendText("all:m5")
	if got := cy.ReadText(); got != "m5" {
		t.Fatalf("cy got %q after the greeting, want m5", got)
	}
}

// TestRedisRestart: with Redis down, a broadcast fails within the
// broker's timeout (it never hangs) and this node's members still get it;
// once Redis is back, the subscriptions come back by themselves and
// messages cross nodes again within 5s.
func TestRedisRestart(t *testing.T) {
	r := testproc.StartRedis(t)
	a, b := startNode(t, "a", r, hub.Config{}), startNode(t, "b", r, hub.Config{})
	ann := a.dial(t, "lobby", "ann")
	al := a.dial(t, "lobby", "al")
	bob := b.dial(t, "lobby", "bob")
	waitMembers(t, a, "lobby", 2)
	waitMembers(t, b, "lobby", 1)
	ann.SendText("before")
	if got := bob.ReadText(); got != "before" {
		t.Fatalf("bob got %q", got)
	}
	al.ReadText()

	r.Stop()
	began := time.Now()
	err := hub.Broadcast(ctx, a.h, "lobby", "while down")
	if err == nil {
		t.Fatal("Broadcast with Redis down returned nil")
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("Broadcast with Redis down took %v", d)
	}
	if !strings.Contains(err.Error(), "this node only") {
		t.Fatalf("Broadcast error %v does not say it reached this node only", err)
	}
	for _, c := range []*fiberwstest.Client{ann, al} { // local members still served
		if got := c.ReadText(); got != "while down" {
			t.Fatalf("local member got %q", got)
		}
	}

	r.Start()
	restarted := time.Now()
	got := make(chan string, 100)
	go func() { // bob reads on; one read deadline for the whole wait
		_ = bob.Conn().SetReadDeadline(restarted.Add(6 * time.Second))
		for {
			_, data, err := bob.Conn().ReadMessage()
			if err != nil {
				t.Logf("bob's read: %v", err)
				close(got)
				return
			}
			got <- string(data)
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case msg, ok := <-got:
			if !ok {
				t.Fatal("no message crossed nodes within 5s of Redis coming back")
			}
			if strings.HasPrefix(msg, "after") {
				break wait
			}
		case <-tick.C:
			if time.Since(restarted) > 5*time.Second {
				t.Fatal("no message crossed nodes within 5s of Redis coming back")
			}
			_ = hub.Broadcast(ctx, a.h, "lobby", "after")
		}
	}
	t.Logf("cross-node delivery back %v after Redis restarted", time.Since(restarted).Round(time.Millisecond))
}

// TestStuckMemberHoldsUpNoDelivery: a member that never reads, on the
// receiving node, does not hold up that node's subscription: the other
// members there get every message, and the publisher on the other node is
// not held back by it.
//
// Members of another node push no publisher back (hub.BroadcastPrepared):
// a reader that falls a whole QueueBytes behind is dropped, however fast
// it reads. So the publisher here stays at most window messages ahead of
// the reading member (a quarter of its budget), as a client protocol with
// acknowledgements would: on a loaded machine the reader's goroutine can
// lag a burst at Redis speed by more than the budget. The stuck member is
// never waited for: were it holding up the subscription, the reading
// member would stop and so would the publisher, past the bound below.
func TestStuckMemberHoldsUpNoDelivery(t *testing.T) {
	const n, window = 5000, 100
	r := testproc.StartRedis(t)
	a, b := startNode(t, "a", r, hub.Config{}), startNode(t, "b", r, hub.Config{})
	b.dial(t, "lobby", "stuck") // never reads
	fast := b.dial(t, "lobby", "fast")
	waitMembers(t, b, "lobby", 2)
	read := make(chan error, 1)
	var got atomic.Int64
	go func() {
		for i := range n {
			_, data, err := fast.Read()
			if err != nil {
				read <- fmt.Errorf("after %d messages: %w", i, err)
				return
			}
			if want := fmt.Sprintf("%d ", i); !strings.HasPrefix(string(data), want) {
				read <- fmt.Errorf("message %d starts %q", i, data[:min(10, len(data))])
				return
			}
			got.Add(1)
		}
		read <- nil
	}()
	began := time.Now()
	msg := strings.Repeat("x", 1000)
	for i := range n {
		for int64(i)-got.Load() >= window {
			select {
			case err := <-read:
				t.Fatalf("the reading member stopped after %d of %d published: %v", got.Load(), i, err)
			case <-time.After(100 * time.Microsecond):
			}
			if time.Since(began) > 20*time.Second {
				t.Fatalf("the reading member got %d of %d messages in %v: delivery on its node is held up", got.Load(), i, time.Since(began))
			}
		}
		if err := hub.Broadcast(ctx, a.h, "lobby", fmt.Sprintf("%d %s", i, msg)); err != nil {
			t.Fatal(err)
		}
	}
	published := time.Since(began)
	if published > 20*time.Second {
		t.Fatalf("publishing %d messages took %v: the stuck member held the publisher back", n, published)
	}
	select {
	case err := <-read:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the reading member did not get every message within 30s")
	}
	if st := b.h.Stats(); st.SlowConsumers != 1 {
		t.Errorf("node b dropped %d slow consumers, want 1 (the stuck member, past its budget)", st.SlowConsumers)
	}
	t.Logf("%d messages of 1 KB published in %v, all received by the reading member", n, published.Round(time.Millisecond))
}

// TestGreetingNeitherRepeatsNorSkips: while one node publishes without a
// pause, members join the room on the other node with a greeting of the
// history: the first live message each gets is the one right after the
// greeting's last, never one of the history again (a message can be in
// the history and on its way through pub/sub at once).
func TestGreetingNeitherRepeatsNorSkips(t *testing.T) {
	r := testproc.StartRedis(t)
	a, b := startNode(t, "a", r, hub.Config{HistorySize: 5}), startNode(t, "b", r, hub.Config{HistorySize: 5})
	a.dial(t, "lobby", "publisher")
	b.dial(t, "lobby", "anchor") // keeps b subscribed throughout
	waitMembers(t, a, "lobby", 1)
	waitMembers(t, b, "lobby", 1)
	stop := make(chan struct{})
	published := make(chan struct{})
	go func() {
		defer close(published)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_ = hub.Broadcast(ctx, a.h, "lobby", strconv.Itoa(i))
			time.Sleep(200 * time.Microsecond)
		}
	}()
	defer func() { close(stop); <-published }()
	b.greet = func(g hub.Greeting) (*fiberws.PreparedMessage, error) {
		last := "-1"
		if n := len(g.History); n > 0 {
			last = string(g.History[n-1].Data)
		}
		return fiberws.Prepare("last " + last)
	}
	for j := range 20 {
		c := b.dial(t, "lobby", fmt.Sprintf("joiner%d", j))
		greeting := c.ReadText()
		last, err := strconv.Atoi(strings.TrimPrefix(greeting, "last "))
		if err != nil {
			t.Fatalf("greeting %q", greeting)
		}
		next, err := strconv.Atoi(c.ReadText())
		if err != nil {
			t.Fatal(err)
		}
		if last >= 0 && next != last+1 {
			t.Fatalf("join %d: greeting ends at %d, first live message %d", j, last, next)
		}
		if code := c.Close(1000, ""); code != 1000 {
			t.Fatalf("close answered %d", code)
		}
	}
}

// TestSeqGrowsAcrossExpiry: a room's history numbers its messages in
// publish order, and a history that expired starts above where it ended,
// so a greeting's skip never mistakes a new message for an old one.
func TestSeqGrowsAcrossExpiry(t *testing.T) {
	r := testproc.StartRedis(t)
	n := startNode(t, "a", r, hub.Config{})
	const ttl = 100 * time.Millisecond
	var last uint64
	for round := range 2 {
		for i := range 3 {
			env := hub.Envelope{Type: hooks.Text, Data: []byte(strconv.Itoa(i)), Origin: "t", ID: fmt.Sprint(round, i)}
			if err := n.broker.PublishKept(ctx, "seq", env, 5, ttl); err != nil {
				t.Fatal(err)
			}
		}
		history, err := n.broker.History(ctx, "seq")
		if err != nil || len(history) != 3 {
			t.Fatalf("round %d: history %+v, %v", round, history, err)
		}
		for _, env := range history {
			if env.Seq <= last {
				t.Fatalf("round %d: Seq %d after %d", round, env.Seq, last)
			}
			last = env.Seq
		}
		// The history and its counter expire: their expiry is what is
		// tested, and the counter's cannot be watched from outside.
		time.Sleep(3 * ttl)
	}
}
