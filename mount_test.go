package fiberws_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/gofiber/fiber/v2"
)

// Tests of how fiberws fits in a Fiber app: groups, Use, shutdown,
// context, locals, open and close hooks.

// TestPackageRegisterOnGroupShutsDown: package-level Register on a group
// shares the app's Server, and the app's shutdown closes its connections
// with 1001, as for the app itself.
func TestPackageRegisterOnGroupShutsDown(t *testing.T) {
	app := newApp()
	api := app.Group("/api")
	if err := fiberws.Register(api, ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.WebSocket("/ws", echo)}}); err != nil {
		t.Fatal(err)
	}
	if err := fiberws.Register(app.Group("/other"), ctrl{prefix: "/b", routes: []fiberws.Route{fiberws.WebSocket("/ws", echo)}}); err != nil {
		t.Fatal(err)
	}
	// One Server for the app: the same path through two package-level
	// Register calls is a duplicate.
	if err := fiberws.Register(app.Group("/api"), ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.WebSocket("/ws", echo)}}); err == nil || !strings.Contains(err.Error(), "duplicate path /api/a/ws") {
		t.Fatalf("a second Register of /api/a/ws: %v, want a duplicate", err)
	}
	srv := fiberwstest.Serve(t, app)
	a, b := srv.Dial(t, "/api/a/ws"), srv.Dial(t, "/other/b/ws")
	if err := srv.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*fiberwstest.Client{a, b} {
		if code, reason := c.ExpectClose(); code != fiberws.CloseGoingAway || reason != "server shutting down" {
			t.Fatalf("got %d %q, want 1001 server shutting down", code, reason)
		}
	}
}

// TestDuplicatesCountTheGroupPrefix: one controller on /v1 and on /v2 is
// two routes; twice on /v1 is a duplicate.
func TestDuplicatesCountTheGroupPrefix(t *testing.T) {
	app := newApp()
	ws := fiberws.New()
	c := ctrl{prefix: "/chat", routes: []fiberws.Route{fiberws.WebSocket("/ws", echo)}}
	if err := ws.Register(app.Group("/v1"), c); err != nil {
		t.Fatal(err)
	}
	if err := ws.Register(app.Group("/v2"), c); err != nil {
		t.Fatalf("the same controller on /v2: %v", err)
	}
	err := ws.Register(app.Group("/v1"), c)
	if err == nil || !strings.Contains(err.Error(), "duplicate path /v1/chat/ws") {
		t.Fatalf("twice on /v1: %v, want a duplicate of /v1/chat/ws", err)
	}
	// A Handler's paths are only known where it is used: the same
	// controller as a Handler is no duplicate of the registered ones.
	if _, err := ws.Handler(c); err != nil {
		t.Fatalf("the same controller as a Handler: %v", err)
	}
	srv := fiberwstest.Serve(t, app)
	for _, p := range []string{"/v1/chat/ws", "/v2/chat/ws"} {
		cl := srv.Dial(t, p)
		cl.SendText("x")
		if got := cl.ReadText(); got != "echo x" {
			t.Fatalf("%s: %q", p, got)
		}
	}
}

// TestUseOnAGroupBehavesAsRegistered: Server.Handler used on a group
// serves the routes under the group's prefix, with the app's ProxyHeader
// (the client's address) and ErrorHandler (a guard's rejection).
func TestUseOnAGroupBehavesAsRegistered(t *testing.T) {
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		ProxyHeader:           "X-Real-Ip",
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			var fe *fiber.Error
			if errors.As(err, &fe) {
				return c.Status(fe.Code).SendString("app handler: " + fe.Message)
			}
			return c.Status(500).SendString("app handler")
		},
	})
	ips := make(chan string, 1)
	ws := fiberws.New()
	h, err := ws.Handler(ctrl{prefix: "/chat", routes: []fiberws.Route{
		fiberws.WebSocket("/ws", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			ips <- c.IP()
			return "echo " + msg, nil
		}, fiberws.WithGuards(hooks.GuardFunc(func(c *fiber.Ctx) error {
			if c.Query("token") != "ok" {
				return fiber.NewError(fiber.StatusUnauthorized, "token required")
			}
			return nil
		}))),
	}})
	if err != nil {
		t.Fatal(err)
	}
	api := app.Group("/api")
	api.Use(h)
	api.Get("/plain", func(c *fiber.Ctx) error { return c.SendString("plain") })
	srv := fiberwstest.Serve(t, app)

	c := srv.Dial(t, "/api/chat/ws?token=ok", http.Header{"X-Real-Ip": {"203.0.113.7"}})
	c.SendText("hi")
	if got := c.ReadText(); got != "echo hi" {
		t.Fatalf("got %q", got)
	}
	if ip := recv(t, ips, "the handler"); ip != "203.0.113.7" {
		t.Fatalf("IP %q, want the ProxyHeader's 203.0.113.7", ip)
	}
	_, resp, err := srv.TryDial("/api/chat/ws")
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without the token: %v (%v), want 401", err, resp)
	}
	status, body := httpGet(t, srv.HTTPURL("/api/chat/ws?token=ok"))
	if status != http.StatusUpgradeRequired || !strings.HasPrefix(body, "app handler") {
		t.Fatalf("a plain GET: %d %q, want 426 from the app's ErrorHandler", status, body)
	}
	if status, body := httpGet(t, srv.HTTPURL("/api/plain")); status != 200 || body != "plain" {
		t.Fatalf("the group's other route: %d %q", status, body)
	}
	if err := srv.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	if code, _ := c.ExpectClose(); code != fiberws.CloseGoingAway {
		t.Fatalf("after the app's shutdown: %d, want 1001", code)
	}
}

