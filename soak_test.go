package fiberws_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/rlimit"
	"github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"
)

// TestSoak is the chaos soak: many loopback clients at once, well-behaved
// echo clients mixed with clients that drop TCP mid-frame, never answer
// pings, stop reading, send oversize frames, invalid UTF-8 or bad JSON,
// and reconnect in loops. It asserts that the well-behaved clients saw no
// error and every reply, that every connection's cleanup ran exactly once,
// that goroutines and heap return to their baseline and that no panic was
// logged.
//
// A plain `go test ./...` (what CI runs, with -race) runs the short form: a
// few hundred clients for a few seconds. `go test -short ./...` skips it,
// for a quick run while editing. The long form, which runs with or
// without -short:
//
//	FIBERWS_SOAK=1 FIBERWS_SOAK_CLIENTS=5000 FIBERWS_SOAK_DURATION=10m \
//	    go test -run TestSoak -count=1 -v -timeout 30m .
//
// Not parallel: it counts the process's goroutines, heap and descriptors.
func TestSoak(t *testing.T) {
	clients, duration := 300, 5*time.Second
	if os.Getenv("FIBERWS_SOAK") == "1" {
		clients, duration = 5000, 10*time.Minute
		if v, err := strconv.Atoi(os.Getenv("FIBERWS_SOAK_CLIENTS")); err == nil && v > 0 {
			clients = v
		}
		if v, err := time.ParseDuration(os.Getenv("FIBERWS_SOAK_DURATION")); err == nil && v > 0 {
			duration = v
		}
	} else if testing.Short() {
		t.Skip("the soak runs without -short (as in CI), or with FIBERWS_SOAK=1")
	}
	checkFileLimit(t, clients)
	runSoak(t, clients, duration)
}

// checkFileLimit skips the soak when the process may not open the two
// descriptors each client costs (both ends live in this process). Go has
// already raised the soft limit to the hard one at start-up.
func checkFileLimit(t *testing.T, clients int) {
	limit, ok := rlimit.OpenFiles()
	if need := uint64(2*clients + 256); ok && limit < need {
		t.Skipf("RLIMIT_NOFILE %d is below the %d this soak needs", limit, need)
	}
}

type soakMsg struct {
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

// soakKind is what one client does, for its whole life, in a loop.
type soakKind int

const (
	kindEcho soakKind = iota
	kindJSON
	kindDropMidFrame
	kindNoPong
	kindStopReading
	kindOversize
	kindBadUTF8
	kindBadJSON
	kindReconnect
	kindSilent
	kindSlowloris
	kindPartial
	numKinds
)

var kindNames = [...]string{"echo", "json", "drop-mid-frame", "no-pong", "stop-reading", "oversize", "bad-utf8", "bad-json", "reconnect", "silent-tcp", "slowloris", "partial-message"}

// kindOf spreads the kinds: of every 23 clients, 10 echo, 3 JSON and one
// of each misbehaviour (reconnect loops and the three that never finish
// what they start included).
func kindOf(i int) soakKind {
	switch r := i % 23; {
	case r < 10:
		return kindEcho
	case r < 13:
		return kindJSON
	default:
		return soakKind(r - 13 + int(kindDropMidFrame))
	}
}

// soakStats is what the clients and the server saw.
type soakStats struct {
	sessions    [numKinds]atomic.Int64 // connections made, per kind
	dialErrors  [numKinds]atomic.Int64
	repliesOK   atomic.Int64 // well-behaved replies checked
	goodErrors  atomic.Int64 // any error a well-behaved client saw
	unexpected  [numKinds]atomic.Int64
	firstErrMu  sync.Mutex
	firstErrors []string

	cleanupsRegistered, cleanupsRun, cleanupsTwice atomic.Int64
	summaries                                      atomic.Int64
	codesMu                                        sync.Mutex
	codes                                          map[string]int // route+code -> count
	panicsLogged, errorsLogged                     atomic.Int64
}

func (st *soakStats) fail(k soakKind, format string, args ...any) {
	if k == kindEcho || k == kindJSON {
		st.goodErrors.Add(1)
	} else {
		st.unexpected[k].Add(1)
	}
	st.firstErrMu.Lock()
	if len(st.firstErrors) < 20 {
		st.firstErrors = append(st.firstErrors, kindNames[k]+": "+fmt.Sprintf(format, args...))
	}
	st.firstErrMu.Unlock()
}

func (st *soakStats) OnRequest(hooks.Request) {}

func (st *soakStats) OnSummary(s hooks.Summary) {
	if s.Status != 0 {
		return // not upgraded
	}
	st.summaries.Add(1)
	key := fmt.Sprintf("%s %d %s", s.Route, s.CloseCode, s.ClosedBy)
	st.codesMu.Lock()
	st.codes[key]++
	st.codesMu.Unlock()
}

// countingHandler counts error records and those that carry a panic.
type countingHandler struct{ st *soakStats }

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		h.st.errorsLogged.Add(1)
	}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "panic" {
			h.st.panicsLogged.Add(1)
		}
		return true
	})
	if strings.Contains(r.Message, "panic") {
		h.st.panicsLogged.Add(1)
	}
	return nil
}
func (h countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h countingHandler) WithGroup(string) slog.Handler      { return h }

