package fiberws

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
)

// inbound is a received message waiting for the handler; buf returns to
// the pool once the handler is done with it. resume marks the message a
// reader hands back with reading itself (see read).
type inbound struct {
	mt     hooks.MessageType
	buf    *msgBuf
	resume bool
}

// inlineBudget is how long a handler may run on the reader goroutine before
// reading moves to a goroutine of its own (see serve): a handler is handed
// off after one to two budgets.
const inlineBudget = time.Millisecond

// Runner states of a connection (Session.runner).
const (
	runIdle        int32 = iota // the reader is reading; handlers run inline
	runBusy                     // the reader is running a handler inline
	runSwitching                // the budget timer is setting up the hand-off
	runHandOff                  // reading runs on its own goroutine; handlers run from the queue
	runHandingBack              // a reader is handing reading back (handBack)
	runBack                     // reading was handed back: the worker takes it up after the queue
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
		tcp:      socketOf(ws),
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
	bindUnacked(s.tcp, mr.srv.cfg.WriteTimeout)
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
		mr.keepalive.add(s)
	}
}

// read is the reader loop. Control frames (ping, pong, close) are handled
// inside NextReader. Data frames are handled inline (runInline) or, once
// reading has been handed off, queued for the worker; when the queue is
// full, reading pauses: back-pressure instead of memory growth. A handed-off
// reader that finds the worker idle gives it the message with reading and
// returns.
//
// It reports false when it stopped because reading changed goroutines (to a
// new reader while this one ran a handler inline: the caller becomes the
// worker; or back to the worker), and true when reading is over: the socket
// failed or the close handshake completed. The goroutine that ends reading
// releases the socket and closes readerDone.
func (s *Session) read() bool {
	sendOnly := s.route.route.mode == ModeSendOnly
	for {
		s.armIdle()
		mt, r, err := s.ws.NextReader()
		if err != nil {
			s.readFailed(err)
			s.stopReading()
			return true
		}
		s.msgSince.Store(s.route.srv.clock.Load())
		buf := getMsgBuf()
		err = s.readMessage(buf, r)
		s.messageDone()
		if err != nil {
			putMsgBuf(buf)
			if s.rejectMessage(err) {
				continue
			}
			s.readFailed(err)
			s.stopReading()
			return true
		}
		if !s.allowMessage() {
			putMsgBuf(buf)
			continue
		}
		if sendOnly || s.state.Load() != stateOpen {
			putMsgBuf(buf)
			continue
		}
		if hooks.MessageType(mt) == hooks.Text && !utf8.Valid(buf.b) {
			putMsgBuf(buf)
			_ = s.closeWith(CloseInvalidPayload, "invalid UTF-8", hooks.ByServer, nil)
			continue
		}
		s.msgsIn.Add(1)
		s.bytesIn.Add(int64(len(buf.b)))
		for _, ro := range s.route.live {
			ro.Received(len(buf.b))
		}
		if s.asks != nil && s.asks.take(buf.b) {
			// An answer to an Ask: matched here, not queued behind the
			// handler that may be waiting for it.
			putMsgBuf(buf)
			continue
		}
		if s.runner.Load() != runHandOff {
			handedOff := !s.runInline(hooks.Message{Type: hooks.MessageType(mt), Data: buf.b})
			putMsgBuf(buf)
			if handedOff {
				return false
			}
			continue
		}
		if s.queued.Load() <= 1 && !s.slowInline.Load() && !s.resumePending.Load() {
			s.handBack(inbound{mt: hooks.MessageType(mt), buf: buf, resume: true})
			return false
		}
		if !s.enqueue(inbound{mt: hooks.MessageType(mt), buf: buf}) {
			putMsgBuf(buf)
		}
	}
}

