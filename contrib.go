package fiberws

import (
	"context"
	"errors"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
	contribws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// Contrib builds a route served by a gofiber/contrib/websocket handler, as
// it is: the handler gets contrib's own *websocket.Conn (Params, Query,
// Locals, ReadMessage, WriteMessage…) and owns the connection until it
// returns, reading and writing it itself. It is the migration path for an
// app built on contrib: move a handler over unchanged, and it gets the
// lifecycle around it that contrib does not have:
//
//   - observers, middleware, guards and the origin check before the
//     upgrade, with their HTTP rejections;
//   - the connection caps (MaxConnections, MaxConnectionsPerIP, route
//     options), the read limit (the library's 1009, which carries no
//     reason), the handshake timeout, subprotocols;
//   - the keep-alive (WithPing; do not replace the connection's pong
//     handler then, or every connection fails its pings), OnClose, the
//     controller's OnOpen, cleanups, Server.Session, and graceful
//     shutdown: 1001 "server shutting down" for every connection;
//   - a panic in the handler is logged, and the client gets 1011;
//   - the connection's context, cancelled when it closes:
//     ContribContext(c), for a handler that waits on other things than
//     its reads.
//
// The handler reads and writes, so what fiberws does while reading or
// writing does not apply: MessageRate, IdleTimeout, MessageTimeout, the
// receive queue, the partial-message budget, the write timeout, typed
// messages with their interceptors and catchers, and compression (the
// library bounds a compressed message only on the wire). Register refuses
// those route options on a Contrib route; the Server's are not applied.
// fiberws sends no data on the connection either: Broadcast leaves it out
// and Raw refuses it. Data a controller's OnOpen stores with
// Session.Locals is the Session's, not contrib's c.Locals.
//
// Keep reading until ReadMessage fails: that is how the handler hears of
// a close, whoever starts it (the client's close code reaches the
// observers). When the handler returns with the connection still open,
// fiberws closes it with 1000. A handler that sent its own close frame,
// or whose read failed on the read limit or a protocol error (the library
// then sent 1009 or 1002), is summarised with 1005: fiberws cannot see
// which code went out.
//
//	fiberws.Contrib("/legacy", func(c *websocket.Conn) {
//		for {
//			mt, msg, err := c.ReadMessage()
//			if err != nil {
//				return
//			}
//			if err := c.WriteMessage(mt, msg); err != nil {
//				return
//			}
//		}
//	})
//
// New code is better off with WebSocket and its typed messages; a typed
// route that needs the raw connection for one thing uses Session.Raw.
func Contrib(path string, handler func(*contribws.Conn), opts ...Option) Route {
	r := newRoute(path, ModeTwoWay, false, nil, nil, handler == nil, opts, nil)
	r.contrib = handler
	// A Contrib route has no message handler; bind is what marks a Route
	// as built by one of the constructors.
	r.bind = func(*Session) messageHandler { return nil }
	return r
}

// errContribWrites refuses a data write of fiberws on a Contrib route's
// connection, whose handler writes it without fiberws's lock.
var errContribWrites = errors.New("fiberws: a Contrib route's handler owns its connection's writes")

// checkContrib reports the options a Contrib route cannot serve: the
// handler reads, so nothing fiberws does per message applies.
func checkContrib(r Route) error {
	switch {
	case r.onConnect:
		return errors.New("OnConnect does not apply to a Contrib route: its handler runs once, at connect")
	case len(r.opens) > 0:
		return errors.New("OnOpen does not apply to a Contrib route: its handler is the open (a controller's OnOpen(ctx, *fiberws.Session) runs before it)")
	case len(r.interceptors) > 0 || len(r.catchers) > 0:
		return errors.New("interceptors and catchers do not apply to a Contrib route: its handler reads and writes the connection itself")
	case r.limits.rateSet || r.limits.idleSet || r.limits.msgTimeoutSet:
		return errors.New("WithMessageRate, WithIdleTimeout and WithMessageTimeout do not apply to a Contrib route: its handler reads the connection itself")
	case r.compression != nil && *r.compression:
		return errors.New("WithCompression(true) does not apply to a Contrib route: the library bounds a compressed message only on the wire, so a small frame could inflate without limit")
	}
	return nil
}

// ContribContextKey is the contrib Locals key under which a Contrib
// route's handler finds the connection's context; ContribContext reads it.
const ContribContextKey = "fiberws.context"

// ContribContext returns the context of a Contrib route's connection: it
// carries the upgrade request's user-context values and is cancelled when
// the connection closes (the client left, Close, shutdown). Use it in a
// handler that also waits on channels, to stop when the connection ends.
// On a connection that is not a Contrib route's, it is
// context.Background().
func ContribContext(c *contribws.Conn) context.Context {
	if ctx, ok := c.Locals(ContribContextKey).(context.Context); ok {
		return ctx
	}
	return context.Background()
}

// upgradeContrib upgrades with contrib's own upgrade, which builds the
// *websocket.Conn its handler expects (params, query, cookies, headers
// and locals copied from the request), and serves it.
func (mr *mountedRoute) upgradeContrib(c *fiber.Ctx, req *requestData) error {
	u := mr.upgrader
	ctx, cancel := sessionContext(req)
	c.Locals(ContribContextKey, ctx) // contrib copies the locals into its Conn
	upgrade := contribws.New(func(cc *contribws.Conn) {
		mr.serveContrib(cc, req, ctx, cancel)
	}, contribws.Config{
		HandshakeTimeout: u.HandshakeTimeout,
		Subprotocols:     u.Subprotocols,
		Origins:          []string{"*"}, // checked before, by the origin middleware
		ReadBufferSize:   u.ReadBufferSize,
		WriteBufferSize:  u.WriteBufferSize,
		// serveContrib recovers the handler's panics itself; contrib's
		// default would write the panic's text to the client.
		RecoverHandler: func(*contribws.Conn) {},
	})
	if err := upgrade(c); err != nil {
		// The upgrader has set the handshake error response; the handler
		// never runs. The connection stays an HTTP keep-alive one: lift
		// the handshake deadline.
		cancel()
		_ = c.Context().Conn().SetWriteDeadline(time.Time{})
	}
	return nil
}

// serveContrib runs a Contrib route's connection: the handler owns
// reading and writing; fiberws tracks the connection, answers pings,
// sends keep-alive pings and close frames (WriteControl, which is safe
// beside the handler's writes), records the client's close, and winds the
// connection down once the handler has returned.
func (mr *mountedRoute) serveContrib(cc *contribws.Conn, req *requestData, ctx context.Context, cancel context.CancelFunc) {
	s := mr.newSession(cc.Conn, req, ctx, cancel)
	mr.open(s)
	s.recordPeerClose()
	if s.state.Load() == stateOpen {
		s.runContrib(cc)
	}
	s.endContrib()
	s.finish()
}

// recordPeerClose records the close code the client sends, as the
// handler's reads see it, and answers it as the library would.
func (s *Session) recordPeerClose() {
	s.ws.SetCloseHandler(func(code int, text string) error {
		s.markClosing(code, text, hooks.ByClient, nil)
		msg := websocket.FormatCloseMessage(code, "")
		if code == websocket.CloseNoStatusReceived {
			msg = websocket.FormatCloseMessage(CloseNormalClosure, "")
		}
		_ = s.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(s.route.srv.cfg.WriteTimeout))
		return nil
	})
}

