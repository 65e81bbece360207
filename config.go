package fiberws

import (
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"github.com/fiberws/fiberws/hooks"
)

// Config holds the settings that apply to every route a Server mounts, and
// the app-scope lifecycle components. Zero fields take the values of
// ConfigDefault.
type Config struct {
	// ReadLimit is the largest message accepted, in bytes, counted after
	// permessage-deflate decompression. A larger one closes the
	// connection with 1009. Default 1 MiB.
	ReadLimit int64
	// WriteTimeout bounds every write (replies, Send, pings, close frames).
	// A client that does not take a frame within it is dropped. On Linux
	// it is also each upgraded socket's TCP_USER_TIMEOUT: a client whose
	// network is gone for that long while data is in flight, or whose
	// receive window stays closed that long, is dropped by the kernel;
	// raise it for clients on networks that drop out longer (tunnels,
	// roaming). Default 10s.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds writing the upgrade's 101 response (a Fiber
	// app WriteTimeout, when set, applies instead). Default 10s.
	HandshakeTimeout time.Duration
	// CloseTimeout is how long a closing connection waits for the peer's
	// close frame before dropping TCP. Default 2s.
	CloseTimeout time.Duration
	// QueueSize is how many received messages may wait behind a slow
	// handler. When the queue is full the connection stops reading until
	// the handler catches up, so a flooding client cannot grow server
	// memory. Default 16.
	QueueSize int
	// QueueBytes bounds the same queue in bytes: reading also pauses once
	// the queued messages and the one the handler is working on hold this
	// much (a single larger message still gets in alone). It caps what one
	// connection behind a slow handler holds at about QueueBytes +
	// ReadLimit. Default 1 MiB.
	QueueBytes int64
	// Origins lists the browser origins allowed to connect
	// ("https://example.com"); "*" allows any. Empty means same host: a
	// request whose Origin header names another host:port than its Host
	// header gets 403 (the scheme is not compared, so this holds behind a
	// TLS-terminating proxy). Requests without an Origin header
	// (non-browser clients) pass, unless RequireOrigin.
	Origins []string
	// AllowOriginsFunc, when set, allows an origin that Origins does not
	// list when it returns true (Fiber's CORS has the same field): for
	// origins that follow a pattern, such as every subdomain, or that come
	// from a database. With it set and Origins empty, only what it allows
	// passes (same host is no longer the default). It runs on every
	// upgrade request, so keep it fast.
	AllowOriginsFunc func(origin string) bool
	// RequireOrigin refuses (403) upgrade requests without an Origin
	// header. Browsers always send one, so set it when only browsers
	// connect; leave it off for native apps, servers and command-line
	// clients, which usually send none (cross-site hijacking needs a
	// browser, so they are no such risk).
	RequireOrigin bool
	// Subprotocols lists the subprotocols the routes speak, in order of
	// preference (contrib/websocket's name): the upgrade picks the first
	// one the client asks for, Session.Subprotocol reports it, and a
	// client that asks for none of them gets none. WithSubprotocols sets a
	// route's own. Default none.
	Subprotocols []string
	// ReadBufferSize and WriteBufferSize size the socket I/O buffers; they
	// do not limit message size (a larger message still goes out as one
	// frame). Each connection holds both from the upgrade to its end
	// (their memory becomes resident as they are first used); a pooled
	// write buffer would cost an allocation per message instead. Default
	// 1024 each, as in contrib/websocket.
	ReadBufferSize, WriteBufferSize int
	// EnableCompression negotiates permessage-deflate when the client asks.
	// Off by default: inflating costs CPU on every message. When on,
	// ReadLimit bounds the inflated size and corrupt compressed data closes
	// the connection with 1007. WithCompression sets a route's own.
	EnableCompression bool
	// MaxConnections caps the open connections of the Server (all its
	// routes); an upgrade request over it gets HTTP 503 before the upgrade
	// (handshakes racing past the check in a burst are upgraded, then
	// closed at once with 1013 "too many connections").
	// WithMaxConnections caps a single route. A negative value means no
	// cap. Default 10,000.
	MaxConnections int
	// MaxConnectionsPerIP caps the open connections of the Server from one
	// client address (Fiber's c.IP(): behind a proxy, set Fiber's
	// ProxyHeader, or every client shares the proxy's address). An upgrade
	// request over it gets HTTP 429 Too Many Requests before the upgrade,
	// so one address cannot hold every slot of MaxConnections.
	// WithMaxConnectionsPerIP caps a single route. 0 (the default) means no
	// cap: many users can share an address (NAT, mobile carriers), so pick
	// a value that fits your clients (see SECURITY.md).
	MaxConnectionsPerIP int
	// MessageRate is how many messages per second each connection may send
	// on average, MessageBurst how many at once (default: MessageRate,
	// at least 1). The message over the rate closes the connection with
	// 1008 "rate limit exceeded". Data messages and pings count. 0 turns
	// rate limiting off; default off (see SECURITY.md). WithMessageRate
	// overrides both per route.
	MessageRate  rate.Limit
	MessageBurst int
	// IdleTimeout closes (1001 "idle timeout") a connection on which
	// nothing arrives for that long: no message, no ping, no pong. Every
	// frame read resets it, so with WithPing at an interval shorter than
	// IdleTimeout a live client never hits it.
	// It finds silent and half-open clients even on routes without ping.
	// 0 turns it off; default off (see SECURITY.md). WithIdleTimeout
	// overrides it per route.
	IdleTimeout time.Duration
	// MessageTimeout is how long a message may take to arrive, from its
	// first frame to its last, whatever IdleTimeout says; a message late
	// closes the connection with 1008 "message timeout". It stops a client
	// that trickles a large message, or sends endless empty continuation
	// frames, from holding a connection (and memory, or a core) for as
	// long as it likes. Checked a few times per timeout, so a late message
	// is closed within about 1.25 times it. Negative turns it off.
	// WithMessageTimeout overrides it per route. Default 10s.
	MessageTimeout time.Duration
	// PartialMessageBudget bounds the memory all connections of the Server
	// together may hold in messages still arriving, beyond 16 KiB each.
	// When a growing message would exceed it, the connections holding most
	// are closed with 1013 "server busy" (the one growing, if it would hold
	// most itself). It is raised to the largest read limit of the routes
	// mounted (plus 16 KiB), so that one message always fits. Default
	// 32 MiB.
	PartialMessageBudget int64
	// ShutdownTimeout bounds the graceful shutdown that runs when the Fiber
	// app a Server is registered on shuts down, counted from when the app's
	// shutdown begins (see Server.Shutdown). Default 5s.
	ShutdownTimeout time.Duration
	// Validator checks decoded message bodies (see Validator): typed
	// bodies of ordinary routes only when it is set (a failure is a
	// *ValidationError for the catchers, by default a 1007 naming the
	// fields); event routes' data always, with NewValidator's when it is
	// unset (a failure is an error reply). Default nil.
	Validator Validator
	// Logger receives handler errors, panics (with stacks) and hook
	// failures. Default slog.Default().
	Logger *slog.Logger

	// Observers, Middleware, Guards, Interceptors and Catchers are the
	// app-scope lifecycle components; they run before (catchers: after)
	// those of controllers and routes.
	Observers    []hooks.Observer
	Middleware   []fiber.Handler
	Guards       []hooks.Guard
	Interceptors []hooks.Interceptor
	Catchers     []hooks.Catcher
}