const (
	soakReadLimit = 16 << 10
	soakPing      = 2 * time.Second
	// soakPingWait is generous: with thousands of clients on two cores a
	// well-behaved client's pong can take seconds to be read.
	soakPingWait = 10 * time.Second
	// soakReadTimeout is the Fiber ReadTimeout that closes silent and
	// slowloris connections; soakMessageTimeout the MessageTimeout that
	// closes partial messages.
	soakReadTimeout    = 2 * time.Second
	soakMessageTimeout = 2 * time.Second
)

// register adds a cleanup that counts how often it runs.
func (st *soakStats) register(s *fiberws.Session) {
	st.cleanupsRegistered.Add(1)
	var ran atomic.Int32
	s.Cleanup(func() {
		if ran.Add(1) > 1 {
			st.cleanupsTwice.Add(1)
			return
		}
		st.cleanupsRun.Add(1)
	})
}

func soakRoutes(st *soakStats) []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/echo", func(_ context.Context, c *fiberws.Conn[*string], msg *string) (*string, error) {
			if msg == nil {
				st.register(c.Session)
			}
			return msg, nil
		}, fiberws.OnConnect(), fiberws.WithPing(soakPing, soakPingWait)),
		fiberws.WebSocket("/json", func(_ context.Context, c *fiberws.Conn[*soakMsg], msg *soakMsg) (*soakMsg, error) {
			if msg == nil {
				st.register(c.Session)
				return nil, nil
			}
			msg.Seq++
			return msg, nil
		}, fiberws.OnConnect()),
		fiberws.WebSocketStream("/flood", func(_ context.Context, c *fiberws.Conn[[]byte], msg *string) (iter.Seq[[]byte], error) {
			if msg == nil {
				st.register(c.Session)
				return nil, nil
			}
			chunk := make([]byte, 32<<10)
			return func(yield func([]byte) bool) {
				for range 1000 {
					if !yield(chunk) {
						return
					}
				}
			}, nil
		}, fiberws.OnConnect()),
	}
}

