package fiberws

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Controller groups WebSocket routes under a common path prefix, the Go form
// of a revali @Controller. Register mounts each controller as a Fiber group
// and each of its routes as a GET on that group.
//
//	type Chat struct{}
//
//	func (Chat) Prefix() string { return "/chat" }
//	func (c Chat) Routes() []fiberws.Route {
//		return []fiberws.Route{fiberws.WebSocket("/messages", c.echo)}
//	}
//
// A controller may also implement any of ControllerObservers,
// ControllerMiddleware, ControllerGuards, ControllerInterceptors and
// ControllerCatchers to add lifecycle components for all its routes.
type Controller interface {
	// Prefix is the path of the controller's group, e.g. "/chat"; "" or
	// "/" mounts the routes at the router's root.
	Prefix() string
	// Routes lists the controller's WebSocket routes.
	Routes() []Route
}

// ControllerObservers is implemented by controllers with observers of
// their own; they run after the app's.
type ControllerObservers interface{ Observers() []Observer }

// ControllerMiddleware is implemented by controllers with middleware of
// their own; it runs after the app's and before the routes'.
type ControllerMiddleware interface{ Middleware() []fiber.Handler }

// ControllerGuards is implemented by controllers with guards of their own;
// they run after the app's and before the routes'.
type ControllerGuards interface{ Guards() []Guard }

// ControllerInterceptors is implemented by controllers with interceptors of
// their own: Pre after the app's, Post before them.
type ControllerInterceptors interface{ Interceptors() []Interceptor }

// ControllerCatchers is implemented by controllers with catchers of their
// own; they see errors after the route's and before the app's.
type ControllerCatchers interface{ Catchers() []Catcher }

// Register mounts controllers on router (a *fiber.App or a group) with the
// default configuration. It is New().Register(router, controllers...).
func Register(router fiber.Router, controllers ...Controller) error {
	return New().Register(router, controllers...)
}

// Register mounts controllers on router (a *fiber.App or a group): each
// controller becomes a group at its prefix, each route a GET on it. A plain
// GET without an upgrade gets 426 Upgrade Required; other paths fall
// through to Fiber.
//
// Every route is checked before anything is mounted; the error names the
// controller and path of each problem (empty or duplicate path, nil
// handler, non-positive ping interval, options the route's mode cannot
// serve). When router is a *fiber.App, the app's shutdown also shuts this
// Server down.
func (srv *Server) Register(router fiber.Router, controllers ...Controller) error {
	mounts, err := srv.plan(controllers)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		router.Group(m.prefix).Get(m.route.path, m.handlers()...)
	}
	srv.fitPartialBudget(mounts)
	if app, ok := router.(*fiber.App); ok {
		srv.shutdownOnAppShutdown(app)
		srv.checkFileLimit(app.Config().Concurrency)
	}
	return nil
}

// Handler returns the controllers' routes as one fiber.Handler, for apps
// that mount with app.Use(h): a request for one of the routes is served
// (upgrade, middleware, guards and all); any other request goes on with
// c.Next(). Paths are matched as if registered on the app's root. Call
// Shutdown yourself when the app stops.
func (srv *Server) Handler(controllers ...Controller) (fiber.Handler, error) {
	mounts, err := srv.plan(controllers)
	if err != nil {
		return nil, err
	}
	sub := fiber.New(fiber.Config{DisableStartupMessage: true})
	for _, m := range mounts {
		sub.Group(m.prefix).Get(m.route.path, m.handlers()...)
	}
	srv.fitPartialBudget(mounts)
	const missKey = "fiberws.handler.miss"
	sub.Use(func(c *fiber.Ctx) error {
		c.Locals(missKey, true)
		return nil
	})
	serve := sub.Handler()
	return func(c *fiber.Ctx) error {
		serve(c.Context())
		if c.Locals(missKey) == true {
			c.Locals(missKey, nil)
			return c.Next()
		}
		return nil
	}, nil
}

// plan checks every route of every controller and builds their mounted
// form; nothing is registered unless all are valid.
func (srv *Server) plan(controllers []Controller) ([]*mountedRoute, error) {
	var errs []error
	var mounts []*mountedRoute
	srv.mu.Lock()
	defer srv.mu.Unlock()
	seen := map[string]string{}
	for _, ctrl := range controllers {
		if ctrl == nil {
			errs = append(errs, errors.New("fiberws: nil controller"))
			continue
		}
		name := fmt.Sprintf("%T", ctrl)
		prefix := normalizePrefix(ctrl.Prefix())
		for _, r := range ctrl.Routes() {
			full := prefix + normalizePath(r.path)
			if err := checkRoute(r); err != nil {
				errs = append(errs, fmt.Errorf("fiberws: controller %s, route %q: %w", name, r.path, err))
				continue
			}
			owner, dup := seen[full]
			if !dup {
				owner, dup = srv.paths[full]
			}
			if dup {
				errs = append(errs, fmt.Errorf("fiberws: controller %s, route %q: duplicate path %s (already used by %s)", name, r.path, full, owner))
				continue
			}
			seen[full] = name
			r.path = normalizePath(r.path)
			mounts = append(mounts, srv.mount(ctrl, prefix, r))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for full, owner := range seen {
		srv.paths[full] = owner
	}
	return mounts, nil
}

func checkRoute(r Route) error {
	switch {
	case r.bind == nil:
		return errors.New("empty route: build it with fiberws.WebSocket, ReceiveOnly, SendOnly or Ping")
	case r.err != nil:
		return r.err
	case strings.TrimSpace(r.path) == "":
		return errors.New("empty path")
	case r.pingSet && r.ping <= 0:
		return fmt.Errorf("ping interval must be positive, got %v", r.ping)
	case r.pingWait < 0:
		return fmt.Errorf("ping timeout must be positive, got %v", r.pingWait)
	case r.readLimit < 0:
		return fmt.Errorf("read limit must be positive, got %d", r.readLimit)
	case r.onConnect && r.mode == ModeSendOnly:
		return errors.New("OnConnect does not apply to a send-only route: its handler always runs at connect")
	}
	return nil
}

func normalizePrefix(p string) string {
	p = strings.TrimRight(strings.TrimSpace(p), "/")
	if p != "" && !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}

func normalizePath(p string) string {
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return p
}
