// Package fiberws gives Fiber v2 apps declarative, controller-based
// WebSocket routes: you write typed handlers, fiberws runs the connections.
//
// # Controllers and routes
//
// A controller is any type with a path prefix and a list of routes. Each
// route is built by a constructor that fixes its mode and its message types
// (the Go form of revali's @WebSocket annotations):
//
//	type Chat struct{}
//
//	func (Chat) Prefix() string { return "/chat" }
//
//	func (c Chat) Routes() []fiberws.Route {
//		return []fiberws.Route{
//			fiberws.WebSocket("/messages", c.echo),                      // two-way
//			fiberws.ReceiveOnly("/logs", c.log),                         // never sends
//			fiberws.SendOnly("/motd", c.motd),                           // sends, then closes 1000
//			fiberws.WebSocket("/hello", c.hello, fiberws.OnConnect()),   // also runs at connect
//			fiberws.Ping("/heartbeat", 30*time.Second, c.echo),          // server pings
//		}
//	}
//
//	func (Chat) echo(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
//		return "Echo: " + msg, nil
//	}
//
//	app := fiber.New()
//	if err := fiberws.Register(app, Chat{}); err != nil { // ws://host/chat/messages …
//		log.Fatal(err)
//	}
//
// Register checks every route first and returns an error naming the
// controller and path of each problem; nothing panics. A plain GET on a
// WebSocket route gets 426 Upgrade Required.
//
// # Typed messages
//
// The handler's body type decides how frames are decoded and its result
// type how replies are encoded, with no reflection per message:
//
//   - string: the payload as text; []byte: the raw payload (yours to keep);
//   - *string, *[]byte, *T: the same, allocated; nil on the on-connect trigger;
//   - any other type: JSON (github.com/goccy/go-json);
//   - results: string is a text frame, []byte a binary frame, a nil pointer
//     sends nothing, anything else is a JSON text frame;
//   - WebSocketStream and SendOnlyStream handlers return an iter.Seq: one
//     message per element, in order, stopping when the connection closes.
//
// A text frame that is not valid UTF-8 closes the connection with 1007; a
// payload that does not decode closes it with 1007 "invalid message
// payload" (unless a catcher decides otherwise).
//
// # The connection
//
// Two-way and send-only handlers get a *Conn[T], where T is their result
// type: Conn.Send pushes more messages of that type from any goroutine (the
// typed AsyncWebSocketSender of revali). Receive-only handlers get a
// *Session, which has everything but Send. Both give the upgrade request's
// Params, Query, Header, Cookie and IP, Locals (every local a middleware
// set, and per-connection data of your own, safe from any goroutine), a
// Context that carries the request's user-context values and is cancelled
// when the connection closes, the negotiated Subprotocol, Close(code,
// reason), and Cleanup(func()) for work that must run once the connection
// is gone. OnOpen and OnClose run typed code when a connection opens and
// once it has closed (with the code and who closed it).
//
// From outside a handler, Server.Session finds a live connection by ID and
// ConnOf gives its typed sender; Server.Broadcast writes to every
// connection of a route; package hub adds rooms, presence and history, on
// one node or many. Session.Raw lends the raw connection under the write
// lock, for what fiberws does not wrap.
//
// Contrib serves a route with a gofiber/contrib/websocket handler as it
// is, inside the lifecycle below: the migration path from contrib.
//
// Messages of one connection are handled one at a time in arrival order,
// and replies leave in that order. Quick handlers run on the goroutine that
// reads the connection (no hand-off per message); a handler still running
// after one to two milliseconds makes reading move to a goroutine of its
// own, so a slow handler does not stop the connection from answering pings
// or from noticing that the client left; once the queued messages are
// handled, reading comes back to the first goroutine. At most Config.QueueSize messages
// (Config.QueueBytes bytes) wait behind a slow handler, then reading
// pauses; while it waits, the pong timeout stands still. All writes of a
// connection are serialized and bounded by Config.WriteTimeout (waiting
// for another writer included); after the connection closes, Send returns
// ErrClosed.
//
// # Events
//
// Events builds a gateway-style route: one socket carries many kinds of
// message, envelopes {"event":NAME,"data":…,"id":N} that On dispatches by
// name to typed handlers, each with its own data and result types. The
// result is the acknowledgement, sent back with the request's id. Data is
// validated (Validator; NewValidator's struct tags by default), and an
// unknown event, data that does not decode or validate, and an
// ErrorReply are answered with an error event while the connection stays
// open. Ask sends the client a request and waits, bounded, for its
// acknowledgement. Interceptors see Message.Event, catchers an
// *EventError, observers Summary.Events; WithEventFormat changes the
// framing. Config.Validator also validates the typed bodies of ordinary
// routes.
//
// # Closing
//
// Close(code, reason), a returned *CloseError, a catcher's decision or the
// end of a send-only handler start the close handshake. Codes are checked
// (ValidCloseCode), reasons cut to 123 bytes at a UTF-8 boundary, the first
// close wins. Errors and panics close with 1011 "internal error"; their
// text goes to the log (log/slog), never to the client. Cleanups run after
// the socket is closed and the handler has returned, last registered first.
//
// # Lifecycle
//
// For each connection: observers hear of the request; middleware (plain
// fiber.Handlers) and guards run before the upgrade (a guard rejection is a
// real HTTP response); the origin is checked; after the upgrade,
// interceptors wrap the on-connect trigger and every message (Pre before
// the handler, Post around every outgoing message); catchers turn errors
// into a close code or a reply; then cleanups run and observers get a
// Summary.
//
// Catchers see the errors of the handler, of decoding and of the
// pre-interceptors, on the goroutine that runs the handler. Errors of
// Send (encoding, a post-interceptor's rejection) are returned to its
// caller, never also handed to the catchers: return them from the
// handler, or pass them to Session.Fail from another goroutine, and the
// catchers run once. Each kind can be set for the app (Config) and a controller
// (ControllerGuards and friends); all but observers also for a route
// (WithGuards and friends). See package hooks.
//
// # Keep-alive and shutdown
//
// Ping and WithPing make the server ping every interval and close with 1001
// when no pong arrives in time; one scheduler per route does it, not a
// timer per connection. When the Fiber app a Server was registered on
// shuts down (registered on the app or a group of it, or used through
// Server.Handler), every connection gets 1001 "server shutting down" as
// soon as the shutdown begins, and runs its cleanups; Server.Shutdown
// shuts the routes down on their own.
//
// # Limits
//
// Every limit has a default (ConfigDefault) and most a route option:
// message size (ReadLimit, 1009 "message too big"), open connections per Server, route and
// client address (503 or 429 before the upgrade), message rate (1008),
// idle time (1001), the time a message may take to arrive
// (MessageTimeout, 1008) and the memory all messages still arriving may
// hold together (PartialMessageBudget, 1013). Fiber's own ReadTimeout and
// Concurrency, and package listener, protect what comes before the
// upgrade. SECURITY.md lists them all, with the production setup.
//
// # Metrics
//
// An observer that is a hooks.LiveObserver hears every connection and
// message of each route as it happens, not only the summary at close:
// package metrics/prometheus is one, exporting live Prometheus metrics
// labelled by route pattern. Routes without one pay nothing for it.
//
// # Documenting
//
// WithDoc gives a route a title, summary and description and names the
// query parameters and headers its upgrade reads; a controller's Doc()
// does the same for its routes. Server.Routes lists what is mounted, with
// the settings in force. Package middleware/asyncapi turns that into an
// AsyncAPI 3 document and serves it with a page (/asyncapi).
//
// # Testing
//
// Package fiberwstest serves an app on a loopback port and dials it with a
// real WebSocket client, every wait bounded.
package fiberws
