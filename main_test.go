package fiberws_test

import (
	"context"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"
)

// TestMain fails the root package if any test leaves a goroutine behind:
// every connection, keep-alive scheduler and server must be gone once the
// tests (and their t.Cleanup shutdowns) are done. fiberwstest.LeakOptions
// lists the goroutines of the libraries underneath that outlive a test on
// purpose.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

// ctrl is a controller built from a prefix and a list of routes, so each
// test declares exactly the routes it needs.
type ctrl struct {
	prefix string
	routes []fiberws.Route
}

func (c ctrl) Prefix() string          { return c.prefix }
func (c ctrl) Routes() []fiberws.Route { return c.routes }

// otherCtrl is a second controller type, for errors that must name it.
type otherCtrl struct{ ctrl }

func newApp() *fiber.App { return fiber.New(fiber.Config{DisableStartupMessage: true}) }

// harness is a running app with one fiberws Server on it.
type harness struct {
	*fiberwstest.Server
	ws   *fiberws.Server
	logs *fiberwstest.Log
}

// start registers controllers with a Server made from cfg (logging into a
// buffer unless cfg has a logger) and serves the app on a loopback port.
func start(t *testing.T, cfg fiberws.Config, controllers ...fiberws.Controller) *harness {
	t.Helper()
	app := newApp()
	return startOn(t, app, cfg, controllers...)
}

func startOn(t *testing.T, app *fiber.App, cfg fiberws.Config, controllers ...fiberws.Controller) *harness {
	t.Helper()
	h := &harness{}
	if cfg.Logger == nil {
		cfg.Logger, h.logs = fiberwstest.NewLog(t)
	}
	h.ws = fiberws.New(cfg)
	if err := h.ws.Register(app, controllers...); err != nil {
		t.Fatalf("register: %v", err)
	}
	h.Server = fiberwstest.Serve(t, app)
	return h
}

// serveRoutes serves routes at the root with the default configuration.
func serveRoutes(t *testing.T, routes ...fiberws.Route) *harness {
	t.Helper()
	return serveWith(t, fiberws.Config{}, routes...)
}

// serveWith serves routes at the root with a Server made from cfg.
func serveWith(t *testing.T, cfg fiberws.Config, routes ...fiberws.Route) *harness {
	t.Helper()
	return start(t, cfg, ctrl{routes: routes})
}

// waitIdle waits until the Server has no connection left: their handlers
// have returned and their cleanups have run.
func (h *harness) waitIdle(t *testing.T) {
	t.Helper()
	fiberwstest.Eventually(t, func() bool { return h.ws.Connections() == 0 }, "connections still open: %d", fiberwstest.Later(func() any { return h.ws.Connections() }))
}

// mirror replies with the message itself.
func mirror(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
	return msg, nil
}

func echo(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
	return "echo " + msg, nil
}

// recv waits (bounded) for a value on ch.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(fiberwstest.DefaultTimeout):
		t.Fatalf("timed out after %v waiting for %s", fiberwstest.DefaultTimeout, what)
	}
	var zero T
	return zero
}

// closed reports whether ch is closed within d.
func closedWithin(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	case <-time.After(d):
		return false
	}
}
