package fiberws

import (
	"context"
	"fmt"
	"reflect"

	"github.com/fiberws/fiberws/hooks"
)

// CloseInfo is how a connection ended, for OnClose: the close code and
// reason (1006 when TCP dropped without a close frame), who closed it, and
// the error that closed it, if any.
type CloseInfo struct {
	Code     int
	Reason   string
	ClosedBy hooks.ClosedBy
	Err      error
}

// OnOpen runs f once when a connection of the route opens, right after the
// upgrade and before its first message: the place to join rooms, load
// the user, send a greeting, without telling an on-connect run from a
// message by a nil body. T is the route's result type: f gets the typed
// *Conn the handler gets (Register reports a mismatch, and a receive-only
// route, which has no Conn). An error goes to the catchers like a
// handler's. It runs after the controller's OnOpen, around the
// interceptors' Pre as the on-connect run does, and before the handler's
// on-connect run (OnConnect).
func OnOpen[T any](f func(ctx context.Context, c *Conn[T]) error) Option {
	want := reflect.TypeFor[T]()
	return func(r *Route) {
		if f == nil {
			return
		}
		r.opens = append(r.opens, openHook{
			out: want,
			run: func(ctx context.Context, _ *Session, h messageHandler) error {
				return f(ctx, h.conn().(*Conn[T]))
			},
		})
	}
}

// OnClose runs f once when a connection of the route has closed, whoever
// closed it, with how it ended; after the handler has returned and before
// the cleanups. It runs before the controller's OnClose.
func OnClose(f func(s *Session, info CloseInfo)) Option {
	return func(r *Route) {
		if f != nil {
			r.closes = append(r.closes, f)
		}
	}
}

// ControllerOpen is implemented by controllers that run code when any of
// their connections opens (before the route's OnOpen).
type ControllerOpen interface {
	OnOpen(ctx context.Context, s *Session) error
}

// ControllerClose is implemented by controllers that run code when any of
// their connections has closed (after the route's OnClose).
type ControllerClose interface {
	OnClose(s *Session, info CloseInfo)
}

// openHook is one OnOpen: out is the result type it was written for.
type openHook struct {
	out reflect.Type
	run func(ctx context.Context, s *Session, h messageHandler) error
}

// checkOpens reports OnOpen hooks that do not fit the route.
func checkOpens(r Route) error {
	for _, o := range r.opens {
		switch {
		case r.mode == ModeReceiveOnly:
			return fmt.Errorf("OnOpen does not apply to a receive-only route: it has no Conn (use the controller's OnOpen(ctx, *fiberws.Session))")
		case o.out != r.out:
			return fmt.Errorf("OnOpen takes a *fiberws.Conn[%v], but the route sends %v", o.out, r.out)
		}
	}
	return nil
}

// opening is the handler of a connection with open hooks: on the connect
// run it calls them, then the route's own handler if that runs at connect
// too (OnConnect, send-only routes).
type opening struct {
	s       *Session
	opens   []openHook
	next    messageHandler
	connect bool
}

func (o *opening) handle(ctx context.Context, m *hooks.Message) error {
	if m.Connect {
		for _, h := range o.opens {
			if err := h.run(ctx, o.s, o.next); err != nil {
				return err
			}
		}
		if !o.connect {
			return nil
		}
	}
	return o.next.handle(ctx, m)
}

func (o *opening) conn() any { return o.next.conn() }

// runCloses calls the OnClose hooks (the route's, then the controller's),
// each recovered from panics.
func (s *Session) runCloses() {
	if len(s.route.closes) == 0 {
		return
	}
	s.closeMu.Lock()
	info := CloseInfo{Code: s.closeCode, Reason: s.closeReason, ClosedBy: s.closedBy, Err: s.closeErr}
	s.closeMu.Unlock()
	for _, f := range s.route.closes {
		var err error
		func() {
			defer recoverAs(&err)
			f(s, info)
		}()
		if err != nil {
			s.logError("OnClose panicked", err)
		}
	}
}
