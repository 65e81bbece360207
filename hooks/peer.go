package hooks

import (
	"context"
	"net/http"
)

// Peer is the read-only view of a live connection that interceptors and
// catchers receive. *fiberws.Session implements it.
type Peer interface {
	// ID is unique among the connections of one process.
	ID() uint64
	// Route is the route pattern the connection matched, e.g. "/chat/:room".
	Route() string
	// Path is the request path, e.g. "/chat/general".
	Path() string
	// Params returns a route parameter of the upgrade request.
	Params(key string, defaultValue ...string) string
	// Query returns a query parameter of the upgrade request.
	Query(key string, defaultValue ...string) string
	// Header returns a header of the upgrade request.
	Header(key string, defaultValue ...string) string
	// Locals reads (Locals(key)) and writes (Locals(key, value)) the
	// connection's data, which starts with what middleware stored on the
	// upgrade request; see fiberws.Session.Locals.
	Locals(key any, value ...any) any
	// IP is the client's address as Fiber reports it.
	IP() string
	// Context is cancelled when the connection closes.
	Context() context.Context
	// Close starts the close handshake; see fiberws.Session.Close.
	Close(code int, reason string) error
}

// Request describes an upgrade request, as Observer.OnRequest receives it.
type Request struct {
	// Route is the route pattern, Path the request path.
	Route, Path string
	// Params are the route parameters.
	Params map[string]string
	// IP is the client's address.
	IP string
	// Header holds the request headers.
	Header http.Header
}
