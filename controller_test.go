package fiberws_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/gofiber/fiber/v2"
)

// registerNoPanic calls Register and fails the test if it panics.
func registerNoPanic(t *testing.T, srv *fiberws.Server, router fiber.Router, controllers ...fiberws.Controller) (err error) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Fatalf("Register panicked: %v", v)
		}
	}()
	return srv.Register(router, controllers...)
}

func TestRegisterErrors(t *testing.T) {
	t.Parallel()
	var nilHandler func(context.Context, *fiberws.Conn[string], string) (string, error)
	sendOnly := func(context.Context, *fiberws.Conn[string]) (string, error) { return "x", nil }
	cases := []struct {
		name  string
		ctrls []fiberws.Controller
		want  []string // substrings of the error
	}{
		{"empty path", []fiberws.Controller{ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.WebSocket("", echo)}}},
			[]string{"fiberws_test.ctrl", `route ""`, "empty path"}},
		{"blank path", []fiberws.Controller{ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.WebSocket("  ", echo)}}},
			[]string{"fiberws_test.ctrl", "empty path"}},
		{"nil handler", []fiberws.Controller{ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.WebSocket("/nil", nilHandler)}}},
			[]string{"fiberws_test.ctrl", `"/nil"`, "nil handler"}},
		{"zero route", []fiberws.Controller{ctrl{prefix: "/a", routes: []fiberws.Route{{}}}},
			[]string{"fiberws_test.ctrl", "empty route"}},
		{"ping interval zero", []fiberws.Controller{ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.Ping("/hb", 0, echo)}}},
			[]string{"fiberws_test.ctrl", `"/hb"`, "ping interval"}},
		{"ping interval negative", []fiberws.Controller{ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.Ping("/hb", -time.Second, echo)}}},
			[]string{"fiberws_test.ctrl", `"/hb"`, "ping interval"}},
		{"on-connect on send-only", []fiberws.Controller{ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.SendOnly("/so", sendOnly, fiberws.OnConnect())}}},
			[]string{"fiberws_test.ctrl", `"/so"`, "send-only"}},
		{"duplicate in one controller", []fiberws.Controller{ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.WebSocket("/x", echo), fiberws.WebSocket("x", echo)}}},
			[]string{"fiberws_test.ctrl", "duplicate path /a/x"}},
		{"duplicate across controllers", []fiberws.Controller{
			ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.WebSocket("/x", echo)}},
			otherCtrl{ctrl{prefix: "a/", routes: []fiberws.Route{fiberws.WebSocket("/x", echo)}}},
		}, []string{"fiberws_test.otherCtrl", `"/x"`, "duplicate path /a/x", "already used by fiberws_test.ctrl"}},
		{"nil controller", []fiberws.Controller{nil}, []string{"nil controller"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := registerNoPanic(t, fiberws.New(), newApp(), tc.ctrls...)
			if err == nil {
				t.Fatal("Register returned nil, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestRegisterReportsEveryProblem(t *testing.T) {
	t.Parallel()
	err := registerNoPanic(t, fiberws.New(), newApp(), ctrl{prefix: "/a", routes: []fiberws.Route{
		fiberws.WebSocket("", echo),
		fiberws.Ping("/hb", 0, echo),
	}})
	if err == nil || !strings.Contains(err.Error(), "empty path") || !strings.Contains(err.Error(), "ping interval") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

func TestRegisterDuplicateAcrossCalls(t *testing.T) {
	t.Parallel()
	srv := fiberws.New()
	app := newApp()
	if err := registerNoPanic(t, srv, app, ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.WebSocket("/x", echo)}}); err != nil {
		t.Fatal(err)
	}
	err := registerNoPanic(t, srv, app, otherCtrl{ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.WebSocket("/x", echo)}}})
	if err == nil || !strings.Contains(err.Error(), "fiberws_test.otherCtrl") || !strings.Contains(err.Error(), "/a/x") {
		t.Fatalf("want a duplicate-path error naming otherCtrl and /a/x, got %v", err)
	}
}

