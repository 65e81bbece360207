package fiberws_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/rlimit"
	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"
)

// TestLimitsDefaults pins every default of fiberws.ConfigDefault to the
// value SECURITY.md's "Default limits" table documents (the buffer sizes:
// Config's doc), so a changed default fails here until the table and this
// test are updated with it. A field not listed must have no default.
func TestLimitsDefaults(t *testing.T) {
	d := fiberws.ConfigDefault
	want := map[string]any{
		"ReadLimit":            int64(1 << 20),   // 1 MiB
		"WriteTimeout":         10 * time.Second, // 10 s
		"HandshakeTimeout":     10 * time.Second, // 10 s
		"CloseTimeout":         2 * time.Second,  // 2 s
		"QueueSize":            16,               // 16 messages
		"QueueBytes":           int64(1 << 20),   // and 1 MiB
		"ReadBufferSize":       1024,             // config.go: 1024 each
		"WriteBufferSize":      1024,             //
		"ShutdownTimeout":      5 * time.Second,  // 5 s
		"MaxConnections":       10000,            // 10,000
		"MaxConnectionsPerIP":  0,                // off
		"MessageTimeout":       10 * time.Second, // 10 s
		"PartialMessageBudget": int64(32 << 20),  // 32 MiB
		"MessageRate":          rate.Limit(0),    // off
		"MessageBurst":         0,                // off with the rate
		"IdleTimeout":          time.Duration(0), // off
		"EnableCompression":    false,            // off
		"Origins":              []string(nil),    // same host
	}
	v := reflect.ValueOf(d)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		got := v.Field(i)
		w, ok := want[name]
		if !ok {
			if !got.IsZero() {
				t.Errorf("ConfigDefault.%s = %v: a new default; document it in SECURITY.md and add it here", name, got.Interface())
			}
			continue
		}
		delete(want, name)
		g := got.Interface()
		if got.Kind() == reflect.Slice && got.Len() == 0 {
			g = reflect.Zero(got.Type()).Interface() // empty is the same default as nil
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("ConfigDefault.%s = %v, SECURITY.md says %v: update SECURITY.md and this test together", name, g, w)
		}
	}
	for name := range want {
		t.Errorf("Config has no field %s any more: update SECURITY.md and this test", name)
	}
}

func TestReadLimitDefaultCloses1009(t *testing.T) {
	obs := newRelSummaries()
	srv, _ := relServe(t, fiberws.Config{Observers: []hooks.Observer{obs}}, fiberws.WebSocket("/echo", func(_ context.Context, _ *fiberws.Conn[[]byte], b []byte) ([]byte, error) {
		return b[:1], nil
	}))
	c := srv.Dial(t, "/echo")
	c.SendBinary(make([]byte, 1<<20)) // exactly the limit: accepted
	if got := c.ReadBinary(); len(got) != 1 {
		t.Fatalf("got %d bytes", len(got))
	}
	c.SendBinary(make([]byte, 1<<20+1))
	if code, reason := c.ExpectClose(); code != websocket.CloseMessageTooBig || reason != "message too big" {
		t.Fatalf("close %d %q, want 1009 \"message too big\"", code, reason)
	}
	if s := obs.next(t); s.CloseCode != fiberws.CloseMessageTooBig || s.CloseReason != "message too big" {
		t.Fatalf("summary close %d %q", s.CloseCode, s.CloseReason)
	}
}

func TestReadLimitPerRoute(t *testing.T) {
	srv, _ := relServe(t, fiberws.Config{},
		fiberws.WebSocket("/small", mirror, fiberws.WithReadLimit(100)),
		fiberws.WebSocket("/big", mirror))
	c := srv.Dial(t, "/small")
	c.SendText(strings.Repeat("a", 100))
	c.ReadText()
	c.SendText(strings.Repeat("a", 101))
	if code, _ := c.ExpectClose(); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code %d, want 1009", code)
	}
	b := srv.Dial(t, "/big")
	b.SendText(strings.Repeat("a", 101))
	if got := b.ReadText(); len(got) != 101 {
		t.Fatalf("big route got %d bytes", len(got))
	}
}

