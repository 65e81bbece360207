package fiberws

import (
	"context"
	"errors"
	"iter"
	"reflect"
	"time"

	contribws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/fiberws/fiberws/hooks"
)

// Route describes one WebSocket endpoint of a controller: the Go form of
// revali's @WebSocket(path, mode:, triggerOnConnect:) and
// @WebSocket.ping(path, ping:). Build it with WebSocket, WebSocketStream,
// ReceiveOnly, SendOnly, SendOnlyStream or Ping, and return it from
// Controller.Routes. A Route is a value; its accessors let tools list routes
// and generate documentation.
type Route struct {
	path      string
	mode      Mode
	stream    bool
	in, out   reflect.Type
	onConnect bool
	ping      time.Duration
	pingSet   bool
	pingWait  time.Duration
	readLimit int64
	limits    routeLimits
	// subprotocols (when subprotocolsSet) and compression (when not nil)
	// override the Server's for this route (negotiate.go).
	subprotocols    []string
	subprotocolsSet bool
	compression     *bool
	// contrib is a Contrib route's handler (contrib.go).
	contrib func(*contribws.Conn)
	// An event route's handlers, framing and Ask bound (events.go).
	isEvents       bool
	events         []eventSpec
	eventFormat    EventFormat
	maxPendingAsks int
	// doc is WithDoc's, for generated documents (describe.go).
	doc Doc

	middleware   []fiber.Handler
	guards       []hooks.Guard
	interceptors []hooks.Interceptor
	catchers     []hooks.Catcher
	opens        []openHook
	closes       []func(*Session, CloseInfo)

	// bind makes the per-connection handler: it holds the typed Conn and
	// the decoder, so the message path needs no reflection.
	bind func(s *Session) messageHandler
	err  error
}

// messageHandler runs one message (or the on-connect trigger) through the
// decoder, the user's handler and the reply path.
type messageHandler interface {
	handle(ctx context.Context, m *hooks.Message) error
	// conn is the handler's *Conn[Out] (nil for a receive-only route).
	conn() any
}

// Path is the route path below the controller prefix.
func (r Route) Path() string { return r.path }

// Mode is ModeTwoWay, ModeReceiveOnly or ModeSendOnly.
func (r Route) Mode() Mode { return r.mode }

// Stream reports whether the handler returns an iter.Seq of messages.
func (r Route) Stream() bool { return r.stream }

// MessageIn is the handler's body type, nil for send-only routes.
func (r Route) MessageIn() reflect.Type { return r.in }

// MessageOut is the type of the messages the route sends (the element type
// for streams), nil for receive-only routes.
func (r Route) MessageOut() reflect.Type { return r.out }

// TriggerOnConnect reports whether the handler also runs once right after
// the upgrade, with the zero body.
func (r Route) TriggerOnConnect() bool { return r.onConnect }

// PingInterval is how often the server pings the client; 0 means never.
func (r Route) PingInterval() time.Duration { return r.ping }

// PingTimeout is how long the server waits for a pong before closing with
// 1001; it defaults to the ping interval.
func (r Route) PingTimeout() time.Duration {
	if r.pingWait > 0 {
		return r.pingWait
	}
	return r.ping
}

// Option changes a Route as it is built.
type Option func(*Route)

// OnConnect makes the handler run once right after the upgrade, before any
// message, with the zero body (nil for pointer bodies, so use *string or
// *T to tell the trigger from an empty message). It is revali's
// triggerOnConnect: true. Send-only routes always run at connect and reject
// this option.
func OnConnect() Option { return func(r *Route) { r.onConnect = true } }

// WithPing makes the server ping the client every interval and close with
// 1001 when no pong arrives within timeout (default: one interval). Pings
// are sent by one shared scheduler per route, not a timer per connection.
func WithPing(interval time.Duration, timeout ...time.Duration) Option {
	return func(r *Route) {
		r.ping, r.pingSet = interval, true
		if len(timeout) > 0 {
			r.pingWait = timeout[0]
		}
	}
}

// WithReadLimit overrides Config.ReadLimit for this route.
func WithReadLimit(bytes int64) Option { return func(r *Route) { r.readLimit = bytes } }

// WithMiddleware adds route-scope middleware; it runs after the app's and
// the controller's, before the guards.
func WithMiddleware(handlers ...fiber.Handler) Option {
	return func(r *Route) { r.middleware = append(r.middleware, handlers...) }
}

// WithGuards adds route-scope guards; they run after the app's and the
// controller's.
func WithGuards(guards ...hooks.Guard) Option {
	return func(r *Route) { r.guards = append(r.guards, guards...) }
}

// WithInterceptors adds route-scope interceptors: their Pre runs last,
// their Post first.
func WithInterceptors(interceptors ...hooks.Interceptor) Option {
	return func(r *Route) { r.interceptors = append(r.interceptors, interceptors...) }
}