// contribLinger is how long a Contrib connection whose handler returned
// waits, after its close frame (sent then, or by Session.Close before),
// before TCP is dropped: the frame gets out, and the client's answer is not read (a
// goroutine of the handler may still be reading, and two readers must
// never meet).
const contribLinger = 100 * time.Millisecond

// endContrib winds down a Contrib connection whose handler has returned.
// It never reads: the handler's reads ended or a goroutine it left may
// still be reading. A connection still open gets 1000; one whose close
// frame went out already (the handler's own, or the library's 1009 or
// 1002) is recorded as 1005, its code unknown here.
func (s *Session) endContrib() {
	if _, ok := s.lockSocket(); ok {
		if s.state.Load() == stateOpen {
			err := s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseNormalClosure, ""), time.Now().Add(s.route.srv.cfg.WriteTimeout))
			switch {
			case err == nil:
				s.markClosing(CloseNormalClosure, "", hooks.ByServer, nil)
			case errors.Is(err, websocket.ErrCloseSent):
				s.markClosing(CloseNoStatusReceived, "", hooks.ByServer, nil)
			default:
				s.abort(err)
			}
		}
		s.writeMu.Unlock()
		// Ours or Session.Close's: the close frame must reach the client
		// before TCP is dropped, as a reset discards what it has not read.
		time.Sleep(contribLinger)
	}
	s.stopReading()
}

// runContrib calls the controller's OnOpen hooks, then the handler, with
// panics recovered: either closes the connection with 1011.
func (s *Session) runContrib(cc *contribws.Conn) {
	var err error
	func() {
		defer recoverAs(&err)
		for _, o := range s.route.opens {
			if err = o.run(s.ctx, s, nil); err != nil {
				return
			}
		}
		s.route.route.contrib(cc)
	}()
	if err != nil {
		s.logError("contrib handler failed", err)
		_ = s.closeWith(CloseInternalError, "internal error", hooks.ByServer, err)
	}
}
