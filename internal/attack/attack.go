// Package attack reproduces hostile-client attacks against a WebSocket
// server, for testing your own servers only: the project's tests call it
// directly, and cmd/fiberws-attack runs it from the command line so that
// docs/RELIABILITY.md can cite one reproduction command per attack.
//
// Every attack has the shape of [Func]: it takes a [Config] and reports a
// [Result]. The attacks talk raw TCP: they write the HTTP upgrade request
// and the WebSocket frames by hand (client frames masked, server frames
// parsed unmasked), so that they can send what no well-behaved client
// library would. The attacks, by the name [Run] and the CLI know them:
//
//   - silent: N TCP connections that send nothing at all (not even an
//     HTTP request), held for Hold. Shows whether the server times out
//     connections that never start a request, and how many it can hold.
//   - slowloris: N connections that each send a valid upgrade request one
//     byte every Every. Shows whether the server bounds the time a request
//     may take to arrive.
//   - partial: N connections upgrade, send the header of one masked binary
//     frame of Size bytes and all but its last payload byte, then stall.
//     Shows whether the server times out a message that never completes
//     (and how much memory N half-sent messages cost it).
//   - continuation: one connection upgrades, opens a fragmented text
//     message and then sends empty continuation frames as fast as it can.
//     Shows whether the server bounds fragments (or their rate).
//   - stuck: N connections upgrade to a (room) route and never read; a
//     small ping every ProbeEvery tells when the server dropped each one.
//     Shows whether the server drops slow consumers.
//   - pingflood: one connection upgrades, never reads, and sends pings as
//     fast as it can. Shows whether the server bounds control frames it
//     must answer.
//   - oneip: N upgrades from one local IP, held silently, plus one probe
//     upgrade from ProbeIP while they are held. Shows a per-IP connection
//     limit and that it does not lock out other clients.
//   - joinstorm: N well-behaved clients (github.com/fasthttp/websocket)
//     connect one after the other and read everything. Shows the cost of
//     join broadcasts (presence) as a room fills.
//
// Every network wait is bounded both by the context and by an explicit
// deadline (Config.IOTimeout for single steps, the end of Hold for
// holding), and every attack closes every connection it opened before it
// returns.
package attack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"
)

// Defaults applied by every attack to zero fields of [Config].
const (
	DefaultN          = 1
	DefaultPath       = "/"
	DefaultSize       = 1 << 20
	DefaultEvery      = 3 * time.Second
	DefaultProbeEvery = 100 * time.Millisecond
	DefaultHold       = 10 * time.Second
	DefaultIOTimeout  = 5 * time.Second
	DefaultParallel   = 64
)

// CloseAbnormal is the close code recorded in [Result.CloseCodes] (and
// [Result.CloseCode]) when the server ended the TCP connection without
// sending a close frame first (RFC 6455's 1006).
const CloseAbnormal = 1006

// CloseNoStatus is the close code recorded when the server's close frame
// carried no status code (RFC 6455's 1005).
const CloseNoStatus = 1005

// Config is what every attack takes. Zero fields get the defaults above;
// fields an attack does not use are ignored.
type Config struct {
	// Addr is the server's host:port; it is also sent as the Host header.
	Addr string
	// Path is the request path, query included (default "/"). For
	// joinstorm, "{i}" in it is replaced by the client's index.
	Path string
	// N is the number of connections (default 1). continuation and
	// pingflood always use one.
	N int
	// LocalIP, when set, is the local address every attack connection is
	// dialed from (e.g. "127.0.0.2", so that a test can come from a second
	// loopback address).
	LocalIP string
	// ProbeIP is the local address oneip's probe upgrade is dialed from
	// (e.g. "127.0.0.2"); empty skips the probe.
	ProbeIP string
	// Size is partial's frame size in bytes (default 1 MiB, at least 1).
	Size int
	// Every is slowloris's interval between two bytes (default 3s).
	Every time.Duration
	// Publish, when set, makes stuck also run one well-behaved client of
	// the same Path that sends a Size-byte message every Publish (the
	// room's traffic that stuck clients do not read).
	Publish time.Duration
	// Message is what the publisher sends (default: Size bytes of "m"),
	// for servers that want a particular shape (the chat's JSON).
	Message string
	// ProbeEvery is stuck's interval between two pings (default 100ms):
	// the resolution of its drop times.
	ProbeEvery time.Duration
	// Hold is how long the attack keeps going, counted from its start
	// (default 10s). Connections still open then are counted open.
	Hold time.Duration
	// IOTimeout bounds every single dial, handshake and write (default 5s).
	IOTimeout time.Duration
	// Parallel is how many connections are set up at a time (default 64).
	Parallel int
	// Logf, when set, receives progress lines.
	Logf func(format string, args ...any)
}

