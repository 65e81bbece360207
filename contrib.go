package fiberws

import (
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
//     options), the read limit (1009 "message too big"), the handshake
//     and write timeouts, subprotocols and compression;
//   - the keep-alive (WithPing), OnClose, cleanups, Server.Session, and
//     graceful shutdown: 1001 "server shutting down" for every connection;
//   - a panic in the handler is logged, and the client gets 1011.
//
// The handler reads, so what fiberws does while reading does not apply:
// MessageRate, IdleTimeout, MessageTimeout, the receive queue, and typed
// messages with their interceptors and catchers (Register refuses those
// route options on a Contrib route, and the Server's are not applied).
// Keep reading until ReadMessage fails: that is how the handler hears of a
// close, whoever starts it. When the handler returns with the connection
// still open, it is closed with 1000.
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
	r := newRoute(path, ModeTwoWay, false, nil, nil, handler == nil, opts)
	r.contrib = handler
	// A Contrib route has no message handler; bind is what marks a Route
	// as built by one of the constructors.
	r.bind = func(*Session) messageHandler { return nil }
	return r
}

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
	}
	return nil
}

// upgradeContrib upgrades with contrib's own upgrade, which builds the
// *websocket.Conn its handler expects (params, query, cookies, headers
// and locals copied from the request), and serves it.
func (mr *mountedRoute) upgradeContrib(c *fiber.Ctx, req *requestData) error {
	u := mr.upgrader
	upgrade := contribws.New(func(cc *contribws.Conn) { mr.serveContrib(cc, req) }, contribws.Config{
		HandshakeTimeout:  u.HandshakeTimeout,
		Subprotocols:      u.Subprotocols,
		Origins:           []string{"*"}, // checked before, by the origin middleware
		ReadBufferSize:    u.ReadBufferSize,
		WriteBufferSize:   u.WriteBufferSize,
		EnableCompression: u.EnableCompression,
		// serveContrib recovers the handler's panics itself; contrib's
		// default would write the panic's text to the client.
		RecoverHandler: func(*contribws.Conn) {},
	})
	if err := upgrade(c); err != nil {
		// The upgrader has set the handshake error response. The connection
		// stays an HTTP keep-alive one: lift the handshake deadline.
		_ = c.Context().Conn().SetWriteDeadline(time.Time{})
	}
	return nil
}

// serveContrib runs a Contrib route's connection: the handler owns
// reading; fiberws tracks the connection, answers pings, sends keep-alive
// pings and close frames (WriteControl, which is safe beside the
// handler's writes), and winds it down once the handler has returned.
func (mr *mountedRoute) serveContrib(cc *contribws.Conn, req *requestData) {
	s := mr.newSession(cc.Conn, req)
	mr.open(s)
	if s.state.Load() == stateOpen {
		s.runContrib(cc)
	}
	s.endContrib()
	s.finish()
}

// endContrib closes a Contrib connection whose handler has returned, with
// 1000 if nothing closed it yet, and reads (discarding) until the client's
// answer or the close timeout, to learn how it ended: a close frame the
// handler sent itself, or the library did (1009 over the read limit, 1002
// for a protocol error), shows in what the read returns.
func (s *Session) endContrib() {
	if _, ok := s.lockSocket(); ok {
		if s.state.Load() == stateOpen {
			err := s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(CloseNormalClosure, ""), time.Now().Add(s.route.srv.cfg.WriteTimeout))
			switch {
			case err == nil:
				s.markClosing(CloseNormalClosure, "", hooks.ByServer, nil)
			case errors.Is(err, websocket.ErrCloseSent):
				// A close frame went out already; the read below says why.
			default:
				s.abort(err)
			}
		}
		s.writeMu.Unlock()
	}
	_ = s.ws.SetReadDeadline(time.Now().Add(s.route.srv.cfg.CloseTimeout))
	for {
		if _, _, err := s.ws.NextReader(); err != nil {
			s.readFailed(err)
			break
		}
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
// Contrib route the handler owns the connection and Raw is not needed.
func (s *Session) Raw(f func(*websocket.Conn) error) error {
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