func runSoak(t *testing.T, clients int, duration time.Duration) {
	st := &soakStats{codes: map[string]int{}}
	runtime.GC()
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	g0 := runtime.NumGoroutine()
	baseline := goleak.IgnoreCurrent()

	app := fiber.New(fiber.Config{DisableStartupMessage: true, ReadTimeout: soakReadTimeout})
	ws := fiberws.New(fiberws.Config{
		MessageTimeout:  soakMessageTimeout,
		ReadLimit:       soakReadLimit,
		WriteTimeout:    2 * time.Second,
		CloseTimeout:    time.Second,
		IdleTimeout:     30 * time.Second,
		MaxConnections:  -1,
		ShutdownTimeout: 5 * time.Second,
		Observers:       []hooks.Observer{st},
		Logger:          slog.New(countingHandler{st}),
	})
	if err := ws.Register(app, ctrl{routes: soakRoutes(st)}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	addr := srv.Addr

	start := time.Now()
	deadline := start.Add(duration)
	var wg sync.WaitGroup
	peak := atomic.Int64{}
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Spread the first dials over a second or two.
			time.Sleep(time.Duration(i%2000) * time.Millisecond)
			soakClient(st, addr, kindOf(i), deadline, uint64(i))
		}()
	}
	// Sample the open connections while the clients run.
	sampleDone := make(chan struct{})
	go func() {
		defer close(sampleDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for time.Now().Before(deadline) {
			<-tick.C
			if n := int64(ws.Connections()); n > peak.Load() {
				peak.Store(n)
			}
		}
	}()
	wg.Wait()
	<-sampleDone
	clientsDone := time.Since(start)

	// Every connection winds down on its own: no shutdown needed.
	drainBy := time.Now().Add(30 * time.Second)
	for ws.Connections() > 0 && time.Now().Before(drainBy) {
		time.Sleep(10 * time.Millisecond)
	}
	openAfter := ws.Connections()
	drained := time.Since(start)
	if err := srv.Shutdown(10 * time.Second); err != nil {
		t.Error(err)
	}
	stopped := time.Since(start)
	// Goroutines: back to the baseline, apart from fasthttp's date updater
	// and worker-pool cleaners, which sleep up to 10s before they notice
	// their server stopped (fiberwstest.LeakOptions).
	leakErr := goleak.Find(fiberwstest.LeakOptions(baseline)...)
	g1 := runtime.NumGoroutine()
	settled := time.Since(start)
	runtime.GC()
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)

	var sessions, dialErrs, unexpected int64
	perKind := make([]string, numKinds)
	for k := range numKinds {
		sessions += st.sessions[k].Load()
		dialErrs += st.dialErrors[k].Load()
		unexpected += st.unexpected[k].Load()
		perKind[k] = fmt.Sprintf("%s=%d(dial errors %d, unexpected %d)", kindNames[k], st.sessions[k].Load(), st.dialErrors[k].Load(), st.unexpected[k].Load())
	}
	t.Logf("soak: %d clients for %v (clients done after %v, drained after %v, stopped after %v, goroutines settled after %v), peak %d open connections",
		clients, duration, clientsDone.Round(time.Millisecond), drained.Round(time.Millisecond), stopped.Round(time.Millisecond), settled.Round(time.Millisecond), peak.Load())
	t.Logf("soak: %d connections: %s", sessions, strings.Join(perKind, " "))
	t.Logf("soak: well-behaved replies checked %d, well-behaved errors %d", st.repliesOK.Load(), st.goodErrors.Load())
	t.Logf("soak: server summaries %d; cleanups registered %d, run %d, run twice %d; open after drain %d",
		st.summaries.Load(), st.cleanupsRegistered.Load(), st.cleanupsRun.Load(), st.cleanupsTwice.Load(), openAfter)
	t.Logf("soak: goroutines %d -> %d; heap in use %.1f MiB -> %.1f MiB; error logs %d, panics %d",
		g0, g1, float64(m0.HeapInuse)/(1<<20), float64(m1.HeapInuse)/(1<<20), st.errorsLogged.Load(), st.panicsLogged.Load())
	st.codesMu.Lock()
	for k, v := range st.codes {
		t.Logf("soak: close %s: %d", k, v)
	}
	st.codesMu.Unlock()
	for _, e := range st.firstErrors {
		t.Logf("soak: first errors: %s", e)
	}

	if st.goodErrors.Load() != 0 || st.repliesOK.Load() == 0 {
		t.Errorf("well-behaved clients: %d errors, %d replies", st.goodErrors.Load(), st.repliesOK.Load())
	}
	if openAfter != 0 {
		t.Errorf("%d connections still open after the clients left", openAfter)
	}
	if reg, run := st.cleanupsRegistered.Load(), st.cleanupsRun.Load(); reg == 0 || reg != run || st.cleanupsTwice.Load() != 0 {
		t.Errorf("cleanups: registered %d, run %d, twice %d", reg, run, st.cleanupsTwice.Load())
	}
	if st.summaries.Load() < st.cleanupsRegistered.Load() {
		t.Errorf("summaries %d < connections %d", st.summaries.Load(), st.cleanupsRegistered.Load())
	}
	if leakErr != nil {
		t.Errorf("goroutines did not return to the baseline: %v", leakErr)
	}
	if m1.HeapInuse > m0.HeapInuse+32<<20 {
		t.Errorf("heap in use grew from %d to %d bytes", m0.HeapInuse, m1.HeapInuse)
	}
	if st.panicsLogged.Load() != 0 {
		t.Errorf("%d panics logged", st.panicsLogged.Load())
	}
	// Misbehaving clients must get the documented close; allow a tiny
	// share of timing noise (a client whose own deadline hit first).
	if unexpected*100 > sessions {
		t.Errorf("%d misbehaving connections ended unexpectedly (of %d)", unexpected, sessions)
	}
}