// TestMiddlewareThatAnswersIsReported: a middleware that answers without
// c.Next() leaves the client with no upgrade; the developer is told (a
// warning, and ErrNotUpgraded in the summary).
func TestMiddlewareThatAnswersIsReported(t *testing.T) {
	obs := newRelSummaries()
	h := serveWith(t, fiberws.Config{Observers: []hooks.Observer{obs}},
		fiberws.WebSocket("/ws", echo, fiberws.WithMiddleware(func(c *fiber.Ctx) error {
			return c.SendString("hello") // forgot c.Next()
		})))
	if _, _, err := h.TryDial("/ws"); err == nil {
		t.Fatal("upgraded")
	}
	if s := obs.next(t); !errors.Is(s.Err, fiberws.ErrNotUpgraded) || s.Status != http.StatusOK {
		t.Fatalf("summary %d err %v, want 200 and ErrNotUpgraded", s.Status, s.Err)
	}
	if !strings.Contains(h.logs.String(), "without calling c.Next()") {
		t.Fatalf("no warning logged:\n%s", h.logs)
	}
	// Said once per route: a client repeating the request cannot flood
	// the log.
	for range 3 {
		if _, _, err := h.TryDial("/ws"); err == nil {
			t.Fatal("upgraded")
		}
		obs.next(t)
	}
	if n := strings.Count(h.logs.String(), "level=WARN msg=\"fiberws: a middleware answered"); n != 1 {
		t.Fatalf("%d warnings, want 1:\n%s", n, h.logs)
	}
}

// TestMiddlewareThatRejectsIsARejection: a middleware that answers with an
// error status itself (Fiber's basicauth does: c.SendStatus(401)) rejects
// the request like a guard, without a warning.
func TestMiddlewareThatRejectsIsARejection(t *testing.T) {
	obs := newRelSummaries()
	h := serveWith(t, fiberws.Config{Observers: []hooks.Observer{obs}},
		fiberws.WebSocket("/ws", echo, fiberws.WithMiddleware(func(c *fiber.Ctx) error {
			return c.SendStatus(fiber.StatusUnauthorized)
		})))
	if _, resp, err := h.TryDial("/ws"); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial: %v, want 401", err)
	}
	if s := obs.next(t); s.Err != nil || s.Status != http.StatusUnauthorized || s.ClosedBy != hooks.Rejected {
		t.Fatalf("summary %+v, want a 401 rejection without error", s)
	}
	if strings.Contains(h.logs.String(), "without calling c.Next()") {
		t.Fatalf("a rejection was reported as a missing c.Next():\n%s", h.logs)
	}
}

type misspelledCtrl struct{ ctrl }

func (misspelledCtrl) Guard() []hooks.Guard { return nil } // meant Guards

type pointerGuardsCtrl struct{ ctrl }

func (*pointerGuardsCtrl) Guards() []hooks.Guard { return nil } // a value of the type does not have it

type wrongSignatureCtrl struct{ ctrl }

func (wrongSignatureCtrl) Catchers() []hooks.CatcherFunc { return nil }

// TestMisspelledLifecycleMethodIsAnError: a method that looks like a
// lifecycle method but is not one is a registration error, not a route
// left unprotected.
func TestMisspelledLifecycleMethodIsAnError(t *testing.T) {
	route := []fiberws.Route{fiberws.WebSocket("/ws", echo)}
	for _, tc := range []struct {
		c    fiberws.Controller
		want string
	}{
		{misspelledCtrl{ctrl{routes: route}}, "method Guard is not a lifecycle method: did you mean Guards() []hooks.Guard?"},
		{wrongSignatureCtrl{ctrl{routes: route}}, "method Catchers has the wrong signature"},
		{pointerGuardsCtrl{ctrl{routes: route}}, "method Guards has a pointer receiver"},
	} {
		err := fiberws.New().Register(newApp(), tc.c)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%T: %v, want %q", tc.c, err, tc.want)
		}
	}
	if err := fiberws.New().Register(newApp(), &pointerGuardsCtrl{ctrl{routes: route}}); err != nil {
		t.Errorf("the pointer, which has Guards: %v", err)
	}
}

type ctxKey struct{}