func expect503(t *testing.T, srv *fiberwstest.Server, path string) {
	t.Helper()
	c, resp, err := srv.TryDial(path)
	if err == nil {
		_ = c.Conn().Close()
		t.Fatalf("dial %s: upgraded, want 503", path)
	}
	if resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial %s: %v (resp %v), want 503", path, err, resp)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After")
	}
}

func TestMaxConnectionsPerServer(t *testing.T) {
	srv, ws := relServe(t, fiberws.Config{MaxConnections: 2},
		fiberws.WebSocket("/a", mirror), fiberws.WebSocket("/b", mirror))
	a := srv.Dial(t, "/a")
	srv.Dial(t, "/b")
	relWaitConns(t, ws, 2)
	expect503(t, srv, "/a")
	expect503(t, srv, "/b")
	a.Close(1000, "")
	relWaitConns(t, ws, 1)
	c := srv.Dial(t, "/a")
	c.SendText("x")
	if c.ReadText() != "x" {
		t.Fatal("no echo after a slot freed up")
	}
}

func TestMaxConnectionsUnlimited(t *testing.T) {
	srv, ws := relServe(t, fiberws.Config{MaxConnections: -1}, fiberws.WebSocket("/a", mirror))
	for range 20 {
		srv.Dial(t, "/a")
	}
	relWaitConns(t, ws, 20)
}

func TestMaxConnectionsPerRoute(t *testing.T) {
	srv, ws := relServe(t, fiberws.Config{},
		fiberws.WebSocket("/one", mirror, fiberws.WithMaxConnections(1)),
		fiberws.WebSocket("/many", mirror))
	one := srv.Dial(t, "/one")
	relWaitConns(t, ws, 1)
	expect503(t, srv, "/one")
	for range 3 {
		srv.Dial(t, "/many")
	}
	relWaitConns(t, ws, 4)
	one.Drop()
	relWaitConns(t, ws, 3)
	srv.Dial(t, "/one")
}

// Handshakes that race past the 503 check are closed right after the
// upgrade with 1013, so the cap holds even under a burst.
func TestMaxConnectionsBurst(t *testing.T) {
	srv, ws := relServe(t, fiberws.Config{MaxConnections: 5}, fiberws.WebSocket("/a", mirror))
	type result struct {
		c    *fiberwstest.Client
		code int
	}
	results := make(chan result, 40)
	for range 40 {
		go func() {
			c, resp, err := srv.TryDial("/a")
			if err != nil {
				code := 0
				if resp != nil {
					code = resp.StatusCode
				}
				results <- result{code: code}
				return
			}
			results <- result{c: c}
		}()
	}
	var open []*fiberwstest.Client
	for range 40 {
		r := recv(t, results, "a dial of the burst")
		switch {
		case r.c != nil:
			open = append(open, r.c)
		case r.code != http.StatusServiceUnavailable:
			t.Fatalf("dial failed with status %d", r.code)
		}
	}
	defer func() {
		for _, c := range open {
			_ = c.Conn().Close()
		}
	}()
	// Those over the cap are closed with 1013 at once, so the server soon
	// holds at most the cap.
	fiberwstest.Eventually(t, func() bool { return ws.Connections() <= 5 }, "%d open, cap 5", fiberwstest.Later(func() any { return ws.Connections() }))
	// The others stay open: they echo. A rejected one answers the message
	// with its 1013 close frame instead (the server reads no more data once
	// it closed).
	alive := 0
	for i, c := range open {
		_ = c.Conn().SetWriteDeadline(time.Now().Add(2 * time.Second))
		_ = c.Conn().WriteMessage(websocket.TextMessage, []byte("alive?")) // fails if already closed
		_ = c.Conn().SetReadDeadline(time.Now().Add(2 * time.Second))
		_, data, err := c.Conn().ReadMessage()
		var ce *websocket.CloseError
		switch {
		case err == nil && string(data) == "alive?":
			alive++
		case errors.As(err, &ce) && ce.Code == fiberws.CloseTryAgainLater:
		default:
			t.Fatalf("connection %d: got %q, %v; want the echo or close 1013", i, data, err)
		}
	}
	if alive > 5 || alive == 0 { // arrival order: the first ones stay
		t.Fatalf("%d connections stayed open, cap 5", alive)
	}
	fiberwstest.Eventually(t, func() bool { return ws.Connections() == alive }, "%d open on the server, %d clients got an echo", fiberwstest.Later(func() any { return ws.Connections() }), alive)
}

