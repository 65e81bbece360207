package fiberws_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/gofiber/fiber/v2"
)

// Helpers of the reliability tests (limits, slow consumers, shutdown,
// compression, soak). Names start with rel to stay clear of the helpers
// of other test files in this package.

// relCtrl is a controller from a prefix and routes.
type relCtrl struct {
	prefix string
	routes []fiberws.Route
}

func (c relCtrl) Prefix() string          { return c.prefix }
func (c relCtrl) Routes() []fiberws.Route { return c.routes }

// relSummaries is an Observer that keeps every connection summary.
type relSummaries struct {
	mu   sync.Mutex
	list []fiberws.Summary
	ch   chan fiberws.Summary
}

func newRelSummaries() *relSummaries { return &relSummaries{ch: make(chan fiberws.Summary, 1024)} }

func (o *relSummaries) OnRequest(hooks.Request) {}
func (o *relSummaries) OnSummary(s fiberws.Summary) {
	o.mu.Lock()
	o.list = append(o.list, s)
	o.mu.Unlock()
	select {
	case o.ch <- s:
	default:
	}
}

func (o *relSummaries) all() []fiberws.Summary {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]fiberws.Summary(nil), o.list...)
}

// next waits (bounded) for the next summary.
func (o *relSummaries) next(t testing.TB) fiberws.Summary {
	t.Helper()
	select {
	case s := <-o.ch:
		return s
	case <-time.After(fiberwstest.Timeout):
		t.Fatalf("no connection summary within %v", fiberwstest.Timeout)
	}
	return fiberws.Summary{}
}

// relServe registers routes at the root of a new app with cfg and serves
// it on a loopback port; it returns the fiberws Server too.
func relServe(t testing.TB, cfg fiberws.Config, routes ...fiberws.Route) (*fiberwstest.Server, *fiberws.Server) {
	t.Helper()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ws := fiberws.New(cfg)
	if err := ws.Register(app, relCtrl{routes: routes}); err != nil {
		t.Fatalf("register: %v", err)
	}
	return fiberwstest.Serve(t, app), ws
}

func relEcho(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
	return msg, nil
}

// relWaitConns waits until the Server has n open connections.
func relWaitConns(t testing.TB, ws *fiberws.Server, n int) {
	t.Helper()
	fiberwstest.Eventually(t, func() bool { return ws.Connections() == n }, "want %d open connections, have %d", n, ws.Connections())
}