// enqueue hands a message to the worker, waiting while the queue is full
// (Config.QueueSize messages, or Config.QueueBytes bytes: a message always
// fits an empty queue): reading pauses and TCP pushes back on the client.
// It reports false when the connection closed first. While it waits, the
// pong timeout stands still (pauseReading): the client's pongs are behind
// the messages we have not read yet.
func (s *Session) enqueue(in inbound) bool {
	n := int64(len(in.buf.b))
	if s.hasQueueRoom(n) {
		select {
		case s.inbox <- in:
			s.queuedBytes.Add(n)
			s.queued.Add(1)
			return true
		default:
		}
	}
	s.pauseReading()
	defer s.resumeReading()
	if !s.waitQueueRoom(n) {
		return false
	}
	s.queuedBytes.Add(n)
	s.queued.Add(1)
	select {
	case s.inbox <- in:
		return true
	case <-s.ctx.Done():
		s.queuedBytes.Add(-n)
		s.queued.Add(-1)
		return false
	}
}

func (s *Session) hasQueueRoom(n int64) bool {
	q := s.queuedBytes.Load()
	return q == 0 || q+n <= s.route.srv.cfg.QueueBytes
}

// waitQueueRoom holds the reader until n more bytes fit Config.QueueBytes
// or the connection closes (false).
func (s *Session) waitQueueRoom(n int64) bool {
	for !s.hasQueueRoom(n) {
		select {
		case <-s.dequeued:
		case <-s.ctx.Done():
			return false
		}
	}
	return true
}

// runInline runs one message on the reader goroutine under the inline
// budget: if the handler is still running after one to two budgets, the
// budget timer hands reading to a new goroutine (handOff). It reports false
// when that happened; the caller must then stop reading and become the
// worker.
func (s *Session) runInline(m hooks.Message) bool {
	// The sequence number first: checkBudget, seeing the runner busy,
	// must see this message's number.
	s.inlineSeq.Add(1)
	s.runner.Store(runBusy)
	return s.runBudgeted(m)
}

// runBudgeted is runInline once the runner is busy.
func (s *Session) runBudgeted(m hooks.Message) bool {
	if !s.budgetArmed.Load() {
		s.armBudget()
	}
	if s.state.Load() == stateOpen {
		s.msg = m
		s.process(s.handler, &s.msg)
		s.msg = hooks.Message{}
	}
	if s.runner.CompareAndSwap(runBusy, runIdle) {
		return true
	}
	// The timer is handing off; wait until the inbox it makes is there.
	for s.runner.Load() != runHandOff {
		runtime.Gosched()
	}
	s.slowInline.Store(false)
	s.queued.Add(-1) // this handler, counted by handOff, is done
	return false
}

// armBudget starts the budget timer for the message running now, unless it
// is already running. The timer is not stopped after each message: it
// fires once per budget while messages keep coming and lapses when the
// reader is idle, so quick handlers cost an atomic load, not a timer reset.
func (s *Session) armBudget() {
	if !s.budgetArmed.CompareAndSwap(false, true) {
		return
	}
	s.budgetSeq.Store(s.inlineSeq.Load())
	if s.budget == nil {
		// Made idle and armed below: the timer must not fire before the
		// field it re-arms through is set.
		s.budget = time.AfterFunc(time.Hour, s.checkBudget)
	}
	s.budget.Reset(inlineBudget)
}

// checkBudget runs on the budget timer. If nobody has read since the timer
// was armed (the same message runs inline, or the worker has still not
// taken reading back), reading is handed off; if another message runs, the
// timer re-arms for it; if the reader is idle, the timer lapses.
func (s *Session) checkBudget() {
	if r := s.runner.Load(); r == runBusy || r == runBack {
		seq := s.inlineSeq.Load()
		if seq == s.budgetSeq.Load() && s.handOff(r) {
			s.budgetArmed.Store(false)
			return
		}
		s.budgetSeq.Store(seq)
		s.budget.Reset(inlineBudget)
		return
	}
	s.budgetArmed.Store(false)
	// A message may have started as the timer stood down, having seen it
	// still armed.
	if r := s.runner.Load(); r == runBusy || r == runBack {
		s.armBudget()
	}
}

// handOff moves reading to a goroutine of its own while nobody reads: a
// handler runs inline past its budget (from runBusy), or the worker has not
// yet taken back the reading handed to it (from runBack). It reports false
// when the runner moved on first. The queue it makes is kept for later
// hand-offs.
func (s *Session) handOff(from int32) bool {
	if !s.runner.CompareAndSwap(from, runSwitching) {
		return false
	}
	if s.inbox == nil {
		s.inbox = make(chan inbound, s.route.srv.cfg.QueueSize)
		s.dequeued = make(chan struct{}, 1)
		s.readerDone = make(chan struct{})
	}
	if from == runBusy {
		// The handler still running counts as queued, and as known to be
		// slow: the new reader must not hand reading back behind it.
		s.queued.Add(1)
		s.slowInline.Store(true)
	}
	s.runner.Store(runHandOff)
	go s.read()
	return true
}

