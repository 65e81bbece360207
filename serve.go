package fiberws

import (
	"context"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/tcp"
)

// serve runs one upgraded connection on the goroutine fasthttp hijacked it
// on. That goroutine reads and, as long as handlers are quick, also runs
// them, in arrival order: one goroutine per connection, no hand-off per
// message. A handler that runs past inlineBudget makes the budget timer
// start a second goroutine that takes over reading (answering pings,
// noticing the client leave, queueing messages, bounded by
// Config.QueueSize); this goroutine then finishes the handler and runs
// handlers from the queue, as a worker. Once the worker has caught up, the
// reader hands reading back with the next message and ends: every
// connection returns to one goroutine, so a GC pause or a preemption does
// not leave it on the slower, two-goroutine path for good. Send-only routes
// stay in the two-goroutine form. serve returns when the connection is
// fully wound down: socket closed, handler returned, cleanups run,
// observers told.
func (mr *mountedRoute) serve(ws *websocket.Conn, req *requestData) {
	ctx, cancel := sessionContext(req)
	s := mr.newSession(ws, req, ctx, cancel)
	// Bound before open tracks it: Server.Session hands the connection out
	// from then on, and ConnOf reads its handler.
	s.handler = mr.route.bind(s)
	route := mr.route
	connectRun := route.onConnect
	if len(mr.opens) > 0 {
		s.handler = &opening{s: s, opens: mr.opens, next: s.handler, connect: route.onConnect || route.mode == ModeSendOnly}
		connectRun = true
	}
	mr.open(s)
	if route.mode == ModeSendOnly {
		// Nothing is queued (incoming data is discarded), so no inbox.
		s.runner.Store(runHandOff)
		s.workerDone = make(chan struct{})
		go s.runSendOnly()
		s.read()
		s.finish()
		return
	}
	// If the on-connect trigger is slow, reading moves on without us and
	// we start as the worker.
	reading := !connectRun || s.state.Load() != stateOpen || s.runInline(hooks.Message{Connect: true})
	for {
		if reading && s.read() {
			break
		}
		if !s.work() {
			break
		}
		reading = true // handed back
	}
	s.finish()
}

// sessionContext is a connection's context: the upgrade request's values
// (tracing, request IDs), without its cancellation (fasthttp is done with
// the request, not the connection), cancelled when the connection closes.
func sessionContext(req *requestData) (context.Context, context.CancelFunc) {
	return context.WithCancel(context.WithoutCancel(req.userCtx))
}

// newSession is the Session of a connection just upgraded.
func (mr *mountedRoute) newSession(ws *websocket.Conn, req *requestData, ctx context.Context, cancel context.CancelFunc) *Session {
	s := &Session{
		id:       sessionIDs.Add(1),
		route:    mr,
		req:      req,
		ws:       ws,
		tcp:      tcp.Underlying(ws.NetConn()),
		ctx:      ctx,
		cancel:   cancel,
		cleanups: []func(){},
		// inbox and readerDone are made on hand-off, workerDone for a
		// send-only worker: an idle connection needs none of them.
	}
	if mr.route.contrib != nil {
		// Its handler reads: the library enforces the read limit (1009,
		// without a reason), on the bytes on the wire (Contrib routes do
		// not negotiate compression).
		s.contrib = true
		ws.SetReadLimit(mr.readLimit)
	}
	// Otherwise readMessage does, with a reason; the library's limit is
	// only the backstop.
	if mr.route.contrib == nil {
		ws.SetReadLimit(backstopLimit(mr.readLimit))
	}
	tcp.BindUnacked(s.tcp, mr.srv.cfg.WriteTimeout)
	return s
}

// open counts and tracks a new connection, closing it at once when the
// route or the Server is full or shutting down, and sets up its limits,
// control frames and keep-alive.
func (mr *mountedRoute) open(s *Session) {
	admitted := mr.enter(s.req.ip)
	if !mr.srv.track(s) {
		_ = s.closeWith(CloseGoingAway, "server shutting down", hooks.ByShutdown, nil)
	}
	if !admitted {
		_ = s.closeWith(CloseTryAgainLater, ReasonTooManyConnections, hooks.ByServer, nil)
	}
	for _, ro := range mr.live {
		ro.Opened()
	}
	s.setupLimits()
	s.setupControlHandlers()
	if mr.keepalive != nil {
		s.lastPing.Store(time.Now().UnixNano())
		mr.keepalive.Add((*pinged)(s))
	}
}