// ConfigDefault is the configuration used for every zero field of Config.
var ConfigDefault = Config{
	ReadLimit:            1 << 20,
	WriteTimeout:         10 * time.Second,
	HandshakeTimeout:     10 * time.Second,
	CloseTimeout:         2 * time.Second,
	QueueSize:            16,
	QueueBytes:           1 << 20,
	ReadBufferSize:       1024,
	WriteBufferSize:      1024,
	ShutdownTimeout:      5 * time.Second,
	MaxConnections:       10000,
	MessageTimeout:       10 * time.Second,
	PartialMessageBudget: 32 << 20,
}

func configDefault(config ...Config) Config {
	var cfg Config
	if len(config) > 0 {
		cfg = config[0]
	}
	d := ConfigDefault
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = d.ReadLimit
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = d.HandshakeTimeout
	}
	if cfg.CloseTimeout <= 0 {
		cfg.CloseTimeout = d.CloseTimeout
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = d.QueueSize
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = d.QueueBytes
	}
	if cfg.ReadBufferSize <= 0 {
		cfg.ReadBufferSize = d.ReadBufferSize
	}
	if cfg.WriteBufferSize <= 0 {
		cfg.WriteBufferSize = d.WriteBufferSize
	}
	if cfg.MaxConnections == 0 {
		cfg.MaxConnections = d.MaxConnections
	}
	if cfg.MessageTimeout == 0 {
		cfg.MessageTimeout = d.MessageTimeout
	}
	if cfg.PartialMessageBudget <= 0 {
		cfg.PartialMessageBudget = d.PartialMessageBudget
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = d.ShutdownTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = d.Logger
	}
	return cfg
}
