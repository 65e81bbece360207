package fiberws

import (
	"slices"
	"time"

	"golang.org/x/time/rate"
)

// Doc is the human part of a route's or a controller's documentation:
// what generated protocol documents (middleware/asyncapi) show beside the
// types fiberws knows. Every field is optional.
type Doc struct {
	// Title names the route or the controller in a listing ("Chat room").
	Title string
	// Summary is one line on what it is for.
	Summary string
	// Description is longer text (CommonMark in AsyncAPI documents).
	Description string
	// Query and Headers name the query parameters and request headers the
	// upgrade request reads (a token, a client version): documentation
	// only, fiberws does not check them; a guard or middleware does.
	Query, Headers []string
}

// WithDoc documents a route: its title, summary, description and the
// query parameters and headers its upgrade reads. Use it on routes whose
// documents client teams read; it changes nothing at run time.
func WithDoc(d Doc) Option {
	return func(r *Route) { r.doc = d }
}

// ControllerDoc is implemented by controllers that document themselves:
// Doc's title, summary and description describe the controller's routes
// as a group (an AsyncAPI tag), its Query and Headers are added to each of
// its routes'.
type ControllerDoc interface{ Doc() Doc }

// Doc is the route's documentation, from WithDoc.
func (r Route) Doc() Doc { return r.doc }

// RouteInfo is a route as a Server mounted it: its full pattern and the
// settings in force after the Config's defaults and the route's options
// are resolved. Server.Routes lists them, for tools that document or
// check an app's WebSocket API.
type RouteInfo struct {
	// Pattern is the full Fiber path pattern ("/chat/ws/:room"), with the
	// group and controller prefixes. For routes mounted with
	// Server.Handler it is relative to where the handler is used.
	Pattern string
	// Route is the route as its controller declared it: mode, types,
	// events, ping, Doc.
	Route Route
	// Controller is the controller's type name and, when it implements
	// ControllerDoc, its Doc.
	ControllerName string
	Controller     Doc
	// ReadLimit is the largest message accepted, in bytes.
	ReadLimit int64
	// MaxConnections is the route's own cap (0: only the Server's),
	// MaxConnectionsPerIP the per-address cap in force on it (the
	// route's, else the Server's; 0: none).
	MaxConnections, MaxConnectionsPerIP int
	// MessageRate and MessageBurst are the per-connection message rate
	// limit (0: none).
	MessageRate  rate.Limit
	MessageBurst int
	// IdleTimeout and MessageTimeout are 0 when off.
	IdleTimeout, MessageTimeout time.Duration
	// Subprotocols are those the upgrade negotiates; Compression whether
	// permessage-deflate is offered.
	Subprotocols []string
	Compression  bool
}

// Routes lists the routes mounted on the Server, in the order they were
// registered: the input of protocol documents (middleware/asyncapi) and of
// checks in tests. The slice is the caller's.
func (srv *Server) Routes() []RouteInfo {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]RouteInfo, len(srv.routes))
	for i, ri := range srv.routes {
		ri.Subprotocols = slices.Clone(ri.Subprotocols)
		out[i] = ri
	}
	return out
}

// addRoute records a mounted route for Routes and gives its LiveObservers
// their say, before the route can take connections; the caller holds no
// lock.
func (srv *Server) addRoute(pattern string, mr *mountedRoute) {
	mr.watch(pattern)
	perIP := srv.cfg.MaxConnectionsPerIP
	if mr.limits.perIP != nil {
		perIP = mr.limits.perIP.limit
	}
	u := mr.upgrader
	ri := RouteInfo{
		Pattern:             pattern,
		Route:               mr.route,
		ControllerName:      mr.ctrlName,
		Controller:          mr.ctrlDoc,
		ReadLimit:           mr.readLimit,
		MaxConnections:      mr.limits.maxConns,
		MaxConnectionsPerIP: max(perIP, 0),
		MessageRate:         mr.limits.rate,
		MessageBurst:        mr.limits.burst,
		IdleTimeout:         mr.limits.idle,
		MessageTimeout:      mr.messageTimeout,
		Subprotocols:        slices.Clone(u.Subprotocols),
		Compression:         u.EnableCompression,
	}
	srv.mu.Lock()
	srv.routes = append(srv.routes, ri)
	srv.mu.Unlock()
}
