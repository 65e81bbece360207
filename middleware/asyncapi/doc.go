// Package asyncapi documents a fiberws Server's WebSocket routes as an
// AsyncAPI 3.0.0 document, and serves it, Fiber style, with a page to
// browse it:
//
//	srv := fiberws.New()
//	_ = srv.Register(app, Chat{})
//	app.Use(asyncapi.New(asyncapi.Config{
//		Server: srv,
//		Info:   asyncapi.Info{Title: "Chat", Version: "1.2.0"},
//	}))
//
// GET /asyncapi is the page (self-contained HTML: it loads nothing, so it
// works offline), /asyncapi.json and /asyncapi.yaml the document. Generate
// returns the same document for tests and go generate.
//
// # What the document says
//
// Every route is a channel whose address is its Fiber pattern with
// parameters written {name} (":room" is "{room}", "*" is "{wildcard1}"),
// each listed under parameters. Operations follow the mode, from the
// server's side as AsyncAPI has it: a two-way route has a receive
// operation (what clients send) and a send operation (what the server
// sends), a receive-only route only the first, a send-only route only the
// second. Messages carry the handler's types: a string is text/plain, a
// []byte application/octet-stream, anything else application/json with a
// JSON Schema derived by github.com/invopop/jsonschema (json tags name
// properties; jsonschema tags add titles, formats and bounds), named
// struct types under components.schemas. A property is required when its
// validate tag says "required", as fiberws's validator checks it.
//
// An event route (fiberws.Events) has one message per event, the
// {"event", "data", "id"} envelope with the event's data schema, and one
// receive operation per event whose reply is its acknowledgement (the
// handler's result with the request's id) or the error reply.
//
// What fiberws enforces is written as extensions of the channel:
// x-fiberws-mode, x-fiberws-ping (interval and pong timeout),
// x-fiberws-on-connect, x-fiberws-stream, x-fiberws-events and
// x-fiberws-limits (read limit, connection caps, message rate, timeouts,
// subprotocols, compression). The ws binding gives the upgrade's method
// and the query parameters and headers that fiberws.WithDoc (or the
// controller's Doc) declares. Titles, summaries and descriptions come
// from the same Doc; a controller is a tag.
package asyncapi
