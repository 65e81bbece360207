package fiberws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/keepalive"
	"github.com/gofiber/fiber/v2"
)

// mountedRoute is a Route placed on a Server under a controller: its full
// lifecycle chains, resolved once at registration in scope order.
type mountedRoute struct {
	srv       *Server
	route     Route
	prefix    string
	readLimit int64
	// messageTimeout is Config.MessageTimeout or the route's own (0: off).
	messageTimeout time.Duration
	keepalive      *keepalive.Scheduler[*pinged]
	limits         *mountedLimits

	observers  []hooks.Observer
	middleware []fiber.Handler
	guards     []hooks.Guard
	pre, post  []hooks.Interceptor // pre: app, controller, route; post: reversed
	catchers   []hooks.Catcher     // route, controller, app
	origin     fiber.Handler
	upgrader   *websocket.FastHTTPUpgrader
	// opens are the controller's OnOpen and the route's, in that order;
	// closes the route's OnClose and the controller's.
	opens  []openHook
	closes []func(*Session, CloseInfo)
	// validator checks the decoded bodies (event data, on event routes);
	// nil: none. eventValidators is it per event, nil for an event whose
	// data type it has nothing to check in.
	validator       Validator
	eventValidators []Validator
	// live are the route's observers of LiveObservers (watch).
	live []hooks.RouteObserver
	// ctrlName and ctrlDoc describe the controller, for Server.Routes.
	ctrlName string
	ctrlDoc  Doc
	// warnedNotUpgraded is set once the Warn of a middleware that answered
	// without c.Next() was logged for this route.
	warnedNotUpgraded atomic.Bool
}

func (srv *Server) mount(ctrl Controller, prefix string, r Route) *mountedRoute {
	cfg := srv.cfg
	mr := &mountedRoute{srv: srv, route: r, prefix: prefix, readLimit: cfg.ReadLimit, ctrlName: fmt.Sprintf("%T", ctrl)}
	if cd, ok := ctrl.(ControllerDoc); ok {
		mr.ctrlDoc = cd.Doc()
	}
	if r.readLimit > 0 {
		mr.readLimit = r.readLimit
	}
	mr.limits = resolveLimits(cfg, r)
	mr.messageTimeout = max(cfg.MessageTimeout, 0)
	if r.limits.msgTimeoutSet {
		mr.messageTimeout = max(r.limits.msgTimeout, 0)
	}
	if r.contrib != nil {
		// Its handler reads: the limits fiberws applies while reading
		// cannot apply (Contrib).
		mr.limits.rate, mr.limits.idle, mr.messageTimeout = 0, 0, 0
	}
	if r.ping > 0 {
		mr.keepalive = keepalive.New[*pinged](r.ping, r.PingTimeout())
	}

	mr.observers = append(slices.Clone(cfg.Observers), scope[ControllerObservers](ctrl, ControllerObservers.Observers)...)
	mr.middleware = concat(cfg.Middleware, scope[ControllerMiddleware](ctrl, ControllerMiddleware.Middleware), r.middleware)
	mr.guards = concat(cfg.Guards, scope[ControllerGuards](ctrl, ControllerGuards.Guards), r.guards)
	mr.pre = concat(cfg.Interceptors, scope[ControllerInterceptors](ctrl, ControllerInterceptors.Interceptors), r.interceptors)
	mr.post = slices.Clone(mr.pre)
	slices.Reverse(mr.post)
	mr.catchers = concat(r.catchers, scope[ControllerCatchers](ctrl, ControllerCatchers.Catchers), cfg.Catchers)
	mr.validator = validatorFor(cfg, r)
	if !r.isEvents && r.in != nil {
		mr.validator = validatorOf(mr.validator, r.in)
	}
	for _, sp := range r.events {
		mr.eventValidators = append(mr.eventValidators, validatorOf(mr.validator, sp.info.Data))
	}
	mr.origin = mr.originCheck()
	mr.upgrader = mr.newUpgrader()
	if co, ok := ctrl.(ControllerOpen); ok {
		mr.opens = append(mr.opens, openHook{run: func(ctx context.Context, s *Session, _ messageHandler) error { return co.OnOpen(ctx, s) }})
	}
	mr.opens = append(mr.opens, r.opens...)
	mr.closes = slices.Clone(r.closes)
	if cc, ok := ctrl.(ControllerClose); ok {
		mr.closes = append(mr.closes, cc.OnClose)
	}
	return mr
}

// watch asks the route's LiveObservers for their RouteObservers, under the
// route's full pattern; before the route can take connections.
func (mr *mountedRoute) watch(pattern string) {
	for _, o := range mr.observers {
		if lo, ok := o.(hooks.LiveObserver); ok {
			if ro := lo.Route(pattern); ro != nil {
				mr.live = append(mr.live, ro)
			}
		}
	}
}

// scope returns the controller's components of one kind, if it has any.
func scope[I any, T any](ctrl Controller, get func(I) []T) []T {
	if c, ok := ctrl.(I); ok {
		return get(c)
	}
	return nil
}

func concat[T any](lists ...[]T) []T {
	var out []T
	for _, l := range lists {
		for _, v := range l {
			if any(v) != nil {
				out = append(out, v)
			}
		}
	}
	return out
}

// handlers is the Fiber chain of the route, in lifecycle order: observers
// (entry), middleware, guards, origin check, upgrade.
func (mr *mountedRoute) handlers() []fiber.Handler {
	hs := []fiber.Handler{mr.entry}
	hs = append(hs, mr.middleware...)
	if len(mr.guards) > 0 {
		hs = append(hs, mr.guard)
	}
	return append(hs, mr.origin, mr.upgrade)
}