// withDefaults checks cfg and fills its zero fields.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Addr == "" {
		return cfg, errors.New("attack: Addr is required")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, fmt.Errorf("attack: Addr %q: %w", cfg.Addr, err)
	}
	if cfg.Path == "" {
		cfg.Path = DefaultPath
	}
	if !strings.HasPrefix(cfg.Path, "/") {
		return cfg, fmt.Errorf("attack: Path %q must start with /", cfg.Path)
	}
	if strings.ContainsAny(cfg.Path, " \r\n") {
		return cfg, fmt.Errorf("attack: Path %q contains a space or a line break", cfg.Path)
	}
	for _, ip := range []struct{ name, v string }{{"LocalIP", cfg.LocalIP}, {"ProbeIP", cfg.ProbeIP}} {
		if ip.v != "" && net.ParseIP(ip.v) == nil {
			return cfg, fmt.Errorf("attack: %s %q is not an IP address", ip.name, ip.v)
		}
	}
	if cfg.N < 0 || cfg.Size < 0 || cfg.Every < 0 || cfg.ProbeEvery < 0 || cfg.Hold < 0 || cfg.IOTimeout < 0 || cfg.Parallel < 0 {
		return cfg, errors.New("attack: negative N, Size, Every, ProbeEvery, Hold, IOTimeout or Parallel")
	}
	if cfg.N == 0 {
		cfg.N = DefaultN
	}
	if cfg.Size == 0 {
		cfg.Size = DefaultSize
	}
	if cfg.Every == 0 {
		cfg.Every = DefaultEvery
	}
	if cfg.ProbeEvery == 0 {
		cfg.ProbeEvery = DefaultProbeEvery
	}
	if cfg.Hold == 0 {
		cfg.Hold = DefaultHold
	}
	if cfg.IOTimeout == 0 {
		cfg.IOTimeout = DefaultIOTimeout
	}
	if cfg.Parallel == 0 {
		cfg.Parallel = DefaultParallel
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	return cfg, nil
}

// Func is the shape of every attack. It returns when Hold has passed,
// when ctx is done (which is not an error: the Result covers the run so
// far), or earlier when the attack is over (the server dropped its only
// connection). The error is non-nil only when the Config is invalid or
// the attack could not start at all (no connection could be made, or a
// single-connection attack's upgrade failed).
type Func func(ctx context.Context, cfg Config) (Result, error)

var attacks = map[string]Func{
	"silent":       Silent,
	"slowloris":    Slowloris,
	"partial":      Partial,
	"continuation": Continuation,
	"stuck":        Stuck,
	"pingflood":    PingFlood,
	"oneip":        OneIP,
	"joinstorm":    JoinStorm,
}

