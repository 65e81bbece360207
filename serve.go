package fiberws

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime/debug"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
	"github.com/valyala/bytebufferpool"
)

// inbound is a received message waiting for the handler; buf returns to
// the pool once the handler is done with it.
type inbound struct {
	mt  MessageType
	buf *bytebufferpool.ByteBuffer
}

// serve runs one upgraded connection on the goroutine fasthttp hijacked it
// on. That goroutine reads; a second one runs the handler, so a slow
// handler never stops the connection from answering pings or noticing
// that the client left. It returns when the connection is fully wound
// down: socket closed, handler returned, cleanups run, observers told.
func (mr *mountedRoute) serve(ws *websocket.Conn, req *requestData) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &Session{
		id:         sessionIDs.Add(1),
		route:      mr,
		req:        req,
		ws:         ws,
		ctx:        ctx,
		cancel:     cancel,
		cleanups:   []func(){},
		inbox:      make(chan inbound, mr.srv.cfg.QueueSize),
		readerDone: make(chan struct{}),
		workerDone: make(chan struct{}),
	}
	ws.SetReadLimit(mr.readLimit)
	mr.enter()
	if !mr.srv.track(s) {
		_ = s.closeWith(CloseGoingAway, "server shutting down", hooks.ByShutdown, nil)
	}
	if mr.overLimit(0) {
		_ = s.closeWith(CloseTryAgainLater, ReasonTooManyConnections, hooks.ByServer, nil)
	}
	if mr.keepalive != nil {
		ws.SetPongHandler(func(string) error {
			s.unanswered.Store(0)
			return nil
		})
		s.lastPing.Store(time.Now().UnixNano())
		mr.keepalive.add(s)
	}
	s.setupLimits()

	handler := mr.route.bind(s)
	go s.work(handler)
	s.read()
	s.finish()
}

// read is the reader loop. Control frames (ping, pong, close) are handled
// inside NextReader; data frames are queued for the handler. When the
// queue is full, reading pauses: back-pressure instead of memory growth.
func (s *Session) read() {
	defer close(s.readerDone)
	sendOnly := s.route.route.mode == ModeSendOnly
	for {
		s.armIdle()
		mt, r, err := s.ws.NextReader()
		if err != nil {
			s.readFailed(err)
			return
		}
		buf := bytebufferpool.Get()
		if err := s.readMessage(buf, r); err != nil {
			bytebufferpool.Put(buf)
			if err == errDecompressedTooBig {
				s.readLimitHit()
				continue
			}
			s.readFailed(err)
			return
		}
		if !s.allowMessage() {
			bytebufferpool.Put(buf)
			continue
		}
		if sendOnly || s.state.Load() != stateOpen {
			bytebufferpool.Put(buf)
			continue
		}
		if MessageType(mt) == Text && !utf8.Valid(buf.B) {
			bytebufferpool.Put(buf)
			_ = s.closeWith(CloseInvalidPayload, "invalid UTF-8", hooks.ByServer, nil)
			continue
		}
		s.msgsIn.Add(1)
		s.bytesIn.Add(int64(len(buf.B)))
		select {
		case s.inbox <- inbound{mt: MessageType(mt), buf: buf}:
		case <-s.ctx.Done():
			bytebufferpool.Put(buf)
		}
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
		// The library already sent 1009 to the client.
		s.markClosing(CloseMessageTooBig, "message too big", hooks.ByServer, nil)
	case errors.As(err, &ne) && ne.Timeout():
		if s.idleExpired() {
			return
		}
		s.markClosing(CloseAbnormalClosure, "", hooks.ByTimeout, nil)
	default:
		s.markClosing(CloseAbnormalClosure, "", hooks.ByClient, nil)
	}
}

// work is the handler loop: the on-connect trigger (or the one send-only
// run), then every queued message in arrival order.
func (s *Session) work(h messageHandler) {
	defer close(s.workerDone)
	route := s.route.route
	switch {
	case route.mode == ModeSendOnly:
		if s.process(h, &Message{Connect: true}) {
			_ = s.closeWith(CloseNormalClosure, "", hooks.ByServer, nil)
		}
		return
	case route.onConnect:
		s.process(h, &Message{Connect: true})
	}
	for {
		select {
		case in := <-s.inbox:
			if s.state.Load() == stateOpen {
				s.process(h, &Message{Type: in.mt, Data: in.buf.B})
			}
			bytebufferpool.Put(in.buf)
		case <-s.readerDone:
			for {
				select {
				case in := <-s.inbox:
					bytebufferpool.Put(in.buf)
				default:
					return
				}
			}
		}
	}
}

// process runs one message through the pre-interceptors and the handler
// (which sends the result through the post-interceptors). Errors from any
// stage go to the catchers. It reports whether everything succeeded.
func (s *Session) process(h messageHandler, m *Message) bool {
	err := s.runPre(m)
	if err == nil {
		err = s.callHandler(h, m)
	}
	if err == nil {
		return true
	}
	if !errors.Is(err, hooks.ErrDrop) {
		s.fail(err)
	}
	return false
}

func (s *Session) runPre(m *Message) (err error) {
	defer recoverAs(&err)
	for _, in := range s.route.pre {
		if err := in.Pre(s.ctx, s, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Session) callHandler(h messageHandler, m *Message) (err error) {
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
	if errors.Is(err, ErrClosed) || s.state.Load() != stateOpen {
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
	s.apply(defaultOutcome(err), err)
}

func (s *Session) callCatcher(c Catcher, err error) (out Outcome, handled bool, cerr error) {
	defer recoverAs(&cerr)
	out, handled = c.Catch(s.ctx, s, err)
	return out, handled, nil
}

func defaultOutcome(err error) Outcome {
	var ce *CloseError
	var de *DecodeError
	switch {
	case errors.As(err, &ce):
		return hooks.CloseWith(ce.Code, ce.Reason)
	case errors.As(err, &de):
		return hooks.CloseWith(CloseInvalidPayload, "invalid message payload")
	}
	return hooks.CloseWith(CloseInternalError, "internal error")
}

func (s *Session) apply(out Outcome, cause error) {
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
		_ = s.write(out.Reply.Type, out.Reply.Data, nil)
	}
}

func (s *Session) logError(msg string, err error, attrs ...slog.Attr) {
	attrs = append(attrs, slog.String("route", s.req.pattern), slog.String("path", s.req.path), slog.Uint64("conn", s.id))
	var pe *PanicError
	if errors.As(err, &pe) {
		attrs = append(attrs, slog.Any("panic", pe.Value), slog.String("stack", string(pe.Stack)))
	} else if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.route.srv.logger().LogAttrs(context.Background(), slog.LevelError, "fiberws: "+msg, attrs...)
}

// finish winds the connection down once reading has stopped: drop TCP, wait
// for the handler, run cleanups, tell the observers.
func (s *Session) finish() {
	s.markClosing(CloseAbnormalClosure, "", hooks.ByClient, nil)
	// release, not a bare close: it bars late pings, close frames and
	// writes from the socket, which fasthttp recycles once serve returns.
	s.release()
	<-s.workerDone
	if s.route.keepalive != nil {
		s.route.keepalive.remove(s)
	}
	s.runCleanups()
	s.route.leave()
	s.route.srv.untrack(s)
	s.route.observeSummary(s.summary())
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
		Err:         s.closeErr,
	}
}
