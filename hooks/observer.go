package hooks

import (
	"context"
	"log/slog"
	"time"
)

// Observer watches connections without taking part in them: it is told when
// an upgrade is requested and handed a Summary when the connection (or the
// rejected request) ends.
//
// OnRequest runs on the request goroutine before any middleware, so keep it
// quick; OnSummary runs on the connection's goroutine after its cleanups.
// A panic in either is recovered and logged; it affects nothing else.
type Observer interface {
	OnRequest(r Request)
	OnSummary(s Summary)
}

// LiveObserver is an Observer that also watches each route as it runs:
// metrics (package metrics/prometheus) that move while connections are
// open, not only when they close. Route is called once per route when it
// is mounted, with its pattern ("/ws/:room"); the RouteObserver it
// returns (nil: none) hears of that route's connections and messages.
// Routes without a LiveObserver pay nothing for the feature.
type LiveObserver interface {
	Observer
	Route(pattern string) RouteObserver
}

// RouteObserver hears of one route's connections and messages as they
// happen. Its methods run on the connections' goroutines, in the message
// path, concurrently: keep each to the cost of a counter.
type RouteObserver interface {
	// Opened: a request became a connection (after the upgrade).
	Opened()
	// Received: a data message of n payload bytes arrived; Sent: one was
	// written.
	Received(n int)
	Sent(n int)
	// Handled: the handler (with the interceptors) took d for one message
	// or the on-connect trigger.
	Handled(d time.Duration)
	// Event: an event route's handler for event name ran (registered
	// names only, and AckEvent for the clients' answers to asks).
	Event(name string)
	// Closed: the connection has wound down; s is its summary, as
	// OnSummary gets it.
	Closed(s Summary)
}

// ClosedBy tells which side ended a connection.
type ClosedBy string

const (
	// ByServer: the handler, a catcher or a limit closed the connection.
	ByServer ClosedBy = "server"
	// ByClient: the client sent a close frame or dropped the connection.
	ByClient ClosedBy = "client"
	// ByTimeout: the client did not answer pings or a deadline passed.
	ByTimeout ClosedBy = "timeout"
	// ByShutdown: the server shut down.
	ByShutdown ClosedBy = "shutdown"
	// Rejected: the request never became a connection: a guard, middleware
	// or the origin check answered it with an HTTP response, or fiberws did
	// (426 for a plain GET, 503 over a connection cap or while shutting
	// down).
	Rejected ClosedBy = "rejected"
)

// Summary is the account of one connection (or rejected upgrade request).
type Summary struct {
	// Route is the route pattern; Path the request path; Params its parameters.
	Route, Path string
	Params      map[string]string
	// IP is the client's address.
	IP string
	// Start is when the request arrived; Duration how long it lived.
	Start    time.Time
	Duration time.Duration
	// Status is the HTTP status of a rejected request (0 once upgraded).
	Status int
	// CloseCode is the WebSocket close code (1006 when the TCP connection
	// dropped without a close frame); CloseReason its reason.
	CloseCode   int
	CloseReason string
	// ClosedBy tells which side ended it.
	ClosedBy ClosedBy
	// MessagesIn/Out count data messages; BytesIn/Out their payload bytes.
	MessagesIn, MessagesOut int64
	BytesIn, BytesOut       int64
	// Events counts, on an event route, the messages handled per event
	// name (the clients' answers to Ask as "ack"; unknown events are not
	// counted); nil on other routes.
	Events map[string]int64
	// Err is the error that closed the connection, if any (never shown to
	// the client).
	Err error
}

// SlogObserver logs one line per connection summary. The level is Info
// for what is part of normal operation, including requests refused before
// the upgrade with a 4xx status (401, 403, 426, 429), closes the app chose
// (a CloseError's code, a 4000), and clients that break the protocol or a
// limit (1002, 1007, 1008, 1009); Warn only when the server failed: a 5xx
// status (over capacity, shutting down) or 1011 (a handler error or
// panic). The error, when there is one, is an attribute either way. A nil
// logger means slog.Default().
func SlogObserver(logger *slog.Logger) Observer {
	return slogObserver{logger: logger}
}

type slogObserver struct{ logger *slog.Logger }

// OnRequest does nothing: the summary line says everything.
func (o slogObserver) OnRequest(Request) {}

// OnSummary logs the summary as one line.
func (o slogObserver) OnSummary(s Summary) {
	logger := o.logger
	if logger == nil {
		logger = slog.Default()
	}
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("route", s.Route),
		slog.String("path", s.Path),
		slog.String("ip", s.IP),
		slog.Duration("duration", s.Duration),
		slog.String("closed_by", string(s.ClosedBy)),
	}
	if s.Status != 0 {
		attrs = append(attrs, slog.Int("status", s.Status))
	} else {
		attrs = append(attrs,
			slog.Int("close_code", s.CloseCode),
			slog.Int64("msgs_in", s.MessagesIn), slog.Int64("msgs_out", s.MessagesOut),
			slog.Int64("bytes_in", s.BytesIn), slog.Int64("bytes_out", s.BytesOut))
	}
	if s.Status >= 500 || s.CloseCode == 1011 {
		level = slog.LevelWarn
	}
	if s.Err != nil {
		attrs = append(attrs, slog.String("error", s.Err.Error()))
	}
	logger.LogAttrs(context.Background(), level, "websocket closed", attrs...)
}
