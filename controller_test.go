package fiberws_test

import (
	"context"
	"io"
	"iter"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/gofiber/fiber/v2"
)

// httpGet does a plain (non-upgrade) GET and returns status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: fiberwstest.DefaultTimeout}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

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
	err := registerNoPanic(t, fiberws.New(), newApp(), ctrl{prefix: "/a", routes: []fiberws.Route{
		fiberws.WebSocket("", echo),
		fiberws.Ping("/hb", 0, echo),
	}})
	if err == nil || !strings.Contains(err.Error(), "empty path") || !strings.Contains(err.Error(), "ping interval") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

func TestRegisterDuplicateAcrossCalls(t *testing.T) {
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

func TestPlainGETGets426(t *testing.T) {
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

func TestMountWithHandlerAndUse(t *testing.T) {
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
	h, err := fiberws.New().Handler(ctrl{prefix: "/a", routes: []fiberws.Route{fiberws.Ping("/hb", 0, echo)}})
	if err == nil || h != nil || !strings.Contains(err.Error(), "fiberws_test.ctrl") || !strings.Contains(err.Error(), "/hb") {
		t.Fatalf("want an error naming the controller and path and no handler, got %v, %v", h != nil, err)
	}
}

func TestRegisterOnGroup(t *testing.T) {
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

func TestRouteDescriptors(t *testing.T) {
	typed := fiberws.WebSocket("/typed", func(context.Context, *fiberws.Conn[reply], chatMsg) (reply, error) { return reply{}, nil })
	if typed.Path() != "/typed" || typed.Mode() != fiberws.ModeTwoWay || typed.Stream() || typed.TriggerOnConnect() || typed.PingInterval() != 0 {
		t.Errorf("typed route: %q %v stream=%v onConnect=%v ping=%v", typed.Path(), typed.Mode(), typed.Stream(), typed.TriggerOnConnect(), typed.PingInterval())
	}
	if typed.MessageIn() != reflect.TypeFor[chatMsg]() || typed.MessageOut() != reflect.TypeFor[reply]() {
		t.Errorf("typed route types: in %v out %v", typed.MessageIn(), typed.MessageOut())
	}

	ping := fiberws.Ping("/hb", 30*time.Second, echo)
	if ping.PingInterval() != 30*time.Second || ping.PingTimeout() != 30*time.Second {
		t.Errorf("ping route: interval %v timeout %v", ping.PingInterval(), ping.PingTimeout())
	}
	withTimeout := fiberws.WebSocket("/hb2", echo, fiberws.WithPing(time.Second, 3*time.Second))
	if withTimeout.PingInterval() != time.Second || withTimeout.PingTimeout() != 3*time.Second {
		t.Errorf("WithPing: interval %v timeout %v", withTimeout.PingInterval(), withTimeout.PingTimeout())
	}

	onConnect := fiberws.WebSocket("/c", func(context.Context, *fiberws.Conn[string], *string) (string, error) { return "", nil }, fiberws.OnConnect())
	if !onConnect.TriggerOnConnect() || onConnect.MessageIn() != reflect.TypeFor[*string]() {
		t.Errorf("on-connect route: trigger %v in %v", onConnect.TriggerOnConnect(), onConnect.MessageIn())
	}

	recvOnly := fiberws.ReceiveOnly("/logs", func(context.Context, *fiberws.Session, string) error { return nil })
	if recvOnly.Mode() != fiberws.ModeReceiveOnly || recvOnly.MessageIn() != reflect.TypeFor[string]() || recvOnly.MessageOut() != nil {
		t.Errorf("receive-only route: %v in %v out %v", recvOnly.Mode(), recvOnly.MessageIn(), recvOnly.MessageOut())
	}

	sendOnly := fiberws.SendOnly("/n", func(context.Context, *fiberws.Conn[[]byte]) ([]byte, error) { return nil, nil })
	if sendOnly.Mode() != fiberws.ModeSendOnly || sendOnly.MessageIn() != nil || sendOnly.MessageOut() != reflect.TypeFor[[]byte]() || sendOnly.Stream() {
		t.Errorf("send-only route: %v in %v out %v stream %v", sendOnly.Mode(), sendOnly.MessageIn(), sendOnly.MessageOut(), sendOnly.Stream())
	}

	stream := fiberws.SendOnlyStream("/s", func(context.Context, *fiberws.Conn[int]) (iter.Seq[int], error) { return nil, nil })
	if stream.Mode() != fiberws.ModeSendOnly || !stream.Stream() || stream.MessageOut() != reflect.TypeFor[int]() {
		t.Errorf("send-only stream route: %v stream %v out %v", stream.Mode(), stream.Stream(), stream.MessageOut())
	}
	twoWayStream := fiberws.WebSocketStream("/ts", func(context.Context, *fiberws.Conn[string], string) (iter.Seq[string], error) { return nil, nil })
	if twoWayStream.Mode() != fiberws.ModeTwoWay || !twoWayStream.Stream() || twoWayStream.MessageOut() != reflect.TypeFor[string]() {
		t.Errorf("two-way stream route: %v stream %v out %v", twoWayStream.Mode(), twoWayStream.Stream(), twoWayStream.MessageOut())
	}

	for m, want := range map[fiberws.Mode]string{fiberws.ModeTwoWay: "two-way", fiberws.ModeReceiveOnly: "receive-only", fiberws.ModeSendOnly: "send-only"} {
		if m.String() != want {
			t.Errorf("Mode(%d).String() = %q, want %q", m, m.String(), want)
		}
	}
}