// handBack ends a handed-off reader whose worker has (almost) caught up: at
// most one message is queued or running, and it is not a handler known to be
// slow. The message just read goes to the worker with reading itself; the
// worker runs it inline and reads on. Until the worker takes reading up,
// nobody reads, so the budget timer runs: if the worker is held up past it,
// reading is handed off again; that new reader does not hand back until the
// worker has seen this message (resumePending), so the worker cannot take
// up reading on the wrong hand-back.
func (s *Session) handBack(in inbound) {
	s.queued.Add(1)
	s.resumePending.Store(true)
	// The timer leaves a hand-back alone until the message is in the
	// inbox: a reader it started must queue behind it.
	s.runner.Store(runHandingBack)
	s.inbox <- in
	s.inlineSeq.Add(1)
	s.runner.Store(runBack)
	s.armBudget()
}

// resume is the worker taking up reading handed back with in. It reports
// false when the budget timer handed reading off again first; the message
// then runs as a queued one.
func (s *Session) resume(in inbound) bool {
	s.inlineSeq.Add(1) // before the runner: see runInline
	for s.runner.Load() == runHandingBack {
		runtime.Gosched()
	}
	inline := s.runner.CompareAndSwap(runBack, runBusy)
	s.resumePending.Store(false)
	if inline {
		inline = s.runBudgeted(hooks.Message{Type: in.mt, Data: in.buf.b})
	} else {
		for s.runner.Load() != runHandOff {
			runtime.Gosched()
		}
		if s.state.Load() == stateOpen {
			s.msg = hooks.Message{Type: in.mt, Data: in.buf.b}
			s.process(s.handler, &s.msg)
			s.msg = hooks.Message{}
		}
	}
	putMsgBuf(in.buf)
	s.queued.Add(-1)
	return inline
}

// stopReading winds the socket down once reading is over: the connection
// counts as closing (its context is cancelled) and TCP is dropped, even if
// a handler is still running.
func (s *Session) stopReading() {
	s.markClosing(CloseAbnormalClosure, "", hooks.ByClient, nil)
	s.release()
	if s.readerDone != nil {
		close(s.readerDone)
	}
}

// readFailed records why reading stopped. If the connection was already
// closing (this side sent a close frame), this is the end it waited for.
func (s *Session) readFailed(err error) {
	var ce *websocket.CloseError
	var ne net.Error
	switch {
	case errors.As(err, &ce):
		s.markClosing(ce.Code, ce.Text, hooks.ByClient, nil)
	case errors.Is(err, websocket.ErrReadLimit):
		// The library already sent 1009, without a reason, to the client
		// (past the backstop, or on a Contrib route).
		s.markClosing(CloseMessageTooBig, "", hooks.ByServer, nil)
	case isProtocolError(err):
		// The library already sent 1002 with this reason to the client.
		s.markClosing(CloseProtocolError, strings.TrimPrefix(err.Error(), "websocket: "), hooks.ByServer, err)
	case errors.As(err, &ne) && ne.Timeout():
		if s.idleExpired() {
			return
		}
		s.markClosing(CloseAbnormalClosure, "", hooks.ByTimeout, nil)
	default:
		s.markClosing(CloseAbnormalClosure, "", hooks.ByClient, nil)
	}
}

// protocolErrors are what fasthttp/websocket's protocol errors say after
// "websocket: ": the library sends the client 1002 with that text and
// returns a plain error, so the text is all there is to tell them by.
var protocolErrors = []string{
	"RSV1 set", "RSV2 set", "RSV3 set", "len > 125 for control",
	"FIN not set on control", "data before FIN", "continuation after FIN",
	"bad opcode", "bad MASK", "bad close code", "invalid utf8 payload in close frame",
}

