package attack

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/valyala/fasthttp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

// testServer is a tiny fasthttp WebSocket server on 127.0.0.1:0 with one
// behaviour per path:
//
//	/echo     echoes every message
//	/greet    sends "hello <name>" once, then reads
//	/small    reads with a 1 KiB read limit (closes 1009 above it)
//	/cont     reads for 300ms, then closes with 1008
//	/room     writes 256 KiB messages with a 100ms write deadline until one fails
//	/limited  at most 3 connections per remote IP, 429 above
type testServer struct {
	addr string
	srv  *fasthttp.Server

	mu      sync.Mutex
	closing bool
	conns   map[*websocket.Conn]struct{}
	perIP   map[string]int
	wg      sync.WaitGroup
}

func newServer(t *testing.T, readTimeout time.Duration) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &testServer{addr: ln.Addr().String(), conns: map[*websocket.Conn]struct{}{}, perIP: map[string]int{}}
	up := websocket.FastHTTPUpgrader{HandshakeTimeout: 2 * time.Second}
	s.srv = &fasthttp.Server{
		ReadTimeout:           readTimeout,
		NoDefaultServerHeader: true,
		Logger:                quiet{},
		Handler: func(ctx *fasthttp.RequestCtx) {
			path := string(ctx.Path())
			ip := ctx.RemoteIP().String()
			name := string(ctx.QueryArgs().Peek("name"))
			switch path {
			case "/echo", "/greet", "/small", "/cont", "/room":
			case "/limited":
				s.mu.Lock()
				full := s.perIP[ip] >= 3
				if !full {
					s.perIP[ip]++
				}
				s.mu.Unlock()
				if full {
					ctx.Error("too many connections", fasthttp.StatusTooManyRequests)
					return
				}
			default:
				ctx.Error("not found", fasthttp.StatusNotFound)
				return
			}
			err := up.Upgrade(ctx, func(c *websocket.Conn) {
				if path == "/limited" {
					defer func() { s.mu.Lock(); s.perIP[ip]--; s.mu.Unlock() }()
				}
				if !s.track(c) {
					return
				}
				defer s.untrack(c)
				s.serve(path, name, c)
			})
			if err != nil && path == "/limited" {
				s.mu.Lock()
				s.perIP[ip]--
				s.mu.Unlock()
			}
		},
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = s.srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if err := s.srv.ShutdownWithContext(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		<-served
		s.mu.Lock()
		s.closing = true
		for c := range s.conns {
			_ = c.NetConn().Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

// quiet drops fasthttp's logging of the connections the attacks abuse.
type quiet struct{}

func (quiet) Printf(string, ...any) {}

func (s *testServer) track(c *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *testServer) untrack(c *websocket.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *testServer) serve(path, name string, c *websocket.Conn) {
	switch path {
	case "/echo":
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, msg); err != nil {
				return
			}
		}
	case "/greet":
		if err := c.WriteMessage(websocket.TextMessage, []byte("hello "+name)); err != nil {
			return
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	case "/small":
		c.SetReadLimit(1024)
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	case "/cont":
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "too slow"), time.Now().Add(time.Second))
				return
			}
		}
	case "/room":
		msg := make([]byte, 256<<10)
		for {
			_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				return
			}
		}
	case "/limited":
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}
}

// run runs f with a context bounded well under the test's budget and
// checks it returned in time.
func run(t *testing.T, f Func, cfg Config) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	cfg.Logf = t.Logf
	began := time.Now()
	r, err := f(ctx, cfg)
	if err != nil {
		t.Fatalf("%s: %v", r.Attack, err)
	}
	if d := time.Since(began); d > 4500*time.Millisecond {
		t.Fatalf("%s took %s", r.Attack, d)
	}
	t.Log(r)
	return r
}

func TestSilentAllOpen(t *testing.T) {
	s := newServer(t, 0)
	r := run(t, Silent, Config{Addr: s.addr, N: 50, Hold: 300 * time.Millisecond})
	if r.Attempted != 50 || r.Open != 50 || r.Closed != 0 || r.DialFailed != 0 {
		t.Fatalf("want 50 attempted and open, got %+v", r)
	}
}