// Names lists the attack names [Run] accepts, sorted; the CLI uses it for
// its -attack flag.
func Names() []string {
	names := make([]string, 0, len(attacks))
	for n := range attacks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Run runs the attack called name (one of [Names]) with cfg. Use it where
// the attack is chosen at run time, as the CLI does.
func Run(ctx context.Context, name string, cfg Config) (Result, error) {
	f, ok := attacks[name]
	if !ok {
		return Result{Attack: name}, fmt.Errorf("attack: unknown attack %q (want one of %s)", name, strings.Join(Names(), ", "))
	}
	return f(ctx, cfg)
}

// Result is what an attack reports. Times named "...Close" are counted
// from the attack's start; fields an attack does not fill stay zero.
type Result struct {
	// Attack is the attack's name.
	Attack string
	// Elapsed is the wall time of the whole run.
	Elapsed time.Duration

	// Attempted counts the connections the attack started to open.
	Attempted int
	// DialFailed counts connections whose TCP dial failed; DialError is
	// the first such error.
	DialFailed int
	DialError  string
	// HandshakeFailed counts connections that dialed but got no HTTP
	// status line back (closed, reset or timed out during the handshake).
	HandshakeFailed int
	// Upgraded counts upgrades answered with 101 Switching Protocols.
	Upgraded int
	// Statuses counts the other HTTP statuses the upgrades got.
	Statuses map[int]int

	// Open counts connections still open (not closed by the server) when
	// the attack stopped.
	Open int
	// Closed counts connections the server closed (or dropped) before the
	// attack stopped.
	Closed int
	// FirstClose, MedianClose and LastClose are when, after the start, the
	// server closed the first, median and last of the Closed connections.
	FirstClose, MedianClose, LastClose time.Duration
	// LongestLife is slowloris's longest lifetime of one connection, from
	// its dial to its close by the server (or to the end, if still open).
	LongestLife time.Duration
	// CloseCodes counts the close codes of the close frames the server
	// sent (CloseNoStatus for an empty one, CloseAbnormal for a close
	// without a close frame).
	CloseCodes map[int]int

	// FramesSent and BytesSent count what continuation and pingflood
	// wrote (continuation's opening text frame included).
	FramesSent int64
	BytesSent  int64
	// CloseCode is the close code of continuation's connection
	// (0 if the server did not close it).
	CloseCode int

	// Probed tells whether oneip ran its probe; ProbeErr is its error
	// ("" when the probe upgrade succeeded).
	Probed   bool
	ProbeErr string

	// BytesReceived is joinstorm's payload bytes received by all clients,
	// FirstClientBytes by client 0; ConnectTime is the time it took to
	// connect them all.
	BytesReceived    int64
	FirstClientBytes int64
	ConnectTime      time.Duration
}

// String is a one-line human summary of r, as the CLI prints it.
func (r Result) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", r.Attack)
	closed := func() {
		fmt.Fprintf(&b, ", %d closed by server", r.Closed)
		if r.Closed > 0 {
			fmt.Fprintf(&b, " (first %s, median %s, last %s)", rd(r.FirstClose), rd(r.MedianClose), rd(r.LastClose))
		}
		fmt.Fprintf(&b, ", %d still open", r.Open)
	}
	upgraded := func() {
		fmt.Fprintf(&b, " %d/%d upgraded", r.Upgraded, r.Attempted)
		if len(r.Statuses) > 0 {
			fmt.Fprintf(&b, ", statuses %s", fmtCounts(r.Statuses))
		}
		if r.HandshakeFailed > 0 {
			fmt.Fprintf(&b, ", %d handshakes failed", r.HandshakeFailed)
		}
	}
	switch r.Attack {
	case "silent":
		fmt.Fprintf(&b, " %d connections", r.Attempted-r.DialFailed)
		closed()
	case "slowloris":
		fmt.Fprintf(&b, " %d connections", r.Attempted-r.DialFailed)
		closed()
		fmt.Fprintf(&b, ", longest lived %s", rd(r.LongestLife))
		if len(r.Statuses) > 0 {
			fmt.Fprintf(&b, ", statuses %s", fmtCounts(r.Statuses))
		}
	case "partial", "stuck", "oneip":
		upgraded()
		closed()
		if len(r.CloseCodes) > 0 {
			fmt.Fprintf(&b, ", close codes %s", fmtCounts(r.CloseCodes))
		}
		if r.Attack == "oneip" {
			switch {
			case !r.Probed:
				b.WriteString(", no probe")
			case r.ProbeErr == "":
				b.WriteString(", probe upgrade ok")
			default:
				fmt.Fprintf(&b, ", probe upgrade FAILED: %s", r.ProbeErr)
			}
		}
	case "continuation", "pingflood":
		fmt.Fprintf(&b, " %d frames (%d bytes) sent", r.FramesSent, r.BytesSent)
		if r.Closed > 0 {
			fmt.Fprintf(&b, ", server closed it after %s", rd(r.FirstClose))
			if r.CloseCode != 0 {
				fmt.Fprintf(&b, " with close code %d", r.CloseCode)
			}
		} else {
			fmt.Fprintf(&b, ", still open after %s", rd(r.Elapsed))
		}
	case "joinstorm":
		fmt.Fprintf(&b, " %d/%d connected in %s", r.Upgraded, r.Attempted, rd(r.ConnectTime))
		if len(r.Statuses) > 0 {
			fmt.Fprintf(&b, ", statuses %s", fmtCounts(r.Statuses))
		}
		if r.HandshakeFailed > 0 {
			fmt.Fprintf(&b, ", %d handshakes failed", r.HandshakeFailed)
		}
		fmt.Fprintf(&b, ", %d bytes received (first client %d)", r.BytesReceived, r.FirstClientBytes)
		closed()
	default:
		fmt.Fprintf(&b, " %d attempted", r.Attempted)
		closed()
	}
	if r.DialFailed > 0 {
		fmt.Fprintf(&b, ", %d dials failed (first: %s)", r.DialFailed, r.DialError)
	}
	fmt.Fprintf(&b, "; ran %s", rd(r.Elapsed))
	return b.String()
}