// A controller with one bad route mounts nothing, not even its good ones.
func TestRegisterErrorMountsNothing(t *testing.T) {
	t.Parallel()
	app := newApp()
	err := registerNoPanic(t, fiberws.New(), app, ctrl{prefix: "/a", routes: []fiberws.Route{
		fiberws.WebSocket("/good", echo),
		fiberws.WebSocket("", echo),
	}})
	if err == nil {
		t.Fatal("want an error")
	}
	srv := fiberwstest.Serve(t, app)
	if status, _ := httpGet(t, srv.HTTPURL("/a/good")); status != fiber.StatusNotFound {
		t.Fatalf("GET /a/good: status %d, want 404 (nothing mounted)", status)
	}
	if _, resp, err := srv.TryDial("/a/good"); err == nil || resp == nil || resp.StatusCode != fiber.StatusNotFound {
		t.Fatalf("dial /a/good: want a failed upgrade with 404, got err=%v resp=%v", err, resp)
	}
}

func TestMountWithHandlerAndUse(t *testing.T) {
	t.Parallel()
	logger, _ := fiberwstest.NewLog(t)
	wsrv := fiberws.New(fiberws.Config{Logger: logger})
	h, err := wsrv.Handler(ctrl{prefix: "/chat", routes: []fiberws.Route{
		fiberws.WebSocket("/messages", echo),
		fiberws.WebSocket("/rooms/:room", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			return c.Params("room") + ":" + msg, nil
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	app := newApp()
	app.Use(h)
	app.Get("/plain", func(c *fiber.Ctx) error { return c.SendString("plain") })
	srv := fiberwstest.Serve(t, app)
	// Registered after Serve, so it runs before the app shuts down.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), srv.Timeout)
		defer cancel()
		if err := wsrv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})

	c := srv.Dial(t, "/chat/messages")
	c.SendText("a")
	if got := c.ReadText(); got != "echo a" {
		t.Fatalf("got %q", got)
	}
	r := srv.Dial(t, "/chat/rooms/lobby")
	r.SendText("b")
	if got := r.ReadText(); got != "lobby:b" {
		t.Fatalf("got %q", got)
	}
	if status, body := httpGet(t, srv.HTTPURL("/plain")); status != 200 || body != "plain" {
		t.Fatalf("GET /plain: %d %q", status, body)
	}
	if status, _ := httpGet(t, srv.HTTPURL("/chat/messages")); status != fiber.StatusUpgradeRequired {
		t.Fatalf("plain GET on the route: %d, want 426", status)
	}
	if status, _ := httpGet(t, srv.HTTPURL("/nope")); status != fiber.StatusNotFound {
		t.Fatalf("GET /nope: %d, want 404", status)
	}
	if code := c.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close answered with %d", code)
	}
}

func TestHandlerReturnsRegistrationErrors(t *testing.T) {
	t.Parallel()
	h, err := fiberws.New().Handler(ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.Ping("/hb", 0, echo)}})
	if err == nil || h != nil || !strings.Contains(err.Error(), "fiberws_test.ctrl") || !strings.Contains(err.Error(), "/hb") {
		t.Fatalf("want an error naming the controller and path and no handler, got %v, %v", h != nil, err)
	}
}

func TestRegisterOnGroup(t *testing.T) {
	t.Parallel()
	logger, _ := fiberwstest.NewLog(t)
	wsrv := fiberws.New(fiberws.Config{Logger: logger})
	app := newApp()
	if err := wsrv.Register(app.Group("/api"), ctrl{prefix: "chat", routes: []fiberws.Route{fiberws.WebSocket("messages", echo)}}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), srv.Timeout)
		defer cancel()
		_ = wsrv.Shutdown(ctx)
	})
	c := srv.Dial(t, "/api/chat/messages")
	c.SendText("g")
	if got := c.ReadText(); got != "echo g" {
		t.Fatalf("got %q", got)
	}
}

type echoCtrl struct{}

func (echoCtrl) Prefix() string { return "/chat" }
func (echoCtrl) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/messages", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			return "Echo: " + msg, nil
		}),
	}
}

func TestSmokeEcho(t *testing.T) {
	t.Parallel()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if err := fiberws.Register(app, echoCtrl{}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	c := srv.Dial(t, "/chat/messages")
	c.SendText("a")
	c.SendText("b")
	if got := c.ReadText(); got != "Echo: a" {
		t.Fatalf("got %q", got)
	}
	if got := c.ReadText(); got != "Echo: b" {
		t.Fatalf("got %q", got)
	}
	if code := c.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close code %d", code)
	}
}

// TestPackageRegisterOnGroupShutsDown: package-level Register on a group
// shares the app's Server, and the app's shutdown closes its connections
// with 1001, as for the app itself.
func TestPackageRegisterOnGroupShutsDown(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
	t.Parallel()
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