// localRequest holds when the request arrived; localUpgrade marks that it
// got as far as the upgrade, past the middleware and guards.
const (
	localRequest = "fiberws.request"
	localUpgrade = "fiberws.upgrade"
)

// ErrNotUpgraded is the summary's Err of a request that a middleware
// answered itself, without calling c.Next(): the client got that answer,
// not an upgrade (a browser reports a bare "bad handshake").
var ErrNotUpgraded = errors.New("fiberws: a middleware answered the request without calling c.Next(), so it was never upgraded")

// entry starts the lifecycle: it tells the observers of the request and,
// if the request ends without an upgrade, gives them its summary.
func (mr *mountedRoute) entry(c *fiber.Ctx) error {
	start := time.Now()
	c.Locals(localRequest, start)
	if len(mr.observers) > 0 {
		mr.observeRequest(c)
	}
	err := c.Next()
	status := c.Response().StatusCode()
	if status == fiber.StatusSwitchingProtocols {
		return err
	}
	summaryErr := err
	var fe *fiber.Error
	switch {
	case errors.As(err, &fe):
		status = fe.Code
	case err != nil:
		status = fiber.StatusInternalServerError
	case c.Locals(localUpgrade) == nil && status < 400:
		// Nobody rejected it, yet it never reached the upgrade: a
		// middleware wrote a success and returned without c.Next(). Said
		// once per route (a client can repeat the request at will).
		level := slog.LevelDebug
		if mr.warnedNotUpgraded.CompareAndSwap(false, true) {
			level = slog.LevelWarn
		}
		mr.srv.logger().Log(context.Background(), level, "fiberws: a middleware answered a WebSocket request without calling c.Next(); the client gets no upgrade",
			"route", c.Route().Path, "status", status)
		summaryErr = ErrNotUpgraded
	}
	// A middleware that rejects by writing a 4xx or 5xx itself (Fiber's
	// basicauth, limiter) is a rejection like a guard's.
	if len(mr.observers) > 0 {
		mr.observeSummary(hooks.Summary{
			Route: c.Route().Path, Path: c.Path(), Params: paramMap(c), IP: c.IP(),
			Start: start, Duration: time.Since(start), Status: status,
			ClosedBy: hooks.Rejected, Err: summaryErr,
		})
	}
	return err
}

func (mr *mountedRoute) observeRequest(c *fiber.Ctx) {
	req := hooks.Request{Route: c.Route().Path, Path: c.Path(), Params: paramMap(c), IP: c.IP(), Header: http.Header{}}
	c.Request().Header.VisitAll(func(k, v []byte) {
		req.Header.Add(string(k), string(v))
	})
	for _, o := range mr.observers {
		mr.callObserver(func() { o.OnRequest(req) })
	}
}

func (mr *mountedRoute) observeSummary(s hooks.Summary) {
	for _, o := range mr.observers {
		mr.callObserver(func() { o.OnSummary(s) })
	}
}

func (mr *mountedRoute) callObserver(f func()) {
	var err error
	func() {
		defer recoverAs(&err)
		f()
	}()
	if err != nil {
		mr.srv.logger().Error("fiberws: observer panicked", "route", mr.prefix+mr.route.path, "error", err)
	}
}

// guard runs the guards in scope order; the first rejection answers the
// request: a *fiber.Error with its status and message, anything else 403.
func (mr *mountedRoute) guard(c *fiber.Ctx) error {
	for _, g := range mr.guards {
		err := callGuard(g, c)
		if err == nil {
			continue
		}
		var fe *fiber.Error
		if errors.As(err, &fe) {
			return fe
		}
		mr.srv.logger().Info("fiberws: guard rejected request", "route", c.Route().Path, "error", err)
		return fiber.ErrForbidden
	}
	return c.Next()
}

func callGuard(g hooks.Guard, c *fiber.Ctx) (err error) {
	defer recoverAs(&err)
	return g.Allow(c)
}

// upgrade switches the request to the WebSocket protocol and hands the
// connection to serve on the goroutine fasthttp hijacks it to.
func (mr *mountedRoute) upgrade(c *fiber.Ctx) error {
	c.Locals(localUpgrade, true)
	if !websocket.FastHTTPIsWebSocketUpgrade(c.Context()) {
		c.Set(fiber.HeaderUpgrade, "websocket")
		c.Set(fiber.HeaderConnection, "Upgrade")
		return fiber.ErrUpgradeRequired
	}
	mr.srv.watchShutdown(c.Context().Done())
	if mr.srv.shuttingDown() {
		return fiber.ErrServiceUnavailable
	}
	if err := mr.admit(c); err != nil {
		return err
	}
	req := captureRequest(c)
	// The upgrader ignores HandshakeTimeout; bound the 101 response write
	// here. fasthttp clears the deadline when it hijacks the connection.
	_ = c.Context().Conn().SetWriteDeadline(time.Now().Add(mr.srv.cfg.HandshakeTimeout))
	if mr.route.contrib != nil {
		return mr.upgradeContrib(c, req)
	}
	if err := mr.upgrader.Upgrade(c.Context(), func(ws *websocket.Conn) {
		mr.serve(ws, req)
	}); err != nil {
		// The upgrader has set the handshake error response. The connection
		// stays an HTTP keep-alive one: lift the handshake deadline.
		_ = c.Context().Conn().SetWriteDeadline(time.Time{})
		return nil
	}
	return nil
}
