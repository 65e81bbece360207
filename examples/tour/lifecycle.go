package main

import (
	"context"
	"slices"
	"sync"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
	"github.com/gofiber/fiber/v2"
)

// LifecycleController mirrors "WebSocket Lifecycle": /lifecycle/trace
// replies, on connect and to each message, with the stages that have run
// for the connection so far. It uses every kind of lifecycle component:
//
//	middleware            traceMiddleware, route scope: starts the trace
//	guard                 tokenGuard, route scope: ?token=letmein or 403
//	pre:app / post:app    stageRecorder("app"), in fiberws.Config (app.go)
//	pre:controller / …    stageRecorder("controller"), from Interceptors below
//	pre:route / …         stageRecorder("route"), fiberws.WithInterceptors
//	handler               handleTrace
//
// Observers (app.go) also run, first and last, but outside the trace: they
// watch connections without taking part.
//
// What "so far" means: a reply is made by the handler, and the
// post-interceptors run on it after that, as it goes out. So the array in
// a reply ends with "handler" and lists the post stages of the earlier
// replies only. On connect the reply is
//
//	["middleware","guard","pre:app","pre:controller","pre:route","handler"]
//
// and the reply to the n-th message is the previous reply, then
// "post:route","post:controller","post:app" (the previous reply going
// out), then "pre:app","pre:controller","pre:route","handler".
type LifecycleController struct{}

// Prefix puts the route under /lifecycle.
func (LifecycleController) Prefix() string { return "/lifecycle" }

// Interceptors are the controller-scope interceptors: their Pre runs after
// the app's, their Post before the app's.
func (LifecycleController) Interceptors() []hooks.Interceptor {
	return []hooks.Interceptor{stageRecorder("controller")}
}

// Routes lists /lifecycle/trace.
func (c LifecycleController) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/trace", c.handleTrace,
			fiberws.OnConnect(),
			fiberws.WithMiddleware(traceMiddleware),
			fiberws.WithGuards(tokenGuard),
			fiberws.WithInterceptors(stageRecorder("route")),
		),
	}
}

// handleTrace records itself and replies with the trace as a JSON array
// (a []string result is encoded as JSON).
func (LifecycleController) handleTrace(_ context.Context, conn *fiberws.Conn[[]string], _ *string) ([]string, error) {
	t := traceOf(conn)
	t.add("handler")
	return t.snapshot(), nil
}

// trace is the list of stages run for one connection. The middleware
// creates it and stores the pointer in the request's locals; fiberws copies
// the locals into the connection, so the interceptors and the handler find
// the same trace with conn.Locals(traceKey).
type trace struct {
	mu     sync.Mutex
	stages []string
}

const traceKey = "tour.trace"

func (t *trace) add(stage string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stages = append(t.stages, stage)
}

func (t *trace) snapshot() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.stages)
}

// traceOf returns the connection's trace, or nil on connections that have
// none (every route but /lifecycle/trace).
func traceOf(c hooks.Peer) *trace {
	t, _ := c.Locals(traceKey).(*trace)
	return t
}

// traceMiddleware is plain Fiber middleware, run on the upgrade request
// before the guards.
func traceMiddleware(c *fiber.Ctx) error {
	t := &trace{}
	t.add("middleware")
	c.Locals(traceKey, t)
	return c.Next()
}

// tokenGuard lets the upgrade happen only with ?token=letmein. Its
// rejection is a real HTTP response, 403, and the connection is never
// upgraded.
var tokenGuard = hooks.GuardFunc(func(c *fiber.Ctx) error {
	if c.Query("token") != "letmein" {
		return fiber.ErrForbidden
	}
	if t, ok := c.Locals(traceKey).(*trace); ok {
		t.add("guard")
	}
	return nil
})

// stageRecorder is an interceptor that records "pre:<scope>" before the
// handler and "post:<scope>" for each outgoing message, on connections
// that carry a trace; elsewhere it does nothing.
type stageRecorder string

// Pre records "pre:<scope>".
func (s stageRecorder) Pre(_ context.Context, c hooks.Peer, _ *hooks.Message) error {
	if t := traceOf(c); t != nil {
		t.add("pre:" + string(s))
	}
	return nil
}

// Post records "post:<scope>".
func (s stageRecorder) Post(_ context.Context, c hooks.Peer, _ *hooks.Message) error {
	if t := traceOf(c); t != nil {
		t.add("post:" + string(s))
	}
	return nil
}
