package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/goccy/go-json"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serve starts the chat on a loopback port, quiet unless a test fails.
func serve(t *testing.T) *fiberwstest.Server {
	t.Helper()
	return serveOpts(t, defaultOptions)
}

// serveOpts is serve with other options (its logger is the test's).
func serveOpts(t *testing.T, opts options) *fiberwstest.Server {
	t.Helper()
	opts.logger, _ = fiberwstest.NewLog(t)
	app, rooms, err := newApp(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rooms.Close() })
	return fiberwstest.Serve(t, app)
}

func join(t *testing.T, srv *fiberwstest.Server, room, name string) (*fiberwstest.Client, Event) {
	t.Helper()
	c := srv.Dial(t, "/ws/"+room+"?name="+url.QueryEscape(name))
	var ev Event
	c.ReadJSON(&ev)
	if ev.Type != "welcome" || ev.You != name || ev.Room != room {
		t.Fatalf("%s: first event %+v, want a welcome", name, ev)
	}
	return c, ev
}

func read(t *testing.T, c *fiberwstest.Client, want string) Event {
	t.Helper()
	var ev Event
	c.ReadJSON(&ev)
	if ev.Type != want {
		t.Fatalf("got event %+v, want type %q", ev, want)
	}
	return ev
}

func TestTwoClientsChat(t *testing.T) {
	srv := serve(t)
	ann, welcome := join(t, srv, "lobby", "ann")
	if got := strings.Join(welcome.Members, ","); got != "ann" {
		t.Fatalf("ann's welcome members %q", got)
	}

	bob, welcome := join(t, srv, "lobby", "bob")
	if got := strings.Join(welcome.Members, ","); got != "ann,bob" {
		t.Fatalf("bob's welcome members %q", got)
	}
	ev := read(t, ann, "join")
	if ev.From != "bob" || ev.Members != nil {
		t.Fatalf("ann saw join %+v, want bob and no member list (a delta)", ev)
	}

	// The interceptor trims the text; everyone, the sender included, gets
	// the message from the server.
	ann.SendJSON(Incoming{Text: "  hello bob  "})
	for _, c := range []*fiberwstest.Client{ann, bob} {
		ev := read(t, c, "message")
		if ev.From != "ann" || ev.Text != "hello bob" || ev.At.IsZero() {
			t.Fatalf("got message %+v", ev)
		}
	}
	bob.SendJSON(Incoming{Text: "   "}) // dropped: empty after trimming
	bob.SendJSON(Incoming{Text: strings.Repeat("é", MaxMessage+100)})
	for _, c := range []*fiberwstest.Client{ann, bob} {
		ev := read(t, c, "message")
		if ev.From != "bob" || ev.Text != strings.Repeat("é", MaxMessage) {
			t.Fatalf("long message not cut to %d characters: %d", MaxMessage, len([]rune(ev.Text)))
		}
	}

	// A newcomer sees the recent history.
	cy, welcome := join(t, srv, "lobby", "cy")
	if len(welcome.History) != 2 || welcome.History[0].Text != "hello bob" {
		t.Fatalf("cy's history %+v", welcome.History)
	}
	read(t, ann, "join")
	read(t, bob, "join")

	// Leaving updates everyone's member list.
	if code := bob.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close answered %d", code)
	}
	for _, c := range []*fiberwstest.Client{ann, cy} {
		ev := read(t, c, "leave")
		if ev.From != "bob" || ev.Members != nil {
			t.Fatalf("got leave %+v", ev)
		}
	}
	cy.Drop() // no close handshake: still a leave
	ev = read(t, ann, "leave")
	if ev.From != "cy" || ev.Members != nil {
		t.Fatalf("got leave %+v", ev)
	}

	// Rooms are separate.
	other, welcome := join(t, srv, "other", "ann")
	if strings.Join(welcome.Members, ",") != "ann" || len(welcome.History) != 0 {
		t.Fatalf("other room welcome %+v", welcome)
	}
	other.SendJSON(Incoming{Text: "only here"})
	read(t, other, "message")
	ann.SendJSON(Incoming{Text: "lobby again"})
	if ev := read(t, ann, "message"); ev.Text != "lobby again" {
		t.Fatalf("ann in lobby got %+v", ev)
	}
}

