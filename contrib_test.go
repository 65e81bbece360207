package fiberws_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	contribws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// contribEcho is a handler as contrib/websocket users write them.
func contribEcho(c *contribws.Conn) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		reply := fmt.Sprintf("%s room=%s who=%s user=%v: %s", c.Params("room"), c.Params("room"), c.Query("who"), c.Locals("user"), msg)
		if err := c.WriteMessage(mt, []byte(reply)); err != nil {
			return
		}
	}
}

// TestContribRouteGetsTheLifecycle: a contrib handler, unchanged, runs
// behind fiberws's middleware and guards, sees contrib's Params, Query
// and Locals, and ends with the summary the observers expect; the
// connection cap, the read limit and shutdown apply to it.
func TestContribRouteGetsTheLifecycle(t *testing.T) {
	obs := newRelSummaries()
	app := newApp()
	ws := fiberws.New(fiberws.Config{Observers: []hooks.Observer{obs}, ReadLimit: 1024})
	route := fiberws.Contrib("/rooms/:room", contribEcho,
		fiberws.WithMiddleware(func(c *fiber.Ctx) error {
			c.Locals("user", "ann")
			return c.Next()
		}),
		fiberws.WithGuards(hooks.GuardFunc(func(c *fiber.Ctx) error {
			if c.Query("who") == "" {
				return fiber.ErrUnauthorized
			}
			return nil
		})),
		fiberws.WithMaxConnections(2),
	)
	if err := ws.Register(app, ctrl{routes: []fiberws.Route{route}}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)

	if _, resp, err := srv.TryDial("/rooms/lobby"); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no who: %v, want HTTP 401 from the guard", err)
	}
	if s := obs.next(t); s.Status != http.StatusUnauthorized {
		t.Fatalf("the rejection's summary: %+v", s)
	}
	c := srv.Dial(t, "/rooms/lobby?who=bob")
	c.SendText("hi")
	if got := c.ReadText(); got != "lobby room=lobby who=bob user=ann: hi" {
		t.Fatalf("got %q", got)
	}
	if code := c.Close(4001, "done"); code != 4001 {
		t.Fatalf("the close answered %d", code)
	}
	if s := obs.next(t); s.CloseCode != 4001 || s.ClosedBy != hooks.ByClient || s.Route != "/rooms/:room" {
		t.Fatalf("summary %+v", s)
	}

	// Over the read limit: the library's 1009 (it carries no reason); the
	// summary cannot tell which close went out (1005).
	big := srv.Dial(t, "/rooms/lobby?who=bob")
	big.SendText(strings.Repeat("x", 2000))
	if code, _ := big.ExpectClose(); code != fiberws.CloseMessageTooBig {
		t.Fatalf("over the read limit: %d, want 1009", code)
	}
	if s := obs.next(t); s.CloseCode != fiberws.CloseNoStatusReceived || s.ClosedBy != hooks.ByServer {
		t.Fatalf("summary after 1009: %+v", s)
	}

	// The route's cap.
	a, b := srv.Dial(t, "/rooms/lobby?who=a"), srv.Dial(t, "/rooms/lobby?who=b")
	fiberwstest.Eventually(t, func() bool { return ws.Connections() == 2 }, "connections: %d, want 2", fiberwstest.Later(func() any { return ws.Connections() }))
	if _, resp, err := srv.TryDial("/rooms/lobby?who=c"); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a third connection: %v, want HTTP 503", err)
	}

	// Shutdown closes contrib connections like any other.
	if err := srv.Shutdown(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for _, cl := range []*fiberwstest.Client{a, b} {
		if code, reason := cl.ExpectClose(); code != fiberws.CloseGoingAway || reason != "server shutting down" {
			t.Fatalf("shutdown: %d %q", code, reason)
		}
	}
}

// TestContribHandlerEnds: a handler that returns closes with 1000; one
// that panics closes with 1011, the panic logged and not sent; the
// controller's OnOpen runs first and Server.Session finds the connection.
func TestContribHandlerEnds(t *testing.T) {
	opened := make(chan uint64, 4)
	c := openCtrl{opened: opened, ctrl: ctrl{routes: []fiberws.Route{
		fiberws.Contrib("/once", func(c *contribws.Conn) {
			_ = c.WriteMessage(websocket.TextMessage, []byte("bye"))
		}),
		fiberws.Contrib("/panic", func(c *contribws.Conn) {
			_, _, _ = c.ReadMessage()
			panic("secret detail")
		}),
	}}}
	h := start(t, fiberws.Config{}, c)
	once := h.Dial(t, "/once")
	if got := once.ReadText(); got != "bye" {
		t.Fatalf("got %q", got)
	}
	if code, _ := once.ExpectClose(); code != fiberws.CloseNormalClosure {
		t.Fatalf("a returning handler closed with %d, want 1000", code)
	}
	recv(t, opened, "OnOpen of /once")

	p := h.Dial(t, "/panic")
	id := recv(t, opened, "OnOpen of /panic")
	if s, ok := h.ws.Session(id); !ok || s.Route() != "/panic" {
		t.Fatalf("Session(%d): %v %v", id, s, ok)
	}
	p.SendText("go")
	code, reason := p.ExpectClose()
	if code != fiberws.CloseInternalError || strings.Contains(reason, "secret") {
		t.Fatalf("a panicking handler: %d %q, want 1011 without the panic's text", code, reason)
	}
	fiberwstest.Eventually(t, func() bool { return strings.Contains(h.logs.String(), "secret detail") }, "the panic was not logged: %s", fiberwstest.Later(func() any { return h.logs.String() }))
	h.waitIdle(t)
}

