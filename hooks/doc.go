// Package hooks holds the lifecycle components of a fiberws connection:
// observers, guards, interceptors and catchers, the small types they share
// (Message, Peer, Request, Outcome, Summary), and ready pieces
// (SlogObserver, GuardFunc, PreFunc, PostFunc, CatchAs, CatchIs, ErrDrop).
//
// The hooks run in this order for every connection:
//
//  1. Observer.OnRequest, when the upgrade request arrives.
//  2. Middleware: plain fiber.Handlers (not defined here; they are just fiber.Handler).
//  3. Guard.Allow, before the upgrade. A rejection writes an HTTP response.
//  4. The origin check, then the upgrade.
//  5. The on-connect trigger (if the route has one): Interceptor.Pre, the
//     handler, Interceptor.Post for each outgoing message.
//  6. For each incoming message: Interceptor.Pre, the handler,
//     Interceptor.Post for each outgoing message (replies, stream elements
//     and sends from other goroutines).
//  7. Close, the connection's cleanups, then Observer.OnSummary.
//
// Each kind can be set for the whole app and for a controller; all but
// observers also for a route.
// Scopes run app, then controller, then route; post-interceptors run in the
// reverse order; catchers run route, then controller, then app, then the
// default (a *fiberws.CloseError closes with its code, a decode error with
// 1007, anything else with 1011 "internal error").
//
// These types have one import path, this package: fiberws's API takes them
// as hooks.Observer, hooks.Message and so on, and does not re-export them.
// The view interceptors and catchers get of a connection is hooks.Peer
// (fiberws.Session implements it; fiberws.Conn is the typed connection of a
// handler).
package hooks