func isProtocolError(err error) bool {
	msg, ok := strings.CutPrefix(err.Error(), "websocket: ")
	return ok && slices.ContainsFunc(protocolErrors, func(p string) bool { return strings.Contains(msg, p) })
}

// runSendOnly is the worker of a send-only route, a goroutine of its own
// (finish waits for it): the one run, then the close.
func (s *Session) runSendOnly() {
	defer close(s.workerDone)
	if s.state.Load() == stateOpen {
		// Whatever the run's outcome (sent, dropped by an interceptor,
		// kept open by a catcher), a send-only connection ends with it;
		// if a catcher already closed it, this does nothing.
		s.process(s.handler, &hooks.Message{Connect: true})
		_ = s.closeWith(CloseNormalClosure, "", hooks.ByServer, nil)
	}
}

// work is the handler loop of a connection whose reading runs on another
// goroutine: queued messages in arrival order. It reports true when the
// reader handed reading back (the caller reads again) and false when
// reading is over.
func (s *Session) work() bool {
	for {
		select {
		case in := <-s.inbox:
			if in.resume {
				if s.resume(in) {
					return true
				}
				continue // a new reader took over
			}
			n := int64(len(in.buf.b))
			if s.state.Load() == stateOpen {
				s.msg = hooks.Message{Type: in.mt, Data: in.buf.b}
				s.process(s.handler, &s.msg)
				s.msg = hooks.Message{}
			}
			putMsgBuf(in.buf)
			s.queuedBytes.Add(-n)
			s.queued.Add(-1)
			select { // wake a reader waiting for room
			case s.dequeued <- struct{}{}:
			default:
			}
		case <-s.readerDone:
			for {
				select {
				case in := <-s.inbox:
					putMsgBuf(in.buf)
				default:
					return false
				}
			}
		}
	}
}

// process runs one message through the pre-interceptors and the handler
// (which sends the result through the post-interceptors). Errors from any
// stage go to the catchers. It reports whether everything succeeded.
func (s *Session) process(h messageHandler, m *hooks.Message) bool {
	if s.events != nil {
		s.events.peek(m) // the pre-interceptors see the event's name
	}
	var start time.Time
	if len(s.route.live) > 0 {
		start = time.Now()
	}
	err := s.runPre(m)
	if err == nil {
		err = s.callHandler(h, m)
	}
	if len(s.route.live) > 0 {
		d := time.Since(start)
		for _, ro := range s.route.live {
			ro.Handled(d)
		}
	}
	if err == nil {
		return true
	}
	if !errors.Is(err, hooks.ErrDrop) {
		s.fail(err)
	}
	return false
}

