package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hub/redisbroker"
	"github.com/fiberws/fiberws/internal/testproc"
)

// serveNode starts a chat node on the Redis at url.
func serveNode(t *testing.T, url string) *fiberwstest.Server {
	t.Helper()
	b, err := redisbroker.New(redisbroker.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() }) // after the node's hub (cleanups run last first)
	opts := defaultOptions
	opts.broker = b
	return serveOpts(t, opts)
}

// TestTwoNodesAreOneChat: two chat nodes on one Redis behave as one chat:
// the member list and join and leave events span both, a newcomer on one
// sees the history written on the other, messages go both ways in order,
// and a name taken on one node is taken on the other (409).
func TestTwoNodesAreOneChat(t *testing.T) {
	r := testproc.StartRedis(t)
	one, two := serveNode(t, r.URL()), serveNode(t, r.URL())

	ann, _ := join(t, one, "lobby", "ann")
	ann.SendJSON(Incoming{Text: "before bob"})
	read(t, ann, "message")

	bob, welcome := join(t, two, "lobby", "bob")
	if got := strings.Join(welcome.Members, ","); got != "ann,bob" {
		t.Fatalf("bob's welcome lists %q, want ann,bob", got)
	}
	if len(welcome.History) != 1 || welcome.History[0].Text != "before bob" || welcome.History[0].From != "ann" {
		t.Fatalf("bob's welcome history %+v, want ann's message", welcome.History)
	}
	if ev := read(t, ann, "join"); ev.From != "bob" {
		t.Fatalf("ann saw %+v, want bob's join", ev)
	}

	for i, text := range []string{"one", "two", "three"} {
		from, to := ann, bob
		if i%2 == 1 {
			from, to = bob, ann
		}
		from.SendJSON(Incoming{Text: text})
		for _, c := range []*fiberwstest.Client{from, to} {
			if ev := read(t, c, "message"); ev.Text != text {
				t.Fatalf("got %q, want %q: out of order", ev.Text, text)
			}
		}
	}

	// ann's name is taken on node two as well.
	_, resp, err := two.TryDial("/ws/lobby?name=ANN")
	if err == nil || resp == nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("ann's name on the other node: %v (%v), want HTTP 409", err, resp)
	}
	body, status := get(t, two.HTTPURL("/api/check?room=lobby&name=ann"))
	if status != http.StatusConflict {
		t.Fatalf("the page's check on the other node: %d %s, want 409", status, body)
	}

	if code := bob.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close answered %d", code)
	}
	if ev := read(t, ann, "leave"); ev.From != "bob" {
		t.Fatalf("ann saw %+v, want bob's leave", ev)
	}
}
