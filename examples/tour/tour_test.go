package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/goccy/go-json"
	"go.uber.org/goleak"
)

// The tests drive every row of the tour's route table (README.md) over
// real sockets, against the app main serves, on a free port with short
// intervals. Every wait is bounded by fiberwstest.DefaultTimeout.

func TestMain(m *testing.M) {
	// Every test shuts its app down; nothing of the tour (tickers,
	// notification service, connections) may be left running after.
	// LeakOptions ignores only fasthttp's goroutines that outlive their
	// server on purpose.
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

// testOptions are short intervals so the timed routes can be tested fast.
// The pong timeout stays long, so a client stalled by a loaded machine is
// not closed for a late pong.
func testOptions() options {
	return options{
		ping:        50 * time.Millisecond,
		pingTimeout: time.Second,
		notifyEvery: 50 * time.Millisecond,
		asyncDelay:  50 * time.Millisecond,
	}
}

// startTour serves the tour built from opts on a free loopback port; it is
// shut down, then its services stopped, when the test ends.
func startTour(t *testing.T, opts options) (*fiberwstest.Server, *tour) {
	t.Helper()
	tr, err := newTour(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before Serve, so it runs after the app's shutdown.
	t.Cleanup(tr.Close)
	return fiberwstest.Serve(t, tr.app), tr
}

// expectText reads the next message and fails unless it is want.
func expectText(t *testing.T, c *fiberwstest.Client, want string) {
	t.Helper()
	if got := c.ReadText(); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// expectClose reads until the server's close frame and checks its code
// (and reason, unless wantReason is "*").
func expectClose(t *testing.T, c *fiberwstest.Client, wantCode int, wantReason string) {
	t.Helper()
	code, reason := c.ExpectClose()
	if code != wantCode || (wantReason != "*" && reason != wantReason) {
		t.Fatalf("closed with %d %q, want %d %q", code, reason, wantCode, wantReason)
	}
}

// closeAndCollect starts a close handshake from the client and returns the
// data messages that arrived before the server's close frame, and the
// code the server answered with.
func closeAndCollect(t *testing.T, c *fiberwstest.Client) ([]string, int) {
	t.Helper()
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye")
	if err := c.Conn().WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.Timeout())); err != nil {
		t.Fatalf("send close: %v", err)
	}
	messages, code, _ := c.ReadUntilClose()
	return messages, code
}

// parseStamp checks that s is prefix followed by an RFC 3339 time.
func parseStamp(t *testing.T, s, prefix string) time.Time {
	t.Helper()
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		t.Fatalf("got %q, want %q followed by an RFC 3339 time", s, prefix)
	}
	at, err := time.Parse(time.RFC3339, rest)
	if err != nil {
		t.Fatalf("got %q: %v", s, err)
	}
	return at
}

