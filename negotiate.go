package fiberws

import (
	"slices"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/middleware/origin"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// WithSubprotocols sets the subprotocols this route speaks, in order of
// preference, instead of Config.Subprotocols: the upgrade picks the first
// of them the client asks for (Sec-WebSocket-Protocol) and the connection
// reports it in Session.Subprotocol. A client that asks only for others
// gets none, and a browser then fails the handshake, as RFC 6455 wants.
// With no arguments the route negotiates none.
func WithSubprotocols(protocols ...string) Option {
	return func(r *Route) { r.subprotocols, r.subprotocolsSet = slices.Clone(protocols), true }
}

// WithCompression turns permessage-deflate on or off for this route,
// instead of Config.EnableCompression: on for a route of large, repetitive
// text (JSON feeds), off for one of small or already-compressed messages.
func WithCompression(enable bool) Option {
	return func(r *Route) { r.compression = &enable }
}

// newUpgrader is the route's upgrader: the Server's settings with the
// route's own subprotocols and compression.
func (mr *mountedRoute) newUpgrader() *websocket.FastHTTPUpgrader {
	cfg, r := mr.srv.cfg, mr.route
	u := &websocket.FastHTTPUpgrader{
		HandshakeTimeout:  cfg.HandshakeTimeout,
		ReadBufferSize:    cfg.ReadBufferSize,
		WriteBufferSize:   cfg.WriteBufferSize,
		EnableCompression: cfg.EnableCompression,
		Subprotocols:      cfg.Subprotocols,
		// Origins are checked by the origin middleware before the
		// upgrade, where a rejection can be a proper HTTP response.
		CheckOrigin: func(*fasthttp.RequestCtx) bool { return true },
	}
	if r.subprotocolsSet {
		u.Subprotocols = r.subprotocols
	}
	if r.compression != nil {
		u.EnableCompression = *r.compression
	}
	if r.contrib != nil {
		u.EnableCompression = false // see Contrib
	}
	return u
}

// originCheck is the route's origin middleware, from Config.Origins,
// Config.AllowOriginsFunc and Config.RequireOrigin.
func (mr *mountedRoute) originCheck() fiber.Handler {
	cfg := mr.srv.cfg
	return origin.New(origin.Config{
		AllowOrigins:     cfg.Origins,
		AllowOriginsFunc: cfg.AllowOriginsFunc,
		RequireOrigin:    cfg.RequireOrigin,
	})
}
