package fiberws

import (
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/msgbuf"
	"github.com/fiberws/fiberws/internal/rlimit"
	"github.com/gofiber/fiber/v2"
	"github.com/klauspost/compress/flate"
	"golang.org/x/time/rate"
)

// Limits, all with defaults in ConfigDefault and per-route overrides:
//
//   - message size: Config.ReadLimit / WithReadLimit, over it -> close 1009
//     (also after permessage-deflate decompression);
//   - open connections: Config.MaxConnections (whole Server) and
//     WithMaxConnections (one route), over it -> HTTP 503 before the upgrade
//     (1013 right after it for handshakes that raced past the check); per
//     client address: Config.MaxConnectionsPerIP and
//     WithMaxConnectionsPerIP, over it -> HTTP 429;
//   - messages per second per connection: Config.MessageRate /
//     WithMessageRate, over it -> close 1008 "rate limit exceeded";
//   - idle time: Config.IdleTimeout / WithIdleTimeout, nothing read for that
//     long -> close 1001 "idle timeout";
//   - handshake and write timeouts: Config.HandshakeTimeout and
//     Config.WriteTimeout.
//
// SECURITY.md lists every default and why it was chosen.

// ReasonRateLimited, ReasonIdleTimeout, ReasonTooManyConnections,
// ReasonMessageTooBig and ReasonSlowConsumer are the close reasons fiberws sends when a limit is
// hit, for clients and tests that want to tell them apart.
const (
	ReasonRateLimited        = "rate limit exceeded"
	ReasonIdleTimeout        = "idle timeout"
	ReasonTooManyConnections = "too many connections"
	ReasonMessageTooBig      = "message too big"
	ReasonSlowConsumer       = "slow consumer"
)

// routeLimits holds a route's overrides of the Config limits; the zero
// value inherits everything.
type routeLimits struct {
	maxConns int
	perIP    int
	rate     rate.Limit
	burst    int
	rateSet  bool
	idle     time.Duration
	idleSet  bool

	msgTimeout    time.Duration
	msgTimeoutSet bool
}

// WithMaxConnections caps the open connections of this route at n; more
// upgrade requests get HTTP 503 Service Unavailable (with Retry-After)
// before the upgrade (or 1013 right after it, when a burst of handshakes
// raced past the check). It applies on top of Config.MaxConnections, which caps
// the whole Server. Use it to keep one expensive route from starving the
// others. n <= 0 means no route-level cap.
func WithMaxConnections(n int) Option {
	return func(r *Route) { r.limits.maxConns = n }
}

// WithMaxConnectionsPerIP caps the open connections of this route from one
// client address (Fiber's c.IP(), so behind a proxy set Fiber's
// ProxyHeader) at n; more upgrade requests from that address get HTTP 429
// Too Many Requests (with Retry-After) before the upgrade. It applies on
// top of Config.MaxConnectionsPerIP. n <= 0 means no route-level cap.
func WithMaxConnectionsPerIP(n int) Option {
	return func(r *Route) { r.limits.perIP = n }
}

// WithMessageRate overrides Config.MessageRate and Config.MessageBurst for
// this route: each connection may send limit messages per second on
// average, and burst at once; the message over it closes the connection
// with 1008 "rate limit exceeded". Data messages and pings count. A limit
// <= 0 or rate.Inf turns rate limiting off for the route.
//
//	fiberws.WebSocket("/chat", h, fiberws.WithMessageRate(20, 40))
func WithMessageRate(limit rate.Limit, burst int) Option {
	return func(r *Route) { r.limits.rate, r.limits.burst, r.limits.rateSet = limit, burst, true }
}

// WithIdleTimeout overrides Config.IdleTimeout for this route: a connection
// on which nothing (no message, no ping or pong) arrives for d is closed
// with 1001 "idle timeout". d <= 0 turns the idle timeout off for the route.
// The deadline is re-armed before each frame header and by each ping and
// pong, so a message body must also arrive within d of its start: a client
// trickling a large message slower than that is closed too.
func WithIdleTimeout(d time.Duration) Option {
	return func(r *Route) { r.limits.idle, r.limits.idleSet = d, true }
}

// WithMessageTimeout overrides Config.MessageTimeout for this route: a
// message must arrive within d of its first frame, or the connection is
// closed with 1008 "message timeout". Raise it for routes that take large
// messages from slow links. d <= 0 turns it off for the route.
func WithMessageTimeout(d time.Duration) Option {
	return func(r *Route) { r.limits.msgTimeout, r.limits.msgTimeoutSet = d, true }
}

// MaxConnections is the route's own cap on open connections (0: none).
func (r Route) MaxConnections() int { return max(r.limits.maxConns, 0) }

