package fiberws

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/fiberws/fiberws/hooks"
)

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
		if err := s.closeWith(out.Code, out.Reason, hooks.ByServer, cause); errors.Is(err, ErrInvalidCloseCode) {
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
