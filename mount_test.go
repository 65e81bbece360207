package fiberws_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/gofiber/fiber/v2"
)

// Tests of a mounted route's HTTP side, before and around the upgrade:
// route middleware, guards, a plain GET (426) and the paths the route does
// not serve.

// TestMiddlewareThatAnswersIsReported: a middleware that answers without
// c.Next() leaves the client with no upgrade; the developer is told (a
// warning, and ErrNotUpgraded in the summary).
func TestMiddlewareThatAnswersIsReported(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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

func TestPlainGETGets426(t *testing.T) {
	t.Parallel()
	h := start(t, fiberws.Config{}, ctrl{prefix: "/chat", routes: []fiberws.Route{fiberws.WebSocket("/messages", echo)}})
	client := &http.Client{Timeout: fiberwstest.DefaultTimeout}
	resp, err := client.Get(h.HTTPURL("/chat/messages"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != fiber.StatusUpgradeRequired {
		t.Fatalf("status %d, want 426", resp.StatusCode)
	}
	if got := resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
		t.Fatalf("Upgrade header %q, want websocket", got)
	}
	// The route still upgrades for a real client.
	c := h.Dial(t, "/chat/messages")
	c.SendText("hi")
	if got := c.ReadText(); got != "echo hi" {
		t.Fatalf("got %q", got)
	}
}

func TestOtherPathsFallThrough(t *testing.T) {
	t.Parallel()
	app := newApp()
	logger, _ := fiberwstest.NewLog(t)
	if err := fiberws.New(fiberws.Config{Logger: logger}).Register(app, ctrl{prefix: "/chat", routes: []fiberws.Route{fiberws.WebSocket("/messages", echo)}}); err != nil {
		t.Fatal(err)
	}
	// User routes registered after fiberws's, one inside its group's prefix.
	app.Get("/hello", func(c *fiber.Ctx) error { return c.SendString("hi") })
	app.Get("/chat/plain", func(c *fiber.Ctx) error { return c.SendString("plain") })
	h := fiberwstest.Serve(t, app)

	if status, body := httpGet(t, h.HTTPURL("/hello")); status != 200 || body != "hi" {
		t.Fatalf("GET /hello: %d %q", status, body)
	}
	if status, body := httpGet(t, h.HTTPURL("/chat/plain")); status != 200 || body != "plain" {
		t.Fatalf("GET /chat/plain: %d %q", status, body)
	}
	if status, _ := httpGet(t, h.HTTPURL("/nope")); status != fiber.StatusNotFound {
		t.Fatalf("GET /nope: %d, want 404", status)
	}
	if _, resp, err := h.TryDial("/chat/nope"); err == nil || resp == nil || resp.StatusCode != fiber.StatusNotFound {
		t.Fatalf("dial /chat/nope: want 404, got err=%v resp=%v", err, resp)
	}
}

type lcGuardCtrl struct{ guard hooks.Guard }

func (lcGuardCtrl) Prefix() string { return "/guarded" }
func (c lcGuardCtrl) Routes() []fiberws.Route {
	return []fiberws.Route{fiberws.WebSocket("/", mirror, fiberws.WithGuards(c.guard))}
}

func TestGuardRejectionIsHTTPStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		err    error
		status int
	}{
		{"plain error is 403", errors.New("secret reason"), http.StatusForbidden},
		{"fiber error keeps its status", fiber.NewError(http.StatusUnauthorized, "token required"), http.StatusUnauthorized},
		{"teapot", fiber.ErrTeapot, http.StatusTeapot},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := newRelSummaries()
			srv := fiberws.New(fiberws.Config{Observers: []hooks.Observer{obs}})
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			guard := hooks.GuardFunc(func(*fiber.Ctx) error { return tc.err })
			if err := srv.Register(app, lcGuardCtrl{guard: guard}); err != nil {
				t.Fatal(err)
			}
			ts := fiberwstest.Serve(t, app)
			c, resp, err := ts.TryDial("/guarded")
			if err == nil {
				c.Conn().Close()
				t.Fatal("upgrade succeeded despite the guard")
			}
			if resp == nil || resp.StatusCode != tc.status {
				t.Fatalf("handshake response %v, want status %d", resp, tc.status)
			}
			summary := obs.next(t)
			if summary.Status != tc.status || summary.ClosedBy != hooks.Rejected {
				t.Fatalf("summary %+v, want status %d rejected", summary, tc.status)
			}
		})
	}
}

// The body of a rejection never carries the error text of a plain error.
func TestGuardRejectionHidesErrorText(t *testing.T) {
	t.Parallel()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	guard := hooks.GuardFunc(func(*fiber.Ctx) error { return errors.New("db password is hunter2") })
	if err := fiberws.Register(app, lcGuardCtrl{guard: guard}); err != nil {
		t.Fatal(err)
	}
	ts := fiberwstest.Serve(t, app)
	req, _ := http.NewRequest(http.MethodGet, ts.HTTPURL("/guarded"), nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	client := &http.Client{Timeout: fiberwstest.DefaultTimeout}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := make([]byte, 512)
	n, _ := resp.Body.Read(body)
	if resp.StatusCode != http.StatusForbidden || strings.Contains(string(body[:n]), "hunter2") {
		t.Fatalf("status %d body %q", resp.StatusCode, body[:n])
	}
}