func TestGuardRejectsBadNames(t *testing.T) {
	srv := serve(t)
	join(t, srv, "lobby", "ann")
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/ws/lobby", http.StatusBadRequest},
		{"/ws/lobby?name=", http.StatusBadRequest},
		{"/ws/lobby?name=%20%20", http.StatusBadRequest},
		{"/ws/lobby?name=" + strings.Repeat("x", MaxName+1), http.StatusBadRequest},
		{"/ws/lobby?name=ANN", http.StatusConflict},
		{"/ws/bad%20room?name=bob", http.StatusBadRequest},
		{"/ws/lobby?name=%FF%FE", http.StatusBadRequest},       // invalid UTF-8
		{"/ws/lobby?name=b%C3%28b", http.StatusBadRequest},     // an invalid 2-byte sequence
		{"/ws/lobby?name=%E2%80%AEann", http.StatusBadRequest}, // a bidi control: looks like "nna"
		{"/ws/lobby?name=%E3%85%A4", http.StatusBadRequest},    // a Hangul filler: shows as a blank
	} {
		c, resp, err := srv.TryDial(tc.path)
		if err == nil {
			_ = c.Conn().Close()
			t.Fatalf("%s: upgraded, want HTTP %d", tc.path, tc.status)
		}
		if resp == nil || resp.StatusCode != tc.status {
			t.Fatalf("%s: response %v, want HTTP %d", tc.path, resp, tc.status)
		}
	}
	// The longest allowed name is fine, and so is an emoji sequence (its
	// zero-width joiner is not an invisible character).
	join(t, srv, "lobby", strings.Repeat("x", MaxName))
	join(t, srv, "lobby", "👩\u200d💻")
}

func TestPageAndCheck(t *testing.T) {
	srv := serve(t)
	for path, want := range map[string]string{
		"/":          "<title>fiberws chat</title>",
		"/app.js":    "new WebSocket(",
		"/style.css": "--accent",
	} {
		body, status := get(t, srv.HTTPURL(path))
		if status != http.StatusOK || !strings.Contains(body, want) {
			t.Fatalf("GET %s: %d, body without %q", path, status, want)
		}
	}
	body, status := get(t, srv.HTTPURL("/api/check?room=lobby&name="))
	var res struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || status != http.StatusBadRequest || res.OK || res.Error == "" {
		t.Fatalf("check of an empty name: %d %s", status, body)
	}
	body, status = get(t, srv.HTTPURL("/api/check?room=lobby&name=ann"))
	if status != http.StatusOK || !strings.Contains(body, `"ok":true`) {
		t.Fatalf("check of a good name: %d %s", status, body)
	}
}