func TestSilentServerTimeout(t *testing.T) {
	s := newServer(t, 100*time.Millisecond)
	r := run(t, Silent, Config{Addr: s.addr, N: 20, Hold: 2 * time.Second})
	if r.Closed != 20 || r.Open != 0 {
		t.Fatalf("want all 20 closed by the server, got %+v", r)
	}
	if r.FirstClose < 50*time.Millisecond || r.LastClose > 1500*time.Millisecond {
		t.Fatalf("closes at %s..%s, want around the 100ms read timeout", r.FirstClose, r.LastClose)
	}
}

func TestSilentStopsWithContext(t *testing.T) {
	s := newServer(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	r, err := Silent(ctx, Config{Addr: s.addr, N: 10, Hold: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d > 2*time.Second {
		t.Fatalf("Silent ignored its context: returned after %s", d)
	}
	if r.Open != 10 {
		t.Fatalf("want 10 open, got %+v", r)
	}
}

func TestSilentNoServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	r, err := Silent(context.Background(), Config{Addr: addr, N: 3, Hold: time.Second})
	if err == nil || r.DialFailed != 3 {
		t.Fatalf("want an error and 3 failed dials, got %v, %+v", err, r)
	}
}

func TestSlowloris(t *testing.T) {
	t.Run("lenient", func(t *testing.T) {
		s := newServer(t, 0)
		r := run(t, Slowloris, Config{Addr: s.addr, Path: "/echo", N: 5, Every: 20 * time.Millisecond, Hold: 300 * time.Millisecond})
		if r.Open != 5 || r.Closed != 0 {
			t.Fatalf("want 5 open, got %+v", r)
		}
		if r.LongestLife < 250*time.Millisecond {
			t.Fatalf("longest life %s, want about the hold", r.LongestLife)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		s := newServer(t, 100*time.Millisecond)
		r := run(t, Slowloris, Config{Addr: s.addr, Path: "/echo", N: 5, Every: 20 * time.Millisecond, Hold: 2 * time.Second})
		if r.Closed != 5 || r.Open != 0 {
			t.Fatalf("want 5 closed by the server, got %+v", r)
		}
		if r.LongestLife > 1500*time.Millisecond {
			t.Fatalf("longest life %s, want about the 100ms read timeout", r.LongestLife)
		}
	})
}

func TestPartialHeld(t *testing.T) {
	s := newServer(t, 0)
	// 128 KiB: the 64-bit length form.
	r := run(t, Partial, Config{Addr: s.addr, Path: "/echo", N: 5, Size: 128 << 10, Hold: 400 * time.Millisecond})
	if r.Upgraded != 5 || r.Open != 5 || r.Closed != 0 {
		t.Fatalf("want 5 upgraded and held, got %+v", r)
	}
}

func TestPartialReadLimit(t *testing.T) {
	s := newServer(t, 0)
	r := run(t, Partial, Config{Addr: s.addr, Path: "/small", N: 5, Size: 1 << 20, Hold: 3 * time.Second})
	if r.Upgraded != 5 || r.Closed != 5 {
		t.Fatalf("want 5 upgraded and closed, got %+v", r)
	}
	if r.CloseCodes[websocket.CloseMessageTooBig]+r.CloseCodes[CloseAbnormal] != 5 {
		t.Fatalf("close codes %v, want 1009 (or 1006 when the close frame was lost to a reset)", r.CloseCodes)
	}
	if r.CloseCodes[websocket.CloseMessageTooBig] == 0 {
		t.Logf("no 1009 close frame seen: %v", r.CloseCodes)
	}
}

func TestPartialNotFound(t *testing.T) {
	s := newServer(t, 0)
	r := run(t, Partial, Config{Addr: s.addr, Path: "/nope", N: 2, Size: 10, Hold: 300 * time.Millisecond})
	if r.Upgraded != 0 || r.Statuses[404] != 2 {
		t.Fatalf("want two 404s, got %+v", r)
	}
}

func TestContinuationServerCloses(t *testing.T) {
	s := newServer(t, 0)
	r := run(t, Continuation, Config{Addr: s.addr, Path: "/cont", Hold: 3 * time.Second})
	if r.Closed != 1 || r.Upgraded != 1 {
		t.Fatalf("want the server to close the flood, got %+v", r)
	}
	if r.FramesSent <= continuationBatch || r.BytesSent/6 != r.FramesSent {
		t.Fatalf("frames %d, bytes %d: want more than one batch of 6-byte frames", r.FramesSent, r.BytesSent)
	}
	if r.FirstClose < 250*time.Millisecond || r.FirstClose > 2*time.Second {
		t.Fatalf("closed after %s, want about 300ms", r.FirstClose)
	}
	if r.CloseCode != 0 && r.CloseCode != websocket.ClosePolicyViolation {
		t.Fatalf("close code %d, want 1008 (or none)", r.CloseCode)
	}
}

func TestContinuationHold(t *testing.T) {
	s := newServer(t, 0)
	r := run(t, Continuation, Config{Addr: s.addr, Path: "/echo", Hold: 300 * time.Millisecond})
	if r.Open != 1 || r.FramesSent == 0 {
		t.Fatalf("want frames sent and the connection open, got %+v", r)
	}
}

func TestContinuationBadPath(t *testing.T) {
	s := newServer(t, 0)
	_, err := Continuation(context.Background(), Config{Addr: s.addr, Path: "/nope", Hold: time.Second})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("want a 404 error, got %v", err)
	}
}

func TestStuck(t *testing.T) {
	s := newServer(t, 0)
	r := run(t, Stuck, Config{Addr: s.addr, Path: "/room", N: 3, Hold: 3 * time.Second})
	if r.Upgraded != 3 || r.Closed != 3 {
		t.Fatalf("want 3 upgraded and dropped, got %+v", r)
	}
	if r.FirstClose > r.MedianClose || r.MedianClose > r.LastClose || r.LastClose > 2500*time.Millisecond {
		t.Fatalf("drop times %s/%s/%s", r.FirstClose, r.MedianClose, r.LastClose)
	}
}

func TestStuckHeld(t *testing.T) {
	s := newServer(t, 0)
	r := run(t, Stuck, Config{Addr: s.addr, Path: "/echo", N: 3, Hold: 300 * time.Millisecond, ProbeEvery: 20 * time.Millisecond})
	if r.Open != 3 {
		t.Fatalf("want 3 still connected, got %+v", r)
	}
}

func TestPingFlood(t *testing.T) {
	s := newServer(t, 0)
	r := run(t, PingFlood, Config{Addr: s.addr, Path: "/echo", Hold: 300 * time.Millisecond})
	if r.FramesSent == 0 || r.BytesSent/(6+pingPayload) != r.FramesSent || r.Open+r.Closed != 1 {
		t.Fatalf("want pings sent, got %+v", r)
	}
}

func TestOneIP(t *testing.T) {
	s := newServer(t, 0)
	cfg := Config{Addr: s.addr, Path: "/limited", N: 5, LocalIP: "127.0.0.1", Hold: 500 * time.Millisecond}
	if runtime.GOOS == "linux" { // the whole of 127/8 is local there
		cfg.ProbeIP = "127.0.0.2"
	}
	r := run(t, OneIP, cfg)
	if r.Upgraded != 3 || r.Statuses[429] != 2 || r.Open != 3 {
		t.Fatalf("want 3 upgrades, 2×429, 3 held; got %+v", r)
	}
	if cfg.ProbeIP != "" && (!r.Probed || r.ProbeErr != "") {
		t.Fatalf("probe from %s: probed %v, err %q", cfg.ProbeIP, r.Probed, r.ProbeErr)
	}
}

func TestJoinStorm(t *testing.T) {
	s := newServer(t, 0)
	r := run(t, JoinStorm, Config{Addr: s.addr, Path: "/greet?name=u{i}", N: 12, Hold: 500 * time.Millisecond})
	want := int64(0)
	for i := 0; i < 12; i++ {
		want += int64(len("hello u")) + int64(len(strconv.Itoa(i)))
	}
	if r.Upgraded != 12 || r.BytesReceived != want || r.FirstClientBytes != int64(len("hello u0")) {
		t.Fatalf("want 12 clients, %d bytes (8 for the first), got %+v", want, r)
	}
	if r.ConnectTime <= 0 || r.ConnectTime > r.Elapsed {
		t.Fatalf("connect time %s of %s", r.ConnectTime, r.Elapsed)
	}
}

func TestProbe(t *testing.T) {
	s := newServer(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := Probe(ctx, s.addr, "/echo"); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if err := Probe(ctx, s.addr, "/nope"); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("want a 404 error, got %v", err)
	}
}

func TestRunAndConfig(t *testing.T) {
	if _, err := Run(context.Background(), "nope", Config{Addr: "127.0.0.1:1"}); err == nil {
		t.Fatal("unknown attack accepted")
	}
	bad := []Config{
		{},
		{Addr: "localhost"},
		{Addr: "127.0.0.1:1", Path: "nope"},
		{Addr: "127.0.0.1:1", LocalIP: "x"},
		{Addr: "127.0.0.1:1", N: -1},
	}
	for _, cfg := range bad {
		if _, err := Run(context.Background(), "silent", cfg); err == nil {
			t.Errorf("config %+v accepted", cfg)
		}
	}
	if len(Names()) != 8 {
		t.Fatalf("names %v", Names())
	}
	for _, n := range Names() {
		if s := (Result{Attack: n, Attempted: 1, Closed: 1}).String(); !strings.HasPrefix(s, n+":") {
			t.Errorf("String() = %q", s)
		}
	}
}

func TestFrames(t *testing.T) {
	for _, n := range []int{0, 125, 126, 65535, 65536, 200000} {
		key := [4]byte{1, 2, 3, 4}
		f := frameHeader(nil, true, opBinary, n, key)
		wantHdr := 2 + 4
		switch {
		case n > 65535:
			wantHdr += 8
		case n > 125:
			wantHdr += 2
		}
		if len(f) != wantHdr {
			t.Fatalf("n=%d: header %d bytes, want %d", n, len(f), wantHdr)
		}
		f = append(f, make([]byte, n)...)
		f = append(f, appendFrame(nil, true, opClose, []byte{0x03, 0xF1, 'x'})...) // 1009
		br := bufio.NewReader(bytes.NewReader(f))
		if op, _, err := readFrame(br); err != nil || op != opBinary {
			t.Fatalf("n=%d: op %d, err %v", n, op, err)
		}
		op, payload, err := readFrame(br)
		if err != nil || op != opClose || closeCode(payload) != 1009 || string(payload[2:]) != "x" {
			t.Fatalf("n=%d: close frame op %d payload %q err %v", n, op, payload, err)
		}
	}
	if code, ok := statusOf([]byte("HTTP/1.1 408 Request Timeout\r\n")); !ok || code != 408 {
		t.Fatalf("statusOf: %d %v", code, ok)
	}
	for _, tc := range []struct {
		resp string
		code int
		ok   bool
	}{
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 101, true},
		{"HTTP/1.1 429 Too Many Requests\r\nX: " + strings.Repeat("y", 2000) + "\r\n\r\nbody", 429, true},
		{"garbage\r\n\r\n", 0, false},
		{"", 0, false},
	} {
		code, err := readStatus(bufio.NewReaderSize(strings.NewReader(tc.resp), 512))
		if code != tc.code || (err == nil) != tc.ok {
			t.Errorf("readStatus(%.30q) = %d, %v", tc.resp, code, err)
		}
	}
}