// soakClient runs one client until the deadline: connection after
// connection of its kind. Every wait is bounded.
func soakClient(st *soakStats, addr string, kind soakKind, deadline time.Time, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	dialer := websocket.Dialer{HandshakeTimeout: 20 * time.Second}
	route := map[soakKind]string{kindJSON: "/json", kindBadJSON: "/json", kindStopReading: "/flood"}[kind]
	if route == "" {
		route = "/echo"
	}
	for n := 0; n < 1_000_000 && time.Now().Before(deadline); n++ {
		if kind == kindSilent || kind == kindSlowloris {
			soakRaw(st, addr, kind)
			time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
			continue
		}
		c, _, err := dialer.Dial("ws://"+addr+route, nil)
		if err != nil {
			st.dialErrors[kind].Add(1)
			st.fail(kind, "dial: %v", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		st.sessions[kind].Add(1)
		soakSession(st, c, kind, rng)
		_ = c.Close()
		if kind != kindEcho && kind != kindJSON {
			time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		}
	}
}

func soakSession(st *soakStats, c *websocket.Conn, kind soakKind, rng *rand.Rand) {
	timeout := 20 * time.Second
	expectClose := func(want int) {
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		for range 100_000 {
			_, _, err := c.ReadMessage()
			if err == nil {
				continue
			}
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != want {
				st.fail(kind, "want close %d, got %v", want, err)
			}
			return
		}
	}
	switch kind {
	case kindEcho:
		msgs := 10 + rng.IntN(40)
		for i := range msgs {
			text := strings.Repeat("x", rng.IntN(1024)) + strconv.Itoa(i)
			_ = c.SetWriteDeadline(time.Now().Add(timeout))
			if err := c.WriteMessage(websocket.TextMessage, []byte(text)); err != nil {
				st.fail(kind, "write: %v", err)
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(timeout))
			mt, data, err := c.ReadMessage()
			if err != nil || mt != websocket.TextMessage || string(data) != text {
				st.fail(kind, "reply %d: type %d, %d bytes, %v", i, mt, len(data), err)
				return
			}
			st.repliesOK.Add(1)
			time.Sleep(time.Duration(10+rng.IntN(40)) * time.Millisecond)
		}
		soakClose(st, c, kind, timeout)
	case kindJSON:
		msgs := 10 + rng.IntN(40)
		for i := range msgs {
			_ = c.SetWriteDeadline(time.Now().Add(timeout))
			if err := c.WriteJSON(soakMsg{Seq: i, Text: "hello"}); err != nil {
				st.fail(kind, "write: %v", err)
				return
			}
			_ = c.SetReadDeadline(time.Now().Add(timeout))
			_, data, err := c.ReadMessage()
			var got soakMsg
			if err != nil || json.Unmarshal(data, &got) != nil || got.Seq != i+1 || got.Text != "hello" {
				st.fail(kind, "reply %d: %q, %v", i, data, err)
				return
			}
			st.repliesOK.Add(1)
			time.Sleep(time.Duration(10+rng.IntN(40)) * time.Millisecond)
		}
		soakClose(st, c, kind, timeout)
	case kindDropMidFrame:
		// A masked text frame header announcing 1000 bytes, 10 of them,
		// then TCP goes away.
		frame := []byte{0x81, 0x80 | 126, 0, 0, 1, 2, 3, 4}
		binary.BigEndian.PutUint16(frame[2:], 1000)
		frame = append(frame, []byte("0123456789")...)
		_ = c.NetConn().SetWriteDeadline(time.Now().Add(timeout))
		_, _ = c.NetConn().Write(frame)
		_ = c.NetConn().Close()
	case kindNoPong:
		// Reads (so pings arrive) but never answers them: closed with 1001.
		c.SetPingHandler(func(string) error { return nil })
		_ = c.SetReadDeadline(time.Now().Add(2*soakPing + soakPingWait + timeout))
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			st.fail(kind, "want close 1001, got %v", err)
		}
	case kindStopReading:
		// Asks for a flood of 32 MiB and never reads it: the server's
		// write times out and it drops the connection.
		_ = c.WriteMessage(websocket.TextMessage, []byte("flood"))
		time.Sleep(3 * time.Second)
		_ = c.NetConn().Close()
	case kindOversize:
		_ = c.SetWriteDeadline(time.Now().Add(timeout))
		_ = c.WriteMessage(websocket.BinaryMessage, make([]byte, soakReadLimit+1+rng.IntN(1000)))
		expectClose(websocket.CloseMessageTooBig)
	case kindBadUTF8:
		_ = c.SetWriteDeadline(time.Now().Add(timeout))
		_ = c.WriteMessage(websocket.TextMessage, []byte{'o', 'k', 0xff, 0xfe})
		expectClose(websocket.CloseInvalidFramePayloadData)
	case kindBadJSON:
		_ = c.SetWriteDeadline(time.Now().Add(timeout))
		_ = c.WriteMessage(websocket.TextMessage, []byte(`{"seq": "not a number"`))
		expectClose(websocket.CloseInvalidFramePayloadData)
	case kindPartial:
		// All but the last byte of a frame of the read limit, then
		// nothing: closed 1008 once the message is MessageTimeout late.
		// (No pong either: it would land inside the frame.)
		c.SetPingHandler(func(string) error { return nil })
		frame := []byte{0x82, 0x80 | 126, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint16(frame[2:], soakReadLimit)
		frame = append(frame, make([]byte, soakReadLimit-1)...)
		_ = c.NetConn().SetWriteDeadline(time.Now().Add(timeout))
		_, _ = c.NetConn().Write(frame)
		expectClose(websocket.ClosePolicyViolation)
	case kindReconnect:
		if rng.IntN(2) == 0 {
			_ = c.NetConn().Close()
		} else {
			soakClose(st, c, kind, timeout)
		}
	}
}

// soakRaw is a client that never gets as far as an upgrade: it connects
// and sends nothing (silent), or sends the upgrade request one byte every
// 100ms (slowloris). Fiber's ReadTimeout must close it.
func soakRaw(st *soakStats, addr string, kind soakKind) {
	c, err := net.DialTimeout("tcp", addr, 20*time.Second)
	if err != nil {
		st.dialErrors[kind].Add(1)
		st.fail(kind, "dial: %v", err)
		return
	}
	defer c.Close()
	st.sessions[kind].Add(1)
	start := time.Now()
	limit := start.Add(soakReadTimeout + 10*time.Second)
	closed := make(chan struct{})
	go func() { // the server's answer, if any (408), then EOF
		defer close(closed)
		_ = c.SetReadDeadline(limit)
		_, _ = io.Copy(io.Discard, c)
	}()
	if kind == kindSlowloris {
		req := "GET /echo HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
		for i := 0; i < len(req); i++ {
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := c.Write([]byte{req[i]}); err != nil {
				break // closed by the server
			}
			select {
			case <-closed:
				i = len(req)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	<-closed
	if time.Now().After(limit) {
		st.fail(kind, "still open after %v (read timeout %v)", time.Since(start).Round(time.Millisecond), soakReadTimeout)
	}
}

// soakClose does the close handshake from the client side.
func soakClose(st *soakStats, c *websocket.Conn, kind soakKind, timeout time.Duration) {
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(timeout)); err != nil {
		st.fail(kind, "close: %v", err)
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(timeout))
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 1000 {
		st.fail(kind, "close answer: %v", err)
	}
}