// The chat documents its route: /asyncapi.json names the room parameter,
// the name query and both messages' schemas, and /asyncapi shows it.
func TestAsyncAPI(t *testing.T) {
	srv := serve(t)
	body, status := get(t, srv.HTTPURL("/asyncapi.json"))
	if status != http.StatusOK {
		t.Fatalf("GET /asyncapi.json: %d", status)
	}
	var doc struct {
		Channels map[string]struct {
			Address    string                     `json:"address"`
			Parameters map[string]json.RawMessage `json:"parameters"`
			Messages   map[string]struct {
				Payload json.RawMessage `json:"payload"`
			} `json:"messages"`
			Bindings struct {
				WS struct {
					Query struct {
						Properties map[string]json.RawMessage `json:"properties"`
					} `json:"query"`
				} `json:"ws"`
			} `json:"bindings"`
		} `json:"channels"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	ch, ok := doc.Channels["ws_room"]
	if !ok || ch.Address != "/ws/{room}" || ch.Parameters["room"] == nil {
		t.Fatalf("channel ws_room: %+v", doc.Channels)
	}
	if ch.Bindings.WS.Query.Properties["name"] == nil {
		t.Errorf("the name query is not in the ws binding")
	}
	if in := string(ch.Messages["fromClient"].Payload); !strings.Contains(in, "#/components/schemas/Incoming") {
		t.Errorf("fromClient payload %s", in)
	}
	if out := string(ch.Messages["toClient"].Payload); !strings.Contains(out, "#/components/schemas/Event") {
		t.Errorf("toClient payload %s", out)
	}
	page, status := get(t, srv.HTTPURL("/asyncapi"))
	if status != http.StatusOK || !strings.Contains(page, `data-channel="ws_room"`) || !strings.Contains(page, "Chat room") {
		t.Errorf("GET /asyncapi: %d", status)
	}
}

func TestInvalidPayloadCloses1007(t *testing.T) {
	srv := serve(t)
	c, _ := join(t, srv, "lobby", "ann")
	c.SendText("not json")
	if code, _ := c.ExpectClose(); code != 1007 {
		t.Fatalf("close code %d, want 1007", code)
	}
}

func get(t *testing.T, u string) (string, int) {
	t.Helper()
	client := http.Client{Timeout: fiberwstest.DefaultTimeout}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// TestBurstKeepsEveryoneConnected: with the chat's defaults, a member that
// sends 2,000 messages as fast as it can into a room of 20 others (who
// read as fast as they can, like browsers) gets nobody dropped: every
// member, the sender included, sees every message, in the same order.
func TestBurstKeepsEveryoneConnected(t *testing.T) {
	const n = 2000
	srv := serve(t)
	var members []*fiberwstest.Client
	for i := range 20 {
		c, _ := join(t, srv, "lobby", fmt.Sprintf("reader%d", i))
		members = append(members, c)
	}
	sender, _ := join(t, srv, "lobby", "sender")
	members = append(members, sender)

	go func() {
		conn := sender.Conn()
		_ = conn.SetWriteDeadline(time.Now().Add(time.Minute))
		for k := range n {
			data, _ := json.Marshal(Incoming{Text: fmt.Sprintf("m%d", k)})
			if conn.WriteMessage(websocket.TextMessage, data) != nil {
				return // the readers below report what went wrong
			}
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, len(members))
	for i, c := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; k < n; {
				_, data, err := c.Read()
				if err != nil {
					errs <- fmt.Errorf("member %d after %d messages: %w", i, k, err)
					return
				}
				var ev Event
				if err := json.Unmarshal(data, &ev); err != nil {
					errs <- fmt.Errorf("member %d: %q: %w", i, data, err)
					return
				}
				if ev.Type == "join" {
					continue // the members who joined after it
				}
				if want := fmt.Sprintf("m%d", k); ev.Type != "message" || ev.Text != want || ev.From != "sender" {
					errs <- fmt.Errorf("member %d: event %d is %+v, want message %q from sender", i, k, ev, want)
					return
				}
				k++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A scrape of /metrics while two members are connected shows the live
// values: 2 connections, the messages so far, a 400 rejection with its
// status, the room.
func TestMetrics(t *testing.T) {
	srv := serve(t)
	ann, _ := join(t, srv, "lobby", "ann")
	bob, _ := join(t, srv, "lobby", "bob")
	read(t, ann, "join")
	ann.SendJSON(Incoming{Text: "hi bob"})
	read(t, ann, "message")
	read(t, bob, "message")
	if _, res, err := srv.TryDial("/ws/lobby?name="); err == nil || res == nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("empty name: %v, want 400", err)
	}
	want := map[string]float64{
		`fiberws_connections_active{route="/ws/:room"}`:                    2,
		`fiberws_messages_received_total{route="/ws/:room"}`:               1,
		`fiberws_upgrade_rejections_total{route="/ws/:room",status="400"}`: 1,
		`fiberws_hub_rooms`:   1,
		`fiberws_hub_members`: 2,
	}
	var got map[string]float64
	fiberwstest.Eventually(t, func() bool {
		got = scrapeChat(t, srv.HTTPURL("/metrics"))
		for k, v := range want {
			if got[k] != v {
				return false
			}
		}
		// Welcome, join and the message to each: at least 5 sent.
		return got[`fiberws_messages_sent_total{route="/ws/:room"}`] >= 5
	}, "metrics %v, want %v", got, want)
}

// scrapeChat reads the exposition as name{labels} -> value (histogram
// buckets and the Go runtime's metrics included).
func scrapeChat(t *testing.T, u string) map[string]float64 {
	t.Helper()
	res, err := (&http.Client{Timeout: fiberwstest.DefaultTimeout}).Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[key] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[key] = m.Gauge.GetValue()
			}
		}
	}
	return out
}