func TestMessageRate(t *testing.T) {
	obs := newRelSummaries()
	srv, _ := relServe(t, fiberws.Config{Observers: []hooks.Observer{obs}, MessageRate: 1000, MessageBurst: 1000},
		fiberws.WebSocket("/limited", mirror, fiberws.WithMessageRate(5, 5)),
		fiberws.WebSocket("/app", mirror),
		fiberws.WebSocket("/off", mirror, fiberws.WithMessageRate(0, 0)))

	// Within the burst: every reply arrives.
	c := srv.Dial(t, "/limited")
	for i := range 5 {
		c.SendText("m")
		if c.ReadText() != "m" {
			t.Fatalf("reply %d missing", i)
		}
	}
	c.SendText("over")
	if code, reason := c.ExpectClose(); code != fiberws.ClosePolicyViolation || reason != fiberws.ReasonRateLimited {
		t.Fatalf("close %d %q, want 1008 %q", code, reason, fiberws.ReasonRateLimited)
	}
	if s := obs.next(t); s.CloseCode != fiberws.ClosePolicyViolation || s.ClosedBy != hooks.ByServer {
		t.Fatalf("summary %d %s", s.CloseCode, s.ClosedBy)
	}

	// The app-wide rate: a client far over 1000 messages a second is closed.
	a := srv.Dial(t, "/app")
	go func() {
		for range 50000 {
			if a.Conn().WriteMessage(websocket.TextMessage, []byte("x")) != nil {
				return
			}
		}
	}()
	msgs, code, _ := a.ReadUntilClose()
	if code != fiberws.ClosePolicyViolation || len(msgs) < 900 || len(msgs) > 5000 {
		t.Fatalf("app rate: %d replies, close %d", len(msgs), code)
	}

	// Turned off per route.
	o := srv.Dial(t, "/off")
	for range 2000 {
		o.SendText("y")
	}
	for range 2000 {
		o.ReadText()
	}
}

// Pings count against the rate too: a ping flood is closed.
func TestMessageRatePings(t *testing.T) {
	srv, _ := relServe(t, fiberws.Config{}, fiberws.WebSocket("/p", mirror, fiberws.WithMessageRate(10, 10)))
	c := srv.Dial(t, "/p")
	for range 50 {
		if err := c.Conn().WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
			break
		}
	}
	if code, _ := c.ExpectClose(); code != fiberws.ClosePolicyViolation {
		t.Fatalf("close %d, want 1008", code)
	}
}