// MaxConnectionsPerIP is the route's own cap on open connections from one
// client address (0: none).
func (r Route) MaxConnectionsPerIP() int { return max(r.limits.perIP, 0) }

// mountedLimits are a mounted route's limits, resolved from the Config and
// the route's options, with the route's live connection count.
type mountedLimits struct {
	maxConns int // route cap, 0: none
	perIP    *ipCounts
	rate     rate.Limit
	burst    int
	idle     time.Duration
	active   atomic.Int64
}

// ipCounts counts open connections per client address against a cap.
type ipCounts struct {
	limit int
	mu    sync.Mutex
	n     map[string]int
}

// newIPCounts returns the counts for a cap, or nil for no cap.
func newIPCounts(limit int) *ipCounts {
	if limit <= 0 {
		return nil
	}
	return &ipCounts{limit: limit, n: map[string]int{}}
}

func (c *ipCounts) full(ip string) bool {
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[ip] >= c.limit
}

// add counts one more connection from ip and reports whether it is within
// the cap.
func (c *ipCounts) add(ip string) bool {
	if c == nil {
		return true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[ip]++
	return c.n[ip] <= c.limit
}

func (c *ipCounts) remove(ip string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n[ip]--; c.n[ip] <= 0 {
		delete(c.n, ip)
	}
}

func resolveLimits(cfg Config, r Route) *mountedLimits {
	l := &mountedLimits{maxConns: max(r.limits.maxConns, 0), perIP: newIPCounts(r.limits.perIP), rate: cfg.MessageRate, burst: cfg.MessageBurst, idle: cfg.IdleTimeout}
	if r.limits.rateSet {
		l.rate, l.burst = r.limits.rate, r.limits.burst
	}
	if r.limits.idleSet {
		l.idle = r.limits.idle
	}
	if l.rate <= 0 || l.rate == rate.Inf {
		l.rate = 0
	} else if l.burst <= 0 {
		l.burst = max(1, int(l.rate))
	}
	l.idle = max(l.idle, 0)
	return l
}

// admit runs before the upgrade: over the Server's or the route's cap the
// request gets 503, over a per-address cap 429, and is never upgraded.
// Concurrent handshakes can all pass it; enter catches the few that
// overshoot.
func (mr *mountedRoute) admit(c *fiber.Ctx) error {
	full := func(n int64, limit int) bool { return limit > 0 && n >= int64(limit) }
	if full(mr.limits.active.Load(), mr.limits.maxConns) || full(mr.srv.counted.Load(), mr.srv.cfg.MaxConnections) {
		c.Set(fiber.HeaderRetryAfter, "1")
		return fiber.ErrServiceUnavailable
	}
	if mr.srv.perIP != nil || mr.limits.perIP != nil {
		if ip := c.IP(); mr.srv.perIP.full(ip) || mr.limits.perIP.full(ip) {
			c.Set(fiber.HeaderRetryAfter, "1")
			return fiber.ErrTooManyRequests
		}
	}
	return nil
}

// enter counts an upgraded connection from ip against the caps and reports
// whether it is within them. Counting is in arrival order, so of a burst
// that raced past admit the first ones stay and the rest are closed with
// 1013 "too many connections" right after the upgrade. Every enter is
// matched by a leave, when the connection has finished.
func (mr *mountedRoute) enter(ip string) bool {
	within := func(n int64, limit int) bool { return limit <= 0 || n <= int64(limit) }
	app := mr.srv.counted.Add(1)
	route := mr.limits.active.Add(1)
	srvIP := mr.srv.perIP.add(ip)
	routeIP := mr.limits.perIP.add(ip)
	return within(app, mr.srv.cfg.MaxConnections) && within(route, mr.limits.maxConns) && srvIP && routeIP
}

func (mr *mountedRoute) leave(ip string) {
	mr.limits.active.Add(-1)
	mr.srv.counted.Add(-1)
	mr.srv.perIP.remove(ip)
	mr.limits.perIP.remove(ip)
}

// connLimits is the per-connection state of the limits.
type connLimits struct {
	limiter *rate.Limiter
	idle    time.Duration
	// read is the LimitedReader reused for every message when
	// permessage-deflate is on, to bound the decompressed size.
	read io.LimitedReader
}

// setupLimits prepares a new connection's limits: the rate limiter, and the
// idle deadline, re-armed by every frame read (data, ping or pong: see
// setupControlHandlers).
func (s *Session) setupLimits() {
	l := s.route.limits
	if l.rate > 0 {
		s.lim.limiter = rate.NewLimiter(l.rate, l.burst)
	}
	s.lim.idle = l.idle
	s.armIdle()
}

// armIdle pushes the read deadline IdleTimeout into the future. It runs on
// the reader goroutine only. Once the connection is closing, the shorter
// CloseTimeout deadline that closeWith set must win, so it is restored.
func (s *Session) armIdle() {
	if s.lim.idle <= 0 || s.state.Load() != stateOpen {
		return
	}
	_ = s.ws.SetReadDeadline(time.Now().Add(s.lim.idle))
	if s.state.Load() != stateOpen {
		_ = s.ws.SetReadDeadline(time.Now().Add(s.route.srv.cfg.CloseTimeout))
	}
}

// allowMessage takes one token for an incoming message; without one the
// connection is closed with 1008 and false returned.
func (s *Session) allowMessage() bool {
	if s.lim.limiter == nil || s.lim.limiter.Allow() {
		return true
	}
	_ = s.closeWith(ClosePolicyViolation, ReasonRateLimited, hooks.ByServer, nil)
	return false
}

// idleExpired handles a read timeout: while the connection is open it can
// only be the idle timeout, so the client gets 1001 "idle timeout". It
// reports whether it did so.
func (s *Session) idleExpired() bool {
	if s.lim.idle <= 0 || s.state.Load() != stateOpen {
		return false
	}
	return s.closeWith(CloseGoingAway, ReasonIdleTimeout, hooks.ByTimeout, nil) == nil
}

var errMessageTooBig = msgbuf.ErrTooBig

// backstopLimit is the library's read limit on a typed route, above the
// route's own: readMessage closes a message over the read limit with 1009
// "message too big" and the close handshake discards the rest of it; the
// library stops a message that goes on past twice the limit at once (its
// 1009 has no reason, and TCP is dropped), so that a client cannot keep
// the server reading an endless message after the close.
func backstopLimit(readLimit int64) int64 { return 2*readLimit + 64<<10 }

// readMessage reads one message into buf, bounded by the route's read
// limit here rather than by the library: the library's 1009 carries no
// reason, and it counts the bytes on the wire, where a permessage-deflate
// frame can inflate to far more. Growing the buffer takes from the
// partial-message budget (partial.go).
func (s *Session) readMessage(buf *msgbuf.Buf, r io.Reader) error {
	s.lim.read = io.LimitedReader{R: r, N: s.route.readLimit + 1}
	err := buf.Read(&s.lim.read, s.route.readLimit, s.growMessage)
	s.lim.read.R = nil
	return err
}

// rejectMessage closes the connection for a message over the read limit
// (1009 "message too big"), one the partial-message budget cannot hold
// (1013), or one whose compressed data is corrupt (1007; the library would
// just drop TCP). It reports whether err was one of those; the reader then
// goes on reading until the peer answers the close.
func (s *Session) rejectMessage(err error) bool {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, errPartialBudget):
		_ = s.closeWith(CloseTryAgainLater, ReasonServerBusy, hooks.ByServer, err)
	case errors.Is(err, errMessageTooBig):
		// The reader then discards the rest of the message until the
		// client's answer, bounded by the library's backstop (newSession).
		_ = s.closeWith(CloseMessageTooBig, ReasonMessageTooBig, hooks.ByServer, nil)
	case s.route.upgrader.EnableCompression && errors.As(err, &corrupt):
		_ = s.closeWith(CloseInvalidPayload, "invalid compressed data", hooks.ByServer, err)
	default:
		return false
	}
	return true
}

// fileLimitReserve is what a process needs beyond its connections: its
// listener, log files, the runtime's own descriptors.
const fileLimitReserve = 64

// checkFileLimit warns, once per Server, when the connections it may hold
// (MaxConnections) plus those Fiber may serve before their upgrade
// (concurrency, fiber.Config.Concurrency) exceed the process's open-files
// limit: a flood of connections could then take every descriptor, and
// fasthttp stops accepting on the first EMFILE (package listener helps).
func (srv *Server) checkFileLimit(concurrency int) {
	limit, ok := rlimit.OpenFiles()
	if !ok || !srv.fileLimitChecked.CompareAndSwap(false, true) {
		return
	}
	if concurrency <= 0 {
		concurrency = fiber.DefaultConcurrency
	}
	conns := srv.cfg.MaxConnections
	if conns < 0 || uint64(conns+concurrency+fileLimitReserve) > limit {
		srv.logger().Warn("fiberws: MaxConnections plus Fiber's Concurrency exceed the open-files limit: a connection flood can take every file descriptor; lower them, or raise the limit (see SECURITY.md)",
			slog.Int("max_connections", conns), slog.Int("fiber_concurrency", concurrency), slog.Uint64("open_files_limit", limit))
	}
}