// WithCatchers adds route-scope catchers; they see errors first.
func WithCatchers(catchers ...hooks.Catcher) Option {
	return func(r *Route) { r.catchers = append(r.catchers, catchers...) }
}

var errNilHandler = errors.New("nil handler")

// newRoute is a route of the given shape (in and out are the body and result
// types, nil for none) with opts applied; bind makes each connection's
// message handler.
func newRoute(path string, mode Mode, stream bool, in, out reflect.Type, nilHandler bool, opts []Option, bind func(*Session) messageHandler) Route {
	r := Route{path: path, mode: mode, stream: stream, in: in, out: out, bind: bind}
	for _, opt := range opts {
		if opt != nil {
			opt(&r)
		}
	}
	if nilHandler {
		r.err = errNilHandler
	}
	return r
}

// WebSocket builds a two-way route: h runs for every message, in arrival
// order, and its result is sent back (a nil pointer result sends nothing).
// In decides decoding and Out encoding: string is a text frame, []byte a
// binary frame, any other type JSON. The *Conn[Out] lets h send more
// messages of the same type from any goroutine, close the connection and
// register cleanups.
//
//	fiberws.WebSocket("/messages", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
//		return "Echo: " + msg, nil
//	})
func WebSocket[In, Out any](path string, h func(ctx context.Context, c *Conn[Out], msg In) (Out, error), opts ...Option) Route {
	dec, enc := newDecoder[In](), newEncoder[Out]()
	return newRoute(path, ModeTwoWay, false, reflect.TypeFor[In](), reflect.TypeFor[Out](), h == nil, opts, func(s *Session) messageHandler {
		return &twoWay[In, Out]{c: &Conn[Out]{Session: s, enc: enc}, h: h, dec: dec}
	})
}

// Ping builds a two-way route whose connections the server pings every
// interval: revali's @WebSocket.ping. It is WebSocket with WithPing.
func Ping[In, Out any](path string, interval time.Duration, h func(ctx context.Context, c *Conn[Out], msg In) (Out, error), opts ...Option) Route {
	return WebSocket(path, h, append([]Option{WithPing(interval)}, opts...)...)
}

// WebSocketStream builds a two-way route whose handler answers each message
// with a sequence of messages, sent in order; iteration stops when the
// connection closes.
func WebSocketStream[In, Out any](path string, h func(ctx context.Context, c *Conn[Out], msg In) (iter.Seq[Out], error), opts ...Option) Route {
	dec, enc := newDecoder[In](), newEncoder[Out]()
	return newRoute(path, ModeTwoWay, true, reflect.TypeFor[In](), reflect.TypeFor[Out](), h == nil, opts, func(s *Session) messageHandler {
		return &twoWayStream[In, Out]{c: &Conn[Out]{Session: s, enc: enc}, h: h, dec: dec}
	})
}

// ReceiveOnly builds a receive-only route: h runs for every message and has
// no way to send (it gets a *Session, which has no Send). The connection
// stays open until a side closes it.
func ReceiveOnly[In any](path string, h func(ctx context.Context, s *Session, msg In) error, opts ...Option) Route {
	dec := newDecoder[In]()
	return newRoute(path, ModeReceiveOnly, false, reflect.TypeFor[In](), nil, h == nil, opts, func(s *Session) messageHandler {
		return &receiveOnly[In]{s: s, h: h, dec: dec}
	})
}

// SendOnly builds a send-only route: h runs once at connect (it has no body
// parameter), its result is sent, and the connection closes with 1000.
// Messages sent through the Conn while h runs are delivered first.
func SendOnly[Out any](path string, h func(ctx context.Context, c *Conn[Out]) (Out, error), opts ...Option) Route {
	enc := newEncoder[Out]()
	return newRoute(path, ModeSendOnly, false, nil, reflect.TypeFor[Out](), h == nil, opts, func(s *Session) messageHandler {
		return &sendOnly[Out]{c: &Conn[Out]{Session: s, enc: enc}, h: h}
	})
}

// SendOnlyStream builds a send-only route whose handler returns a sequence:
// each element is sent in order, and when the sequence ends the connection
// closes with 1000. Iteration stops early if the client leaves.
func SendOnlyStream[Out any](path string, h func(ctx context.Context, c *Conn[Out]) (iter.Seq[Out], error), opts ...Option) Route {
	enc := newEncoder[Out]()
	return newRoute(path, ModeSendOnly, true, nil, reflect.TypeFor[Out](), h == nil, opts, func(s *Session) messageHandler {
		return &sendOnlyStream[Out]{c: &Conn[Out]{Session: s, enc: enc}, h: h}
	})
}