func (s *Session) runPre(m *hooks.Message) (err error) {
	defer recoverAs(&err)
	for _, in := range s.route.pre {
		if err := in.Pre(s.ctx, s, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) callHandler(h messageHandler, m *hooks.Message) (err error) {
	defer recoverAs(&err)
	return h.handle(s.ctx, m)
}

// recoverAs turns a panic into a *PanicError in *err; use it deferred.
func recoverAs(err *error) {
	if v := recover(); v != nil {
		*err = &PanicError{Value: v, Stack: debug.Stack()}
	}
}

// fail hands err to the catchers (route, controller, app) and applies the
// first outcome; without one, the default: a *CloseError closes with its
// code, a decode error with 1007, anything else with 1011.
func (s *Session) fail(err error) {
	if errors.Is(err, ErrClosed) {
		return
	}
	if s.state.Load() != stateOpen {
		// The connection is already on its way out; the error changes
		// nothing, but may explain what went wrong around the close.
		s.log(slog.LevelDebug, "error after the connection started closing", err)
		return
	}
	for _, c := range s.route.catchers {
		out, handled, cerr := s.callCatcher(c, err)
		if cerr != nil {
			s.logError("catcher panicked", cerr)
			err = cerr
			break
		}
		if handled {
			s.apply(out, err)
			return
		}
	}
	var ee *EventError
	if errors.As(err, &ee) && ee.internal() {
		// Answered "internal error": the details are for the log only.
		s.logError("event handler failed", err, slog.String("event", ee.Event))
	}
	s.apply(defaultOutcome(err), err)
}

func (s *Session) callCatcher(c hooks.Catcher, err error) (out hooks.Outcome, handled bool, cerr error) {
	defer recoverAs(&cerr)
	out, handled = c.Catch(s.ctx, s, err)
	return out, handled, nil
}

func defaultOutcome(err error) hooks.Outcome {
	var ce *CloseError
	var de *DecodeError
	var ve *ValidationError
	var ee *EventError
	switch {
	case errors.As(err, &ee):
		return ee.outcome() // checked first: its cause may be any of the others
	case errors.As(err, &ce):
		return hooks.CloseWith(ce.Code, ce.Reason)
	case errors.As(err, &de):
		return hooks.CloseWith(CloseInvalidPayload, "invalid message payload")
	case errors.As(err, &ve):
		return hooks.CloseWith(CloseInvalidPayload, ve.closeReason())
	}
	return hooks.CloseWith(CloseInternalError, "internal error")
}

func (s *Session) apply(out hooks.Outcome, cause error) {
	if out.Close {
		if out.Code == CloseInternalError {
			s.logError("closing connection", cause)
		}
		if err := s.closeWith(out.Code, out.Reason, hooks.ByServer, cause); err == ErrInvalidCloseCode {
			s.logError("catcher chose an invalid close code", cause, slog.Int("code", out.Code))
			_ = s.closeWith(CloseInternalError, "internal error", hooks.ByServer, cause)
		}
		return
	}
	if out.Reply != nil {
		if s.route.route.mode == ModeReceiveOnly {
			// A receive-only route never sends, not even a catcher's reply.
			s.logError("catcher reply dropped: the route is receive-only", cause)
			return
		}
		_ = s.write(out.Reply.Type, out.Reply.Data, nil, false)
	}
}

func (s *Session) logError(msg string, err error, attrs ...slog.Attr) {
	s.log(slog.LevelError, msg, err, attrs...)
}

func (s *Session) log(level slog.Level, msg string, err error, attrs ...slog.Attr) {
	logger := s.route.srv.logger()
	if !logger.Enabled(context.Background(), level) {
		return
	}
	attrs = append(attrs, slog.String("route", s.req.pattern), slog.String("path", s.req.path), slog.Uint64("conn", s.id))
	var pe *PanicError
	if errors.As(err, &pe) {
		attrs = append(attrs, slog.Any("panic", pe.Value), slog.String("stack", string(pe.Stack)))
	} else if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	logger.LogAttrs(context.Background(), level, "fiberws: "+msg, attrs...)
}

// finish winds the connection down once reading has stopped (and the
// socket has been released): wait for the handler, run cleanups, tell the
// observers. It runs on the goroutine serve was called on.
func (s *Session) finish() {
	if s.workerDone != nil {
		<-s.workerDone
	}
	if s.budget != nil {
		s.budget.Stop()
	}
	if s.route.keepalive != nil {
		s.route.keepalive.remove(s)
	}
	s.runCloses()
	s.runCleanups()
	s.route.leave(s.req.ip)
	s.route.srv.untrack(s)
	sum := s.summary()
	for _, ro := range s.route.live {
		ro.Closed(sum)
	}
	s.route.observeSummary(sum)
}

func (s *Session) runCleanups() {
	s.cleanupMu.Lock()
	list := s.cleanups
	s.cleanups = nil
	s.cleanupMu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		s.runCleanup(list[i])
	}
}

func (s *Session) runCleanup(f func()) {
	var err error
	func() {
		defer recoverAs(&err)
		f()
	}()
	if err != nil {
		s.logError("cleanup panicked", err)
	}
}

func (s *Session) summary() hooks.Summary {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	return hooks.Summary{
		Route:       s.req.pattern,
		Path:        s.req.path,
		Params:      s.req.paramMap(),
		IP:          s.req.ip,
		Start:       s.req.start,
		Duration:    time.Since(s.req.start),
		CloseCode:   s.closeCode,
		CloseReason: s.closeReason,
		ClosedBy:    s.closedBy,
		MessagesIn:  s.msgsIn.Load(),
		MessagesOut: s.msgsOut.Load(),
		BytesIn:     s.bytesIn.Load(),
		BytesOut:    s.bytesOut.Load(),
		Events:      s.eventCounts(),
		Err:         s.closeErr,
	}
}
