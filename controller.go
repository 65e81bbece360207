package fiberws

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/fiberws/fiberws/hooks"
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
type ControllerObservers interface{ Observers() []hooks.Observer }

// ControllerMiddleware is implemented by controllers with middleware of
// their own; it runs after the app's and before the routes'.
type ControllerMiddleware interface{ Middleware() []fiber.Handler }

// ControllerGuards is implemented by controllers with guards of their own;
// they run after the app's and before the routes'.
type ControllerGuards interface{ Guards() []hooks.Guard }

// ControllerInterceptors is implemented by controllers with interceptors of
// their own: Pre after the app's, Post before them.
type ControllerInterceptors interface{ Interceptors() []hooks.Interceptor }

// ControllerCatchers is implemented by controllers with catchers of their
// own; they see errors after the route's and before the app's.
type ControllerCatchers interface{ Catchers() []hooks.Catcher }

// Register mounts controllers on router (a *fiber.App or a group) with the
// default configuration, on the one Server of router's app: every
// Register call for one app (on the app or any of its groups) shares that
// Server's connection cap, duplicate check and shutdown. Use New and
// Server.Register for a configuration of your own.
func Register(router fiber.Router, controllers ...Controller) error {
	app := appOf(router)
	if app == nil {
		return New().Register(router, controllers...)
	}
	srv, _ := appServers.LoadOrStore(app, New())
	return srv.(*Server).Register(router, controllers...)
}

// appServers holds the Server of each app that package-level Register
// was used on; an app's entry goes when the app shuts down.
var appServers sync.Map // *fiber.App -> *Server

// Register mounts controllers on router (a *fiber.App or a group): each
// controller becomes a group at its prefix, each route a GET on it. A plain
// GET without an upgrade gets 426 Upgrade Required; other paths fall
// through to Fiber.
//
// Every route is checked before anything is mounted; the error names the
// controller and path of each problem (empty path, a path the Server
// already mounted, counting the group's prefix, nil handler, non-positive
// ping interval, options the route's mode cannot serve, a controller
// method that looks like a lifecycle method but is not one). The app's
// shutdown, whether router is the app or a group of it, also shuts this
// Server down: every connection gets 1001.
func (srv *Server) Register(router fiber.Router, controllers ...Controller) error {
	base := ""
	if g, ok := router.(*fiber.Group); ok {
		base = normalizePrefix(g.Prefix)
	}
	mounts, err := srv.plan(base, controllers, true)
	if err != nil {
		return err
	}
	for _, m := range mounts {
		srv.addRoute(base+m.prefix+m.route.path, m)
		router.Group(m.prefix).Get(m.route.path, m.handlers()...)
		srv.addPattern(base + m.prefix + m.route.path)
	}
	srv.fitPartialBudget(mounts)
	if app := appOf(router); app != nil {
		srv.attach(app)
	}
	return nil
}

// addPattern records a full route pattern mounted, for Broadcast.
func (srv *Server) addPattern(pattern string) {
	srv.mu.Lock()
	srv.patterns[pattern] = true
	srv.mu.Unlock()
}

// attach ties the Server to app, once: the app's shutdown shuts it down,
// and the open-files limit is checked against the app's concurrency.
func (srv *Server) attach(app *fiber.App) {
	srv.mu.Lock()
	if srv.apps[app] {
		srv.mu.Unlock()
		return
	}
	srv.apps[app] = true
	srv.mu.Unlock()
	srv.shutdownOnAppShutdown(app)
	srv.checkFileLimit(app.Config().Concurrency)
}

// appOf is the app a router belongs to: the app itself, or a group's.
// Fiber v2 keeps a group's app unexported, so it is read by reflection;
// nil if that ever fails (a fiber.Router of another kind).
func appOf(r fiber.Router) *fiber.App {
	switch r := r.(type) {
	case *fiber.App:
		return r
	case *fiber.Group:
		if f := reflect.ValueOf(r).Elem().FieldByName("app"); f.IsValid() && f.Type() == reflect.TypeFor[*fiber.App]() {
			return (*fiber.App)(f.UnsafePointer())
		}
	}
	return nil
}

// Handler returns the controllers' routes as one fiber.Handler, for apps
// that mount with app.Use(h) or group.Use(h): a request for one of the
// routes is served (upgrade, middleware, guards and all) exactly as if
// the routes were registered where the handler is used, with the app's
// configuration (ProxyHeader, ErrorHandler…); any other request goes on
// with c.Next(). Paths are checked for duplicates among these controllers
// only. The app's shutdown shuts this Server down, as with Register.
func (srv *Server) Handler(controllers ...Controller) (fiber.Handler, error) {
	mounts, err := srv.plan("", controllers, false)
	if err != nil {
		return nil, err
	}
	srv.fitPartialBudget(mounts)
	srv.mu.Lock()
	for _, m := range mounts {
		srv.usePatterns = append(srv.usePatterns, m.prefix+m.route.path)
	}
	srv.mu.Unlock()
	for _, m := range mounts {
		srv.addRoute(m.prefix+m.route.path, m)
	}
	return (&useHandler{srv: srv, mounts: mounts}).serve, nil
}

