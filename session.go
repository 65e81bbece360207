package fiberws

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
)

// Session is one live WebSocket connection, minus sending: the upgrade
// request's data, the connection's context, Close and Cleanup. Receive-only
// handlers get a *Session; the others get a *Conn[T], which embeds one and
// adds a typed Send.
//
// All methods are safe for concurrent use and keep working (reading the
// request data, returning ErrClosed from Close) after the connection ended.
type Session struct {
	id    uint64
	route *mountedRoute
	req   *requestData
	ws    *websocket.Conn
	tcp   net.Conn // the socket under ws (tcp.Underlying)
	// contrib marks a Contrib route's connection: its handler writes the
	// socket itself, so fiberws writes no data frames on it.
	contrib bool
	// events and asks are an event route's dispatcher and waiting Asks
	// (events.go, ask.go); nil on other routes.
	events *eventHandler
	asks   *askTable
	ctx    context.Context
	cancel context.CancelFunc

	// writeMu serializes every write fiberws makes (replies, Send, pings,
	// close frames); released (under writeMu) bars them once the reader
	// has let go of the socket.
	writeMu  sync.Mutex
	released bool
	// writeDeadline is the write deadline last set (armWriteDeadline),
	// guarded by writeMu.
	writeDeadline time.Time
	state         atomic.Int32

	closeMu     sync.Mutex
	closeCode   int
	closeReason string
	closedBy    hooks.ClosedBy
	closeErr    error

	cleanupMu sync.Mutex
	cleanups  []func()

	inbox      chan inbound
	readerDone chan struct{}
	// queuedBytes and queued are the payload and the messages held by the
	// queue and the handler working from it (Config.QueueBytes; none: the
	// worker is idle); dequeued wakes a reader waiting for room.
	queuedBytes atomic.Int64
	queued      atomic.Int64
	dequeued    chan struct{}
	workerDone  chan struct{}

	// The message runner (handoff.go): the route's handler bound to this
	// connection, the message being handled (reused, never shared: one
	// handler runs at a time), whether handlers run inline on the reader,
	// and the inline budget: its timer, whether it runs, the number of the
	// latest message run inline and of the one the timer was armed for,
	// whether the handler it handed off is still running, whether reading
	// handed back waits for the worker to take it up.
	handler       messageHandler
	msg           hooks.Message
	runner        atomic.Int32
	budget        *time.Timer
	budgetArmed   atomic.Bool
	inlineSeq     atomic.Uint64
	budgetSeq     atomic.Uint64
	slowInline    atomic.Bool
	resumePending atomic.Bool

	msgsIn, msgsOut, bytesIn, bytesOut atomic.Int64

	lim connLimits // rate limiter, idle timeout (limits.go)

	// keep-alive bookkeeping, read by the route's ping scheduler:
	// lastPing is when the last ping went out, unanswered when the oldest
	// ping still waiting for a pong did (0: none waiting), both UnixNano.
	lastPing, unanswered atomic.Int64
	// msgSince is the coarse time (Server.clock) the message being read
	// began, 0 between messages; partialHeld is whether it took from the
	// partial-message budget (partial.go). Both are the reader's.
	msgSince    atomic.Int64
	partialHeld bool

	// pausedSince is when the reader started waiting for room in the
	// receive queue (UnixNano, 0: reading), so the pong timeout stands
	// still while our own back-pressure keeps pongs unread.
	pausedSince atomic.Int64
}

const (
	stateOpen int32 = iota
	stateClosing
)

var sessionIDs atomic.Uint64

// ID is unique among the connections of this process.
func (s *Session) ID() uint64 { return s.id }

// Route is the route pattern the connection matched, e.g. "/chat/:room".
func (s *Session) Route() string { return s.req.pattern }

// Path is the path of the upgrade request, e.g. "/chat/general".
func (s *Session) Path() string { return s.req.path }

// Context is cancelled as soon as the connection starts closing (either
// side), so handlers and the goroutines they start can stop their work.
func (s *Session) Context() context.Context { return s.ctx }

// Params returns a route parameter of the upgrade request, or defaultValue
// (or "") when there is none.
func (s *Session) Params(key string, defaultValue ...string) string {
	for i := 0; i+1 < len(s.req.params); i += 2 {
		if s.req.params[i] == key {
			return s.req.params[i+1]
		}
	}
	return first(defaultValue)
}

// Query returns a query parameter of the upgrade request, or defaultValue.
func (s *Session) Query(key string, defaultValue ...string) string {
	if v, ok := s.req.queryValues()[key]; ok && len(v) > 0 {
		return v[0]
	}
	return first(defaultValue)
}

// Header returns a header of the upgrade request (case-insensitive), or
// defaultValue.
func (s *Session) Header(key string, defaultValue ...string) string {
	for i := 0; i+1 < len(s.req.headers); i += 2 {
		if strings.EqualFold(s.req.headers[i], key) {
			return s.req.headers[i+1]
		}
	}
	return first(defaultValue)
}

// Cookie returns a cookie of the upgrade request, or defaultValue.
func (s *Session) Cookie(key string, defaultValue ...string) string {
	if v, ok := s.req.cookies[key]; ok {
		return v
	}
	return first(defaultValue)
}