// getStats asks GET /stats over plain HTTP.
func getStats(t *testing.T, srv *fiberwstest.Server) int {
	t.Helper()
	// No keep-alive: an idle pooled connection would outlive the test.
	client := &http.Client{Timeout: fiberwstest.DefaultTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(srv.HTTPURL("/stats"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /stats: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	var stats map[string]int
	if err := json.Unmarshal(body, &stats); err != nil || len(stats) != 1 {
		t.Fatalf("GET /stats: %s, want {\"resources\":N} (%v)", body, err)
	}
	n, ok := stats["resources"]
	if !ok {
		t.Fatalf("GET /stats: %s, want {\"resources\":N}", body)
	}
	return n
}

// Creating a WebSocket Handler
func TestChatMessages(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/chat/messages")
	c.SendText("Hello WebSocket!")
	expectText(t, c, "Echo: Hello WebSocket!")
	c.SendText("")
	expectText(t, c, "Echo: ")
	if code := c.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close answered with %d", code)
	}
}

// WebSocket Modes: Two-Way Communication
func TestModesTwoWay(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/modes/two-way")
	for _, m := range []string{"a", "b", "c"} {
		c.SendText(m)
	}
	for _, m := range []string{"a", "b", "c"} {
		expectText(t, c, "Echo: "+m)
	}
}

// WebSocket Modes: Receive-Only
func TestModesReceiveOnly(t *testing.T) {
	opts := testOptions()
	var logs *fiberwstest.Log
	opts.logger, logs = fiberwstest.NewLog(t)
	srv, _ := startTour(t, opts)
	c := srv.Dial(t, "/modes/receive-only")
	c.SendText("first")
	c.SendText("second")
	fiberwstest.Eventually(t, func() bool {
		s := logs.String()
		return strings.Contains(s, "msg=Received message=first") && strings.Contains(s, "msg=Received message=second")
	}, "receive-only messages logged; log:\n%s", logs)
	// The connection stayed open (the server answers our close handshake
	// with our code) and nothing was ever sent.
	messages, code := closeAndCollect(t, c)
	if len(messages) != 0 || code != 1000 {
		t.Fatalf("got %q and close %d, want nothing and 1000", messages, code)
	}
}

// WebSocket Modes: Send-Only
func TestModesSendOnly(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/modes/send-only")
	messages, code, _ := c.ReadUntilClose()
	if len(messages) != 1 || messages[0] != "Server notification" || code != 1000 {
		t.Fatalf("got %q and close %d, want [Server notification] and 1000", messages, code)
	}
}

// Handling Messages: Basic Message Handling
func TestMessagesBasic(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/messages/basic")
	c.SendText("hi there")
	expectText(t, c, "Server: hi there")
}

// Handling Messages: JSON Messages / Use Type-Safe Messages
func TestMessagesJSON(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/messages/json")
	c.SendJSON(map[string]string{"user": "Ann", "text": "hello"})
	expectText(t, c, "Ann: hello")
	c.SendText(`{"text":"x y","user":"Bob","extra":1}`)
	expectText(t, c, "Bob: x y")

	for _, bad := range []string{
		`not json`, `{}`, `null`, `"Ann: hello"`, `[1,2]`, `{"user":"Ann"}`,
		`{"text":"hello"}`, `{"user":1,"text":"hello"}`, `{"user":"Ann","text":null}`,
	} {
		c := srv.Dial(t, "/messages/json")
		c.SendText(bad)
		code, reason := c.ExpectClose()
		if code != 1007 || reason != "invalid message payload" {
			t.Errorf("%s: closed with %d %q, want 1007 \"invalid message payload\"", bad, code, reason)
		}
	}
}

// Handling Messages: Async Message Handling
func TestMessagesAsync(t *testing.T) {
	opts := testOptions()
	opts.asyncDelay = 150 * time.Millisecond
	srv, _ := startTour(t, opts)
	c := srv.Dial(t, "/messages/async")
	start := time.Now()
	c.SendText("one")
	c.SendText("two")
	expectText(t, c, "Processed: one")
	if d := time.Since(start); d < opts.asyncDelay {
		t.Fatalf("first reply after %v, want at least %v", d, opts.asyncDelay)
	}
	expectText(t, c, "Processed: two") // in order, one after the other
	if d := time.Since(start); d < 2*opts.asyncDelay {
		t.Fatalf("second reply after %v, want at least %v", d, 2*opts.asyncDelay)
	}

	// A client that leaves mid-processing does not keep the handler
	// waiting (goleak checks nothing stays behind).
	c2 := srv.Dial(t, "/messages/async")
	c2.SendText("never answered")
	if code := c2.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close answered with %d", code)
	}
}

// Sending Messages Without Client Input
func TestNotificationsPeriodic(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/notifications/periodic")
	expectText(t, c, "Notifications started")
	var last time.Time
	for i := 0; i < 3; i++ {
		at := parseStamp(t, c.ReadText(), "Notification ")
		if at.Before(last) {
			t.Fatalf("notification times go back: %v after %v", at, last)
		}
		last = at
	}
	if n := runningTickers.Load(); n != 1 {
		t.Fatalf("%d tickers running, want 1", n)
	}

	// A second client gets its own ticker; both stop when their clients
	// leave, with a close handshake or by dropping TCP.
	c2 := srv.Dial(t, "/notifications/periodic")
	expectText(t, c2, "Notifications started")
	parseStamp(t, c2.ReadText(), "Notification ")
	if n := runningTickers.Load(); n != 2 {
		t.Fatalf("%d tickers running, want 2", n)
	}
	c.Close(1000, "bye")
	fiberwstest.Eventually(t, func() bool { return runningTickers.Load() == 1 }, "ticker of the closed client stopped (%d running)", fiberwstest.Later(func() any { return runningTickers.Load() }))
	c2.Drop()
	fiberwstest.Eventually(t, func() bool { return runningTickers.Load() == 0 }, "ticker of the dropped client stopped (%d running)", fiberwstest.Later(func() any { return runningTickers.Load() }))
}

// A message does not start a second ticker.
func TestNotificationsPeriodicMessage(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/notifications/periodic")
	expectText(t, c, "Notifications started")
	c.SendText("hello")
	for {
		m := c.ReadText()
		if m == "Notifications already started" {
			break
		}
		parseStamp(t, m, "Notification ")
	}
	if n := runningTickers.Load(); n != 1 {
		t.Fatalf("%d tickers running, want 1", n)
	}
	c.Close(1000, "bye")
	fiberwstest.Eventually(t, func() bool { return runningTickers.Load() == 0 }, "ticker stopped")
}

// readNotification reads one notification and checks its exact shape.
func readNotification(t *testing.T, c *fiberwstest.Client) Notification {
	t.Helper()
	raw := c.ReadText()
	var fields map[string]any
	if err := json.Unmarshal([]byte(raw), &fields); err != nil || len(fields) != 3 {
		t.Fatalf("got %s, want {\"id\":N,\"text\":\"…\",\"at\":\"<RFC 3339>\"}", raw)
	}
	var n Notification
	if err := json.Unmarshal([]byte(raw), &n); err != nil || n.ID < 1 || n.Text == "" {
		t.Fatalf("got %s: %v", raw, err)
	}
	if _, err := time.Parse(time.RFC3339, n.At); err != nil {
		t.Fatalf("got %s: at is not RFC 3339: %v", raw, err)
	}
	return n
}

// Real-World Examples: Real-Time Notifications
func TestNotificationsStream(t *testing.T) {
	srv, tr := startTour(t, testOptions())
	// The service runs from newTour on, so the first client may miss the
	// first notifications (the ids rising from 1 are the service's own
	// test); from its first one on it sees every id, in order.
	c1 := srv.Dial(t, "/notifications/stream")
	start := readNotification(t, c1).ID
	if n := readNotification(t, c1); n.ID != start+1 {
		t.Fatalf("client 1 got id %d after %d, want %d", n.ID, start, start+1)
	}
	// A later client starts with the next notification published, then
	// both see the same ones in id order.
	c2 := srv.Dial(t, "/notifications/stream")
	first := readNotification(t, c2)
	if first.ID < start+2 {
		t.Fatalf("client 2 got id %d, published before it connected (client 1 had read %d)", first.ID, start+1)
	}
	for want := first.ID + 1; want <= first.ID+2; want++ {
		if n := readNotification(t, c2); n.ID != want {
			t.Fatalf("client 2 got id %d, want %d", n.ID, want)
		}
	}
	for want := start + 2; want <= first.ID+2; want++ {
		if n := readNotification(t, c1); n.ID != want {
			t.Fatalf("client 1 got id %d, want %d", n.ID, want)
		}
	}
	if n := tr.notifications.Subscribers(); n != 2 {
		t.Fatalf("%d subscribers, want 2", n)
	}
	// Leaving ends the subscription (send-only: the client's data frames
	// are ignored, its close frame is answered).
	c1.SendText("ignored")
	c1.Close(1000, "bye")
	c2.Drop()
	fiberwstest.Eventually(t, func() bool { return tr.notifications.Subscribers() == 0 }, "subscriptions ended")
}

// Closing Connections: Send-Only Mode
func TestCloseSendOnly(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/close/send-only")
	messages, code, _ := c.ReadUntilClose()
	if len(messages) != 1 || messages[0] != "Final message" || code != 1000 {
		t.Fatalf("got %q and close %d, want [Final message] and 1000", messages, code)
	}
}

// Closing Connections: Two-Way and Receive-Only Modes; Close Codes
func TestClosePersistent(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/close/persistent")
	c.SendText("hello")
	expectText(t, c, "Message processed")
	c.SendText("closed")
	expectText(t, c, "Message processed")
	// Codes an application may not send: the connection stays open.
	for _, bad := range []string{"close 1005 x", "close 1006", "close 999 too low", "close 1015 tls", "close 2000 reserved", "close 5000 too high", "close abc", "close "} {
		c.SendText(bad)
		expectText(t, c, "invalid close code")
	}
	c.SendText("still there?")
	expectText(t, c, "Message processed")
	c.SendText("close")
	expectClose(t, c, 1000, "Normal closure")

	cases := []struct {
		msg    string
		code   int
		reason string
	}{
		{"close 1001 Going away", 1001, "Going away"},
		{"close 1002 Protocol error", 1002, "Protocol error"},
		{"close 1003 Unsupported data", 1003, "Unsupported data"},
		{"close 4000 Custom application error", 4000, "Custom application error"},
		{"close 3000", 3000, ""},
		{"close 4999 spaces  kept", 4999, "spaces  kept"},
		// Reasons are cut to 123 bytes at a character boundary.
		{"close 4001 " + strings.Repeat("é", 100), 4001, strings.Repeat("é", 61)},
	}
	for _, tc := range cases {
		c := srv.Dial(t, "/close/persistent")
		c.SendText(tc.msg)
		expectClose(t, c, tc.code, tc.reason)
	}
}

// Advanced Features: Ping/Pong
func TestHeartbeat(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/heartbeat")
	c.SendText("ping?")
	at := parseStamp(t, c.ReadText(), "Pong: ")
	if d := time.Since(at); d < -time.Second || d > time.Minute {
		t.Fatalf("pong time %v is not now", at)
	}
	// The server pings every 50ms; the client answers while it reads.
	c.ExpectSilence(500 * time.Millisecond)
	if n := c.Pings(); n < 2 {
		t.Fatalf("got %d pings in 500ms, want at least 2", n)
	}
}

// A client that does not answer the pings is closed with 1001.
func TestHeartbeatTimeout(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/heartbeat")
	c.Conn().SetPingHandler(func(string) error { return nil }) // no pong
	expectClose(t, c, 1001, "ping timeout")
}

// Advanced Features: On Connect Trigger
func TestConnection(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/connection")
	expectText(t, c, "Connected to WebSocket")
	c.SendText("hi")
	expectText(t, c, "Message: hi")
	c.SendText("") // an empty message is a message, not the trigger
	expectText(t, c, "Message: ")
}

// Real-World Examples: File Upload Progress
func TestUploadProgress(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/upload/progress")
	for _, p := range []int{0, 42, 99} {
		c.SendJSON(map[string]any{"filename": "a.bin", "progress": p})
		expectText(t, c, "Upload progress: "+itoa(p)+"%")
	}
	c.SendJSON(map[string]any{"filename": "a.bin", "progress": 100})
	expectText(t, c, "Upload complete: a.bin")

	for _, bad := range []string{
		`{"filename":"a.bin","progress":101}`,
		`{"filename":"a.bin","progress":-1}`,
		`{"filename":"a.bin"}`,
	} {
		c := srv.Dial(t, "/upload/progress")
		c.SendText(bad)
		expectClose(t, c, 1007, "progress must be an integer from 0 to 100")
	}
	for _, bad := range []string{`{"filename":"a.bin","progress":"50"}`, `{"filename":"a.bin","progress":50.5}`, `50`, `nope`} {
		c := srv.Dial(t, "/upload/progress")
		c.SendText(bad)
		expectClose(t, c, 1007, "invalid message payload")
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Best Practices: Handle Connection Cleanup
func TestDataCleanup(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	if n := getStats(t, srv); n != 0 {
		t.Fatalf("%d resources before any connection", n)
	}
	c1 := srv.Dial(t, "/data")
	c2 := srv.Dial(t, "/data")
	c3 := srv.Dial(t, "/data")
	// Held from the connection on: before any message (the on-connect run
	// sends nothing, so the first thing received is the reply).
	fiberwstest.Eventually(t, func() bool { return getStats(t, srv) == 3 }, "3 resources held")
	for _, c := range []*fiberwstest.Client{c1, c2, c3} {
		c.SendText("payload")
		expectText(t, c, "Data processed")
	}
	if n := getStats(t, srv); n != 3 {
		t.Fatalf("%d resources held, want 3", n)
	}
	c1.Close(1000, "bye") // close handshake
	fiberwstest.Eventually(t, func() bool { return getStats(t, srv) == 2 }, "released on close")
	c2.Drop() // no close frame: the client vanished
	fiberwstest.Eventually(t, func() bool { return getStats(t, srv) == 1 }, "released when the client dropped")
	c3.SendText("close please") // still served
	expectText(t, c3, "Data processed")
}

// WebSocket Lifecycle: the guard answers with HTTP 403 and never upgrades.
func TestLifecycleGuard(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	for _, path := range []string{"/lifecycle/trace", "/lifecycle/trace?token=nope", "/lifecycle/trace?token="} {
		c, resp, err := srv.TryDial(path)
		if err == nil {
			_ = c.Conn().Close()
			t.Fatalf("%s: upgraded, want 403", path)
		}
		if resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s: %v (response %v), want 403", path, err, resp)
		}
	}
}

// WebSocket Lifecycle: the stages so far, exactly. Each reply is made by
// the handler before its own post stages run, so it lists the post stages
// of the earlier replies only (see LifecycleController).
func TestLifecycleTrace(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	c := srv.Dial(t, "/lifecycle/trace?token=letmein")
	pre := []string{"pre:app", "pre:controller", "pre:route", "handler"}
	post := []string{"post:route", "post:controller", "post:app"}
	want := append([]string{"middleware", "guard"}, pre...)
	expectTrace(t, c, want) // on connect
	for i := 0; i < 3; i++ {
		c.SendText("message")
		want = append(append(want, post...), pre...)
		expectTrace(t, c, want)
	}
}

func expectTrace(t *testing.T, c *fiberwstest.Client, want []string) {
	t.Helper()
	raw := c.ReadText()
	var got []string
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("got %s, want a JSON array: %v", raw, err)
	}
	wantJSON, _ := json.Marshal(want)
	if raw != string(wantJSON) {
		t.Fatalf("got  %s\nwant %s", raw, wantJSON)
	}
}

// Real-World Examples: Chat Application
func TestChatRoom(t *testing.T) {
	srv, tr := startTour(t, testOptions())
	a := srv.Dial(t, "/chat/room")
	b := srv.Dial(t, "/chat/room")
	c := srv.Dial(t, "/chat/room")
	// Members join in their on-connect run, just after the handshake.
	fiberwstest.Eventually(t, func() bool { return tr.chat.Members(chatRoom) == 3 }, "3 members joined")

	a.SendText("hi from a")
	expectText(t, a, "Message received")
	expectText(t, b, "hi from a")
	expectText(t, c, "hi from a")
	// The sender does not get its own message back: the next thing a
	// reads is b's message.
	b.SendText("hi from b")
	expectText(t, b, "Message received")
	expectText(t, a, "hi from b")
	expectText(t, c, "hi from b")

	// A client that leaves is out of the room; the others go on.
	c.Close(1000, "bye")
	fiberwstest.Eventually(t, func() bool { return tr.chat.Members(chatRoom) == 2 }, "c left")
	b.Drop()
	fiberwstest.Eventually(t, func() bool { return tr.chat.Members(chatRoom) == 1 }, "b left")
	a.SendText("anyone?")
	expectText(t, a, "Message received")
	d := srv.Dial(t, "/chat/room")
	fiberwstest.Eventually(t, func() bool { return tr.chat.Members(chatRoom) == 2 }, "d joined")
	d.SendText("hello a")
	expectText(t, d, "Message received")
	expectText(t, a, "hello a") // not "anyone?": d joined after it was sent
}