func TestIdleTimeout(t *testing.T) {
	const idle = time.Second
	obs := newRelSummaries()
	// A short CloseTimeout: a client closed for idleness that does not
	// read (the pinger and ponger below) is counted down soon after.
	srv, ws := relServe(t, fiberws.Config{Observers: []hooks.Observer{obs}, IdleTimeout: idle, CloseTimeout: 200 * time.Millisecond},
		fiberws.WebSocket("/idle", mirror),
		fiberws.WebSocket("/never", mirror, fiberws.WithIdleTimeout(0)))

	// A silent client is closed with 1001 "idle timeout", not before the
	// timeout: its clock started after the dial did.
	start := time.Now()
	silent := srv.Dial(t, "/idle")
	code, reason := silent.ExpectClose()
	if code != fiberws.CloseGoingAway || reason != fiberws.ReasonIdleTimeout {
		t.Fatalf("close %d %q", code, reason)
	}
	if el := time.Since(start); el < idle || el > idle+2*time.Second {
		t.Fatalf("closed after %v, want ~%v", el, idle)
	}
	if s := obs.next(t); s.ClosedBy != hooks.ByTimeout || s.CloseCode != fiberws.CloseGoingAway {
		t.Fatalf("summary %d %s", s.CloseCode, s.ClosedBy)
	}

	// Messages, pings and pongs all keep a connection alive: one every
	// quarter of the timeout, for twice the timeout.
	talker := srv.Dial(t, "/idle")
	pinger := srv.Dial(t, "/idle")
	ponger := srv.Dial(t, "/idle")
	quiet := srv.Dial(t, "/never") // turned off per route: silent all along
	for range 8 {
		time.Sleep(idle / 4) // the pace under test: well inside the idle timeout
		talker.SendText("hi")
		if talker.ReadText() != "hi" {
			t.Fatal("no echo")
		}
		if err := pinger.Conn().WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := ponger.Conn().WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// Twice the timeout in, all four still open; the pinger and ponger
	// never read, so check on the server side: one closed for idleness
	// would have been counted down by now (timeout + CloseTimeout).
	if n := ws.Connections(); n != 4 {
		t.Fatalf("%d open connections, want 4", n)
	}
	quiet.SendText("still here")
	if quiet.ReadText() != "still here" {
		t.Fatal("no echo")
	}
}

// With WithPing, the client's pongs reset the idle timer: a live client is
// never closed for idleness however quiet its application is.
func TestIdleTimeoutWithPing(t *testing.T) {
	// The idle timeout is six ping intervals, and the pong timeout long,
	// so a client stalled by a loaded machine is closed for neither; the
	// silence lasts well past the idle timeout.
	srv, _ := relServe(t, fiberws.Config{IdleTimeout: 600 * time.Millisecond},
		fiberws.WebSocket("/p", mirror, fiberws.WithPing(100*time.Millisecond, time.Second)))
	c := srv.Dial(t, "/p")
	c.ExpectSilence(1500 * time.Millisecond) // reading answers the pings
	if c.Pings() < 3 {
		t.Fatalf("%d pings", c.Pings())
	}
}

// HandshakeTimeout bounds the upgrade response only; the deadline must not
// outlive the handshake.
func TestHandshakeTimeoutDoesNotLeak(t *testing.T) {
	srv, _ := relServe(t, fiberws.Config{HandshakeTimeout: 100 * time.Millisecond}, fiberws.WebSocket("/e", mirror))
	c := srv.Dial(t, "/e")
	time.Sleep(300 * time.Millisecond) // well past the handshake timeout: what is tested
	c.SendText("late")
	if c.ReadText() != "late" {
		t.Fatal("no echo")
	}
	// A plain GET on the same route (no upgrade) keeps working after a
	// while on a keep-alive HTTP connection.
	client := &http.Client{Timeout: 2 * time.Second}
	for range 2 {
		resp, err := client.Get(srv.HTTPURL("/e"))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUpgradeRequired {
			t.Fatalf("status %d", resp.StatusCode)
		}
		time.Sleep(200 * time.Millisecond) // the keep-alive connection outlives the handshake timeout
	}
	client.CloseIdleConnections()
}

// TestFileLimitWarning: registering on an app whose Fiber Concurrency plus
// the Server's MaxConnections can take more descriptors than the process
// may open logs a warning; caps well within the limit log none.
func TestFileLimitWarning(t *testing.T) {
	if _, ok := rlimit.OpenFiles(); !ok {
		t.Skip("no open-files limit on this system")
	}
	for _, tc := range []struct {
		maxConns, concurrency int
		warn                  bool
	}{{-1, 10, true}, {10, 10, false}} {
		logger, log := fiberwstest.NewLog(t)
		app := fiber.New(fiber.Config{DisableStartupMessage: true, Concurrency: tc.concurrency})
		ws := fiberws.New(fiberws.Config{Logger: logger, MaxConnections: tc.maxConns})
		if err := ws.Register(app, ctrl{routes: []fiberws.Route{fiberws.WebSocket("/ws", echo)}}); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(log.String(), "open-files limit"); got != tc.warn {
			t.Errorf("MaxConnections %d, Concurrency %d: warned %v, want %v; log:\n%s", tc.maxConns, tc.concurrency, got, tc.warn, log)
		}
	}
}

// TestReadLimitBackstop: a message a little over the read limit closes
// with 1009 "message too big" after the close handshake; one far over it
// (past the library's backstop, twice the limit) is cut off at once,
// without the server reading the rest of it.
func TestReadLimitBackstop(t *testing.T) {
	const limit = 1 << 10
	srv, _ := relServe(t, fiberws.Config{}, fiberws.WebSocket("/small", mirror, fiberws.WithReadLimit(limit)))
	c := srv.Dial(t, "/small")
	c.SendText(strings.Repeat("a", limit+limit/2))
	if code, reason := c.ExpectClose(); code != websocket.CloseMessageTooBig || reason != "message too big" {
		t.Fatalf("a little over: %d %q", code, reason)
	}
	// One frame that says it holds 1 GiB, of which a client that never
	// reads sends what it can: the server must not take it all in.
	big := srv.Dial(t, "/small")
	raw := big.Conn().NetConn()
	header := []byte{0x81, 0xff, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0} // FIN text, mask, 64-bit length 2^30, zero mask key
	began := time.Now()
	if _, err := raw.Write(header); err != nil {
		t.Fatal(err)
	}
	sent := 0
	chunk := make([]byte, 64<<10)
	_ = raw.SetWriteDeadline(time.Now().Add(2 * time.Second))
	for sent < 1<<30 {
		n, err := raw.Write(chunk)
		sent += n
		if err != nil {
			break
		}
	}
	if time.Since(began) > 1500*time.Millisecond || sent > 64<<20 {
		t.Fatalf("the server took %d bytes of an oversized frame over %v", sent, time.Since(began))
	}
}

// dialFrom upgrades to url from the local address ip (any 127.x.y.z is
// loopback on Linux), returning the HTTP status of a refused upgrade.
func dialFrom(t *testing.T, ip, url string) (*websocket.Conn, int) {
	t.Helper()
	d := websocket.Dialer{
		HandshakeTimeout: fiberwstest.DefaultTimeout,
		NetDial: func(network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: fiberwstest.DefaultTimeout}
			return nd.Dial(network, addr)
		},
	}
	c, resp, err := d.Dial(url, nil)
	if err != nil {
		if resp == nil {
			t.Fatalf("dial from %s: %v", ip, err)
		}
		return nil, resp.StatusCode
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, http.StatusSwitchingProtocols
}

// TestMaxConnectionsPerIP: one address holding its share of connections
// gets 429 for more (with Retry-After), while another address still
// connects; a route's own cap applies within the Server's.
func TestMaxConnectionsPerIP(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("dials from 127.0.0.2 and 127.0.0.3: loopback addresses only Linux routes by default")
	}
	h := serveWith(t, fiberws.Config{MaxConnectionsPerIP: 3},
		fiberws.WebSocket("/any", echo),
		fiberws.WebSocket("/one", echo, fiberws.WithMaxConnectionsPerIP(1)),
	)
	for i := range 3 {
		if _, status := dialFrom(t, "127.0.0.1", h.URL("/any")); status != http.StatusSwitchingProtocols {
			t.Fatalf("connection %d from 127.0.0.1: HTTP %d", i, status)
		}
	}
	// Counted once upgraded (a handshake racing these would be upgraded,
	// then closed 1013, as for the other caps).
	relWaitConns(t, h.ws, 3)
	if _, status := dialFrom(t, "127.0.0.1", h.URL("/any")); status != http.StatusTooManyRequests {
		t.Fatalf("4th connection from 127.0.0.1: HTTP %d, want 429", status)
	}
	if _, status := dialFrom(t, "127.0.0.2", h.URL("/one")); status != http.StatusSwitchingProtocols {
		t.Fatalf("another address: HTTP %d, want an upgrade", status)
	}
	relWaitConns(t, h.ws, 4)
	if _, status := dialFrom(t, "127.0.0.2", h.URL("/one")); status != http.StatusTooManyRequests {
		t.Fatalf("2nd connection to /one from 127.0.0.2: HTTP %d, want 429", status)
	}
	// Slots come back when connections end.
	c, _ := dialFrom(t, "127.0.0.3", h.URL("/one"))
	relWaitConns(t, h.ws, 5) // counted: the client sees the 101 before the server counts it
	_ = c.Close()
	relWaitConns(t, h.ws, 4)
	if _, status := dialFrom(t, "127.0.0.3", h.URL("/one")); status != http.StatusSwitchingProtocols {
		t.Fatalf("after its connection closed, 127.0.0.3: HTTP %d", status)
	}
}