func rd(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.String()
	}
}

// fmtCounts prints m as {k:v k:v}, keys sorted.
func fmtCounts(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d:%d", k, m[k])
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// tally gathers the outcome of many connections into a Result.
type tally struct {
	mu     sync.Mutex
	start  time.Time
	r      Result
	closes []time.Duration
	logf   func(string, ...any)
}

func newTally(name string, cfg Config) *tally {
	return &tally{start: time.Now(), r: Result{Attack: name}, logf: cfg.Logf}
}

func (t *tally) attempted() {
	t.mu.Lock()
	t.r.Attempted++
	t.mu.Unlock()
}

func (t *tally) dialFailed(err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.r.DialFailed++
	if t.r.DialError == "" {
		t.r.DialError = err.Error()
		t.logf("%s: dial failed: %v", t.r.Attack, err)
	}
}

func (t *tally) handshakeFailed() {
	t.mu.Lock()
	t.r.HandshakeFailed++
	t.mu.Unlock()
}

// status records the HTTP status of an upgrade.
func (t *tally) status(code int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if code == 101 {
		t.r.Upgraded++
		return
	}
	if t.r.Statuses == nil {
		t.r.Statuses = map[int]int{}
	}
	t.r.Statuses[code]++
}

func (t *tally) open() {
	t.mu.Lock()
	t.r.Open++
	t.mu.Unlock()
}

// closed records a server-side close at at; code 0 records no close code.
func (t *tally) closed(at time.Time, code int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.r.Closed++
	d := at.Sub(t.start)
	if len(t.closes) == 0 {
		t.logf("%s: first connection closed by server after %s", t.r.Attack, rd(d))
	}
	t.closes = append(t.closes, d)
	if code != 0 {
		if t.r.CloseCodes == nil {
			t.r.CloseCodes = map[int]int{}
		}
		t.r.CloseCodes[code]++
	}
}

func (t *tally) life(d time.Duration) {
	t.mu.Lock()
	if d > t.r.LongestLife {
		t.r.LongestLife = d
	}
	t.mu.Unlock()
}

// result finishes the Result; call it once every connection is done.
func (t *tally) result() Result {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.r
	r.Elapsed = time.Since(t.start)
	if len(t.closes) > 0 {
		c := append([]time.Duration(nil), t.closes...)
		sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
		r.FirstClose, r.MedianClose, r.LastClose = c[0], c[len(c)/2], c[len(c)-1]
	}
	return r
}

// noneConnected is the error of a multi-connection attack that could not
// open a single TCP connection.
func (t *tally) noneConnected() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.r.Attempted > 0 && t.r.DialFailed == t.r.Attempted {
		return fmt.Errorf("attack: %s: no connection could be made to the server: %s", t.r.Attack, t.r.DialError)
	}
	return nil
}

// fanOut runs fn(i) for i in [0, n) in goroutines, with at most par of
// them setting up at a time: fn calls ready once its connection is set up
// (or failed) to let the next one start. It stops starting new ones when
// ctx is done. established is closed once every started fn called ready
// (or returned); wait waits for every fn to return.
func fanOut(ctx context.Context, n, par int, fn func(i int, ready func())) (established <-chan struct{}, wait func()) {
	sem := make(chan struct{}, par)
	est := make(chan struct{})
	var all, setup sync.WaitGroup
	all.Add(1)
	go func() {
		defer all.Done()
	loop:
		for i := 0; i < n; i++ {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				break loop
			}
			all.Add(1)
			setup.Add(1)
			go func(i int) {
				defer all.Done()
				var once sync.Once
				ready := func() { once.Do(func() { <-sem; setup.Done() }) }
				defer ready()
				fn(i, ready)
			}(i)
		}
		setup.Wait()
		close(est)
	}()
	return est, all.Wait
}