// useHandler serves routes mounted with Use. Fiber routes only what is
// registered on the app, so each place the handler is used (an app, a
// group's prefix) gets an app of its own, made at its first request with
// the using app's configuration and the routes under that prefix.
type useHandler struct {
	srv    *Server
	mounts []*mountedRoute
	apps   sync.Map // *fiber.App + prefix -> fasthttp.RequestHandler
}

type useKey struct {
	app    *fiber.App
	prefix string
}

const useMiss = "fiberws.use.miss"

func (u *useHandler) serve(c *fiber.Ctx) error {
	key := useKey{c.App(), strings.TrimRight(c.Route().Path, "/")}
	h, ok := u.apps.Load(key)
	if !ok {
		h, _ = u.apps.LoadOrStore(key, u.build(key))
	}
	h.(fasthttp.RequestHandler)(c.Context())
	if c.Locals(useMiss) == true {
		c.Locals(useMiss, nil)
		return c.Next()
	}
	return nil
}

func (u *useHandler) build(key useKey) fasthttp.RequestHandler {
	cfg := key.app.Config()
	cfg.DisableStartupMessage = true
	sub := fiber.New(cfg)
	for _, m := range u.mounts {
		sub.Group(key.prefix+m.prefix).Get(m.route.path, m.handlers()...)
		u.srv.addPattern(key.prefix + m.prefix + m.route.path)
	}
	sub.Use(func(c *fiber.Ctx) error {
		c.Locals(useMiss, true)
		return nil
	})
	u.srv.attach(key.app)
	return sub.Handler()
}

// plan checks every route of every controller and builds their mounted
// form; nothing is registered unless all are valid. Full paths are checked
// for duplicates among controllers, and, when shared, against (and added
// to) the paths the Server mounted with Register; a Handler's are only
// known where it is used.
func (srv *Server) plan(base string, controllers []Controller, shared bool) ([]*mountedRoute, error) {
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
		for _, err := range checkLifecycleMethods(ctrl) {
			errs = append(errs, fmt.Errorf("fiberws: controller %s: %w", name, err))
		}
		prefix := normalizePrefix(ctrl.Prefix())
		for _, r := range ctrl.Routes() {
			full := base + prefix + normalizePath(r.path)
			if err := checkRoute(r); err != nil {
				errs = append(errs, fmt.Errorf("fiberws: controller %s, route %q: %w", name, r.path, err))
				continue
			}
			owner, dup := seen[full]
			if !dup && shared {
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
	if shared {
		for full, owner := range seen {
			srv.paths[full] = owner
		}
	}
	return mounts, nil
}

// lifecycleMethods are the optional methods of a controller, by name, with
// the interface each must satisfy.
var lifecycleMethods = []struct {
	name  string
	iface reflect.Type
	sig   string
}{
	{"Observers", reflect.TypeFor[ControllerObservers](), "Observers() []hooks.Observer"},
	{"Middleware", reflect.TypeFor[ControllerMiddleware](), "Middleware() []fiber.Handler"},
	{"Guards", reflect.TypeFor[ControllerGuards](), "Guards() []hooks.Guard"},
	{"Interceptors", reflect.TypeFor[ControllerInterceptors](), "Interceptors() []hooks.Interceptor"},
	{"Catchers", reflect.TypeFor[ControllerCatchers](), "Catchers() []hooks.Catcher"},
	{"OnOpen", reflect.TypeFor[ControllerOpen](), "OnOpen(ctx context.Context, s *fiberws.Session) error"},
	{"OnClose", reflect.TypeFor[ControllerClose](), "OnClose(s *fiberws.Session, info fiberws.CloseInfo)"},
}

// checkLifecycleMethods finds the methods of ctrl that look like a
// lifecycle method (Guard for Guards, a wrong signature…) but are not
// one: without this, a typo would leave a route unprotected, silently.
func checkLifecycleMethods(ctrl Controller) []error {
	var errs []error
	t := reflect.TypeOf(ctrl)
	if t.Kind() != reflect.Pointer {
		// A method of *T that T lacks is not called on a T registered by
		// value: the route would run without it.
		pt := reflect.PointerTo(t)
		for _, lm := range lifecycleMethods {
			if pt.Implements(lm.iface) && !t.Implements(lm.iface) {
				errs = append(errs, fmt.Errorf("method %s has a pointer receiver, so %s, registered by value, does not have it: register &%s{…}", lm.name, t, t.Name()))
			}
		}
	}
	stem := func(s string) string {
		s = strings.ToLower(s)
		for _, suffix := range []string{"es", "s"} {
			if t, ok := strings.CutSuffix(s, suffix); ok && len(t) > 4 {
				return t
			}
		}
		return s
	}
	for i := range t.NumMethod() {
		m := t.Method(i).Name
		for _, lm := range lifecycleMethods {
			if stem(m) == stem(lm.name) && !t.Implements(lm.iface) {
				if m == lm.name {
					errs = append(errs, fmt.Errorf("method %s has the wrong signature: want %s", m, lm.sig))
				} else {
					errs = append(errs, fmt.Errorf("method %s is not a lifecycle method: did you mean %s?", m, lm.sig))
				}
			}
		}
	}
	return errs
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
	case r.contrib != nil:
		return checkContrib(r)
	}
	if err := checkEvents(r); err != nil {
		return err
	}
	return checkOpens(r)
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
