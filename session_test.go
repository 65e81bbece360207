package fiberws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/gofiber/fiber/v2"
)

// The handler's context ends when the connection does, however it ends;
// a handler waiting on it returns.
func TestContextCancelledOnClose(t *testing.T) {
	t.Parallel()
	endings := map[string]func(t *testing.T, c *fiberwstest.Client, conn *fiberws.Conn[string]){
		"client close": func(t *testing.T, c *fiberwstest.Client, _ *fiberws.Conn[string]) { c.Close(1000, "") },
		"client drop":  func(t *testing.T, c *fiberwstest.Client, _ *fiberws.Conn[string]) { c.Drop() },
		"server close": func(t *testing.T, c *fiberwstest.Client, conn *fiberws.Conn[string]) {
			if err := conn.Close(4000, "x"); err != nil {
				t.Fatal(err)
			}
			if code, _ := c.ExpectClose(); code != 4000 {
				t.Fatalf("close code %d", code)
			}
		},
	}
	for name, end := range endings {
		t.Run(name, func(t *testing.T) {
			conns := make(chan *fiberws.Conn[string], 1)
			handlerErr := make(chan error, 1)
			blocking := make(chan struct{})
			h := serveRoutes(t, fiberws.WebSocket("/wait", func(ctx context.Context, c *fiberws.Conn[string], msg *string) (string, error) {
				if msg == nil {
					conns <- c
					return "", nil
				}
				// A slow handler waiting for its context.
				close(blocking)
				select {
				case <-ctx.Done():
					handlerErr <- ctx.Err()
				case <-time.After(2 * fiberwstest.DefaultTimeout):
					handlerErr <- errors.New("context never cancelled")
				}
				return "late", nil
			}, fiberws.OnConnect()))
			c := h.Dial(t, "/wait")
			c.ReadText() // on-connect reply ""
			conn := recv(t, conns, "the connection")
			c.SendText("block")
			if conn.Context().Err() != nil {
				t.Fatal("context done while the connection is open")
			}
			recv(t, blocking, "the handler to block")
			end(t, c, conn)
			if err := recv(t, handlerErr, "the handler to see its context end"); !errors.Is(err, context.Canceled) {
				t.Fatalf("handler context: %v, want context.Canceled", err)
			}
			if !closedWithin(conn.Context().Done(), fiberwstest.DefaultTimeout) {
				t.Fatal("Session.Context not cancelled")
			}
			h.waitIdle(t)
		})
	}
}

// A handler that waits does not stop the connection from seeing the client
// leave: the client drops mid-handler and the handler's context ends.
func TestSlowHandlerSeesClientLeave(t *testing.T) {
	started := make(chan struct{})
	ended := make(chan time.Duration, 1)
	h := serveRoutes(t, fiberws.WebSocket("/slow", func(ctx context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
		close(started)
		t0 := time.Now()
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		ended <- time.Since(t0)
		return "done", nil
	}))
	c := h.Dial(t, "/slow")
	c.SendText("work")
	recv(t, started, "the handler to start")
	c.Drop()
	if d := recv(t, ended, "the handler to end"); d > 2*time.Second {
		t.Fatalf("the handler noticed the drop after %v", d)
	}
	h.waitIdle(t)
}

type requestView struct {
	Room, Missing, Q, Token, Cookie, User, Role, IP, Path, Route string
}

func TestRequestDataReadable(t *testing.T) {
	t.Parallel()
	app := newApp()
	app.Use(func(c *fiber.Ctx) error { // app middleware, before Register
		c.Locals("user", "alice")
		return c.Next()
	})
	h := startOn(t, app, fiberws.Config{}, ctrl{prefix: "/ctx", routes: []fiberws.Route{
		fiberws.WebSocket("/rooms/:room", func(_ context.Context, c *fiberws.Conn[requestView], msg *string) (requestView, error) {
			user, _ := c.Locals("user").(string)
			role, _ := c.Locals("role").(string)
			return requestView{
				Room: c.Params("room"), Missing: c.Params("nope", "default"),
				Q: c.Query("q"), Token: c.Header("x-token"), Cookie: c.Cookie("session"),
				User: user, Role: role, IP: c.IP(), Path: c.Path(), Route: c.Route(),
			}, nil
		}, fiberws.OnConnect(), fiberws.WithMiddleware(func(c *fiber.Ctx) error {
			c.Locals("role", "admin")
			return c.Next()
		})),
	}})
	hdr := http.Header{}
	hdr.Set("X-Token", "secret-token")
	hdr.Set("Cookie", "session=s1")
	c := h.Dial(t, "/ctx/rooms/lobby?q=search+term", hdr)
	var got requestView
	c.ReadJSON(&got)
	want := requestView{
		Room: "lobby", Missing: "default", Q: "search term", Token: "secret-token", Cookie: "s1",
		User: "alice", Role: "admin", IP: "127.0.0.1", Path: "/ctx/rooms/lobby", Route: "/ctx/rooms/:room",
	}
	if got != want {
		t.Fatalf("request data\n got %+v\nwant %+v", got, want)
	}
	// Still readable on later messages, after fasthttp recycled the request.
	for range 3 {
		c.SendText("again")
		var again requestView
		c.ReadJSON(&again)
		if again != want {
			t.Fatalf("on a later message\n got %+v\nwant %+v", again, want)
		}
	}
}

// Locals from the app-scope middleware of fiberws.Config.
func TestConfigMiddlewareLocals(t *testing.T) {
	t.Parallel()
	h := start(t, fiberws.Config{Middleware: []fiber.Handler{func(c *fiber.Ctx) error {
		c.Locals("tenant", 42)
		return c.Next()
	}}}, ctrl{routes: []fiberws.Route{
		fiberws.WebSocket("/t", func(_ context.Context, c *fiberws.Conn[string], _ string) (string, error) {
			return fmt.Sprint(c.Locals("tenant"), " ", c.Locals("absent")), nil
		}),
	}})
	c := h.Dial(t, "/t")
	c.SendText("x")
	if got := c.ReadText(); got != "42 <nil>" {
		t.Fatalf("got %q", got)
	}
}

// Every connection gets its own context and id.
func TestConnectionsAreIndependent(t *testing.T) {
	t.Parallel()
	ids := make(chan uint64, 2)
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		ids <- c.ID()
		return msg, nil
	}))
	a, b := h.Dial(t, "/c"), h.Dial(t, "/c")
	a.SendText("a")
	a.ReadText()
	b.SendText("b")
	b.ReadText()
	if x, y := recv(t, ids, "id"), recv(t, ids, "id"); x == y {
		t.Fatalf("two connections share id %d", x)
	}
	a.Close(1000, "")
	b.SendText("b still open")
	if got := b.ReadText(); got != "b still open" {
		t.Fatalf("got %q", got)
	}
}

type ctxKey struct{}

// TestContextKeepsTheRequestsValues: the handler's context carries the
// values a middleware put in the upgrade request's user context, and is
// not cancelled when the request ends, only when the connection closes.
func TestContextKeepsTheRequestsValues(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