// TestContextKeepsTheRequestsValues: the handler's context carries the
// values a middleware put in the upgrade request's user context, and is
// not cancelled when the request ends, only when the connection closes.
func TestContextKeepsTheRequestsValues(t *testing.T) {
	got := make(chan string, 2)
	requestEnded := make(chan struct{})
	h := serveRoutes(t, fiberws.WebSocket("/ws", func(ctx context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
		v, _ := ctx.Value(ctxKey{}).(string)
		if ctx.Err() != nil {
			v += " (cancelled)"
		}
		got <- v
		return msg, nil
	}, fiberws.WithMiddleware(func(c *fiber.Ctx) error {
		// A request context that ends with the request, as a tracing or
		// timeout middleware's does: the connection keeps its values only.
		ctx, cancel := context.WithCancel(context.WithValue(c.UserContext(), ctxKey{}, "trace-42"))
		c.SetUserContext(ctx)
		err := c.Next()
		cancel()
		close(requestEnded)
		return err
	})))
	c := h.Dial(t, "/ws")
	recv(t, requestEnded, "the upgrade request's end (its context cancelled)")
	c.SendText("x")
	c.ReadText()
	if v := recv(t, got, "the handler"); v != "trace-42" {
		t.Fatalf("handler's context value %q, want trace-42, not cancelled", v)
	}
}

type localKey struct{ name string }

// TestLocalsOfAnyKeyAndPerConnection: locals of any key type are copied
// from the upgrade request, and each connection can keep its own data in
// them, safely from many goroutines.
func TestLocalsOfAnyKeyAndPerConnection(t *testing.T) {
	h := serveRoutes(t, fiberws.WebSocket("/ws", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		user, _ := c.Locals(localKey{"user"}).(string)
		var wg sync.WaitGroup
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Locals("hits", 1)
				_ = c.Locals("hits")
			}()
		}
		wg.Wait()
		n, _ := c.Locals("count").(int)
		c.Locals("count", n+1)
		return user + " " + msg + " " + string(rune('0'+n+1)), nil
	}, fiberws.WithMiddleware(func(c *fiber.Ctx) error {
		c.Locals(localKey{"user"}, c.Query("user"))
		return c.Next()
	})))
	ann, bob := h.Dial(t, "/ws?user=ann"), h.Dial(t, "/ws?user=bob")
	for _, want := range []string{"ann a 1", "ann b 2"} {
		ann.SendText(want[4:5])
		if got := ann.ReadText(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	bob.SendText("a")
	if got := bob.ReadText(); got != "bob a 1" {
		t.Fatalf("bob got %q: connections share locals", got)
	}
}

type openCloseCtrl struct {
	ctrl
	events chan string
}

func (c openCloseCtrl) OnOpen(_ context.Context, s *fiberws.Session) error {
	c.events <- "controller open " + s.Query("who")
	return nil
}

func (c openCloseCtrl) OnClose(s *fiberws.Session, info fiberws.CloseInfo) {
	c.events <- "controller close " + s.Query("who") + " " + string(info.ClosedBy)
}

// TestOpenAndCloseHooks: OnOpen (typed: it gets the route's Conn, and can
// send) and OnClose (with the close code and who closed) for routes and
// controllers, in scope order, once each.
func TestOpenAndCloseHooks(t *testing.T) {
	events := make(chan string, 20)
	c := openCloseCtrl{events: events}
	c.routes = []fiberws.Route{fiberws.WebSocket("/ws", echo,
		fiberws.OnOpen(func(_ context.Context, conn *fiberws.Conn[string]) error {
			events <- "route open " + conn.Query("who")
			return conn.Send("welcome")
		}),
		fiberws.OnClose(func(s *fiberws.Session, info fiberws.CloseInfo) {
			events <- "route close " + s.Query("who") + " " + string(rune('0'+info.Code-4000))
		}))}
	h := start(t, fiberws.Config{}, c)
	cl := h.Dial(t, "/ws?who=ann")
	if got := cl.ReadText(); got != "welcome" {
		t.Fatalf("first message %q, want the OnOpen's welcome", got)
	}
	cl.SendText("x")
	if got := cl.ReadText(); got != "echo x" {
		t.Fatalf("got %q", got)
	}
	cl.Close(4001, "bye")
	for _, want := range []string{"controller open ann", "route open ann", "route close ann 1", "controller close ann client"} {
		if got := recv(t, events, want); got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	}
}

// TestOnOpenMustFitTheRoute: OnOpen's Conn type is checked against the
// route's, and a receive-only route (no Conn) refuses it.
func TestOnOpenMustFitTheRoute(t *testing.T) {
	open := fiberws.OnOpen(func(context.Context, *fiberws.Conn[int]) error { return nil })
	for _, r := range []fiberws.Route{
		fiberws.WebSocket("/ws", echo, open),
		fiberws.ReceiveOnly("/in", func(context.Context, *fiberws.Session, string) error { return nil }, open),
	} {
		if err := fiberws.New().Register(newApp(), ctrl{routes: []fiberws.Route{r}}); err == nil || !strings.Contains(err.Error(), "OnOpen") {
			t.Errorf("%s: %v, want an OnOpen registration error", r.Path(), err)
		}
	}
}