// Locals reads and writes the connection's own data, as c.Locals does for
// a request: Locals(key) returns the value of key, Locals(key, value) sets
// it and returns it. It starts with everything the middleware stored on
// the upgrade request (c.Locals, any key), and is the place for
// per-connection state (a user, a counter…) instead of a map beside the
// library. Safe for concurrent use.
func (s *Session) Locals(key any, value ...any) any {
	s.req.localsMu.Lock()
	defer s.req.localsMu.Unlock()
	if len(value) == 0 {
		return s.req.locals[key]
	}
	if s.req.locals == nil {
		s.req.locals = map[any]any{}
	}
	s.req.locals[key] = value[0]
	return value[0]
}

// IP is the client's address as Fiber reports it (c.IP()).
func (s *Session) IP() string { return s.req.ip }

// Close starts the close handshake with code and reason, from the handler
// or any goroutine: it sends the close frame, cancels the context and
// returns; the peer then has Config.CloseTimeout to answer before TCP is
// dropped, after which the cleanups run. It is revali's CloseWebSocket.
//
// code must satisfy ValidCloseCode, or Close returns ErrInvalidCloseCode and
// changes nothing. reason is cut to MaxCloseReason bytes at a UTF-8
// boundary. The first close wins: later calls return ErrClosed.
func (s *Session) Close(code int, reason string) error {
	return s.closeWith(code, reason, hooks.ByServer, nil)
}

// Cleanup registers f to run once after the connection is closed: after the
// socket is gone and the handler has returned, before observers get the
// summary. Cleanups run last registered first; a panicking one is logged
// and the rest still run. Registering once the cleanups have already run
// (from a goroutine that outlived the connection) runs f at once. It is
// revali's CleanUp.
func (s *Session) Cleanup(f func()) {
	if f == nil {
		return
	}
	s.cleanupMu.Lock()
	if s.cleanups != nil {
		s.cleanups = append(s.cleanups, f)
		s.cleanupMu.Unlock()
		return
	}
	s.cleanupMu.Unlock()
	// The cleanups already ran (the list is set to nil then).
	s.runCleanup(f)
}

// Fail hands err to the connection's catchers, as if the handler had
// returned it: they close the connection or reply, and without a catcher
// for it the default applies (a *CloseError closes with its code, a
// *DecodeError with 1007, anything else with 1011 "internal error"). Use it
// from goroutines other than the handler (a sender, a fan-out), which
// have no handler to return an error to. The catchers run on the calling
// goroutine. Once the connection is closing, Fail only logs err (at debug
// level). A nil err or ErrClosed does nothing.
func (s *Session) Fail(err error) {
	if err != nil {
		s.fail(err)
	}
}

// Raw runs f with the raw connection under this connection's write lock:
// the escape hatch for what fiberws does not wrap, such as a write with
// compression turned off for one already-compressed message
// (EnableWriteCompression), a WritePreparedMessage of a message prepared
// elsewhere, or NextWriter to stream a large message without holding it in
// memory. No other write of fiberws (replies, Send, pings, close frames)
// runs meanwhile, so frames never interleave; the write deadline is set
// to WriteTimeout from now before f runs. f must not read from the
// connection (fiberws's reader owns reading), nor close it (use Close);
// keep it short, since every other write waits. Raw returns f's error,
// or ErrClosed without calling f once the connection is closing. On a
// Contrib route the handler owns the connection: Raw refuses it.
func (s *Session) Raw(f func(*websocket.Conn) error) error {
	if s.contrib {
		return errContribWrites
	}
	if _, ok := s.lockSocket(); !ok {
		return ErrClosed
	}
	defer s.writeMu.Unlock()
	if s.state.Load() != stateOpen {
		return ErrClosed
	}
	s.writeDeadline = time.Now().Add(s.route.srv.cfg.WriteTimeout)
	_ = s.ws.SetWriteDeadline(s.writeDeadline)
	err := f(s.ws)
	// f may have moved the deadline: the next write sets its own.
	s.writeDeadline = time.Time{}
	return err
}

// Subprotocol is the subprotocol negotiated in the upgrade (one of
// Config.Subprotocols or the route's WithSubprotocols), or "" if none.
func (s *Session) Subprotocol() string { return s.ws.Subprotocol() }

// errSlowConsumer is the cause recorded when a connection is closed for
// not keeping up with what is sent to it.
var errSlowConsumer = errors.New("fiberws: slow consumer")

// CloseSlowConsumer closes the connection with 1008 "slow consumer": the
// code fiberws uses for a client that does not read fast enough for its
// fan-out (its outgoing queue holds too much). The hub calls it; so can
// your own fan-out. When a write is in progress, the client is not taking
// it: a close frame would only queue behind it, so TCP is dropped at once
// (observers still see 1008 "slow consumer"). Otherwise it closes as Close
// does.
func (s *Session) CloseSlowConsumer() error {
	if !s.writeMu.TryLock() {
		if !s.markClosing(ClosePolicyViolation, ReasonSlowConsumer, hooks.ByServer, errSlowConsumer) {
			return ErrClosed
		}
		s.dropTCP()
		return nil
	}
	s.writeMu.Unlock()
	return s.closeWith(ClosePolicyViolation, ReasonSlowConsumer, hooks.ByServer, errSlowConsumer)
}

// Closed reports whether the connection is closing or closed.
func (s *Session) Closed() bool { return s.state.Load() != stateOpen }

// WriteTimeout is the bound on each write of this connection.
func (s *Session) WriteTimeout() time.Duration { return s.route.srv.cfg.WriteTimeout }