type openCtrl struct {
	ctrl
	opened chan uint64
}

func (c openCtrl) OnOpen(_ context.Context, s *fiberws.Session) error {
	c.opened <- s.ID()
	return nil
}

// TestContribRefusesPerMessageOptions: what needs fiberws to read does
// not apply to a Contrib route, and says so at registration.
func TestContribRefusesPerMessageOptions(t *testing.T) {
	for name, opt := range map[string]fiberws.Option{
		"OnConnect":          fiberws.OnConnect(),
		"WithMessageRate":    fiberws.WithMessageRate(10, 10),
		"WithIdleTimeout":    fiberws.WithIdleTimeout(time.Second),
		"WithMessageTimeout": fiberws.WithMessageTimeout(time.Second),
		"WithInterceptors":   fiberws.WithInterceptors(nil),
		"OnOpen":             fiberws.OnOpen(func(context.Context, *fiberws.Conn[string]) error { return nil }),
		"WithCompression":    fiberws.WithCompression(true),
	} {
		err := fiberws.New().Register(newApp(), ctrl{routes: []fiberws.Route{fiberws.Contrib("/c", contribEcho, opt)}})
		if err == nil || !strings.Contains(err.Error(), "Contrib route") {
			t.Errorf("%s on a Contrib route: %v, want a registration error", name, err)
		}
	}
	if err := fiberws.New().Register(newApp(), ctrl{routes: []fiberws.Route{fiberws.Contrib("/c", nil)}}); err == nil {
		t.Error("a nil contrib handler registered")
	}
}

// TestRawWritesDoNotInterleave: a handler streams a large message through
// Raw's NextWriter while another goroutine Sends: every message arrives
// whole, because Raw holds the write lock.
func TestRawWritesDoNotInterleave(t *testing.T) {
	const chunk, chunks = 4096, 64
	var wg sync.WaitGroup
	route := fiberws.WebSocket("/raw", func(_ context.Context, c *fiberws.Conn[*string], _ string) (*string, error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			small := "small"
			for range 50 {
				_ = c.Send(&small)
			}
		}()
		err := c.Raw(func(conn *websocket.Conn) error {
			w, err := conn.NextWriter(websocket.BinaryMessage)
			if err != nil {
				return err
			}
			for i := range chunks {
				if _, err := w.Write([]byte(strings.Repeat(string(rune('a'+i%26)), chunk))); err != nil {
					return err
				}
			}
			return w.Close()
		})
		return nil, err
	})
	h := serveRoutes(t, route)
	c := h.Dial(t, "/raw")
	c.SendText("go")
	smalls, bigs := 0, 0
	for smalls < 50 || bigs < 1 {
		mt, data, err := c.Read()
		if err != nil {
			t.Fatalf("after %d small and %d big: %v", smalls, bigs, err)
		}
		switch {
		case mt == websocket.TextMessage && string(data) == "small":
			smalls++
		case mt == websocket.BinaryMessage && len(data) == chunk*chunks:
			bigs++
		default:
			t.Fatalf("a broken message: type %d, %d bytes", mt, len(data))
		}
	}
	wg.Wait()
	c.Close(fiberws.CloseNormalClosure, "")
	h.waitIdle(t)
}

// TestContribConnIsTheHandlers: fiberws writes no data on a Contrib
// connection (its handler writes without fiberws's lock): Broadcast leaves
// it out, Raw refuses it; its context ends when it closes; and a Server
// with compression on does not negotiate it for a Contrib route.
func TestContribConnIsTheHandlers(t *testing.T) {
	ended := make(chan error, 1)
	opened := make(chan uint64, 1)
	c := openCtrl{opened: opened, ctrl: ctrl{routes: []fiberws.Route{
		fiberws.Contrib("/c", func(c *contribws.Conn) {
			go func() { // a reader the handler leaves behind
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
			<-fiberws.ContribContext(c).Done()
			ended <- fiberws.ContribContext(c).Err()
		}),
	}}}
	h := start(t, fiberws.Config{EnableCompression: true}, c)
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: h.Timeout}
	conn, resp, err := d.Dial(h.URL("/c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("a Contrib route negotiated %q", ext)
	}
	id := recv(t, opened, "OnOpen")
	s, ok := h.ws.Session(id)
	if !ok {
		t.Fatal("Session not found")
	}
	if err := s.Raw(func(*websocket.Conn) error { return nil }); err == nil {
		t.Fatal("Raw on a Contrib connection ran")
	}
	p, _ := fiberws.Prepare("x")
	if n, err := h.ws.Broadcast(context.Background(), "/c", p); err != nil || n != 0 {
		t.Fatalf("Broadcast reached %d Contrib connections (%v)", n, err)
	}
	if err := s.Close(4000, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, ended, "the handler's context"); err == nil {
		t.Fatal("the context ended without an error")
	}
	_ = conn.SetReadDeadline(time.Now().Add(h.Timeout))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 {
		t.Fatalf("client got %v, want close 4000", err)
	}
	h.waitIdle(t)
}
