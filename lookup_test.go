package fiberws_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/gofiber/fiber/v2"
)

type notice struct {
	Text string `json:"text"`
}

// TestSessionLookupFromHTTP: an HTTP handler finds a live connection by
// the ID the app stored at open, pushes a typed message to it through
// ConnOf, and stops finding it once it has closed; a lookup with the
// wrong message type finds no sender.
func TestSessionLookupFromHTTP(t *testing.T) {
	t.Parallel()
	app := newApp()
	ws := fiberws.New()
	ids := make(chan uint64, 1)
	route := fiberws.WebSocket("/ws", func(context.Context, *fiberws.Conn[notice], string) (notice, error) {
		return notice{Text: "pong"}, nil
	}, fiberws.OnOpen(func(_ context.Context, c *fiberws.Conn[notice]) error {
		ids <- c.ID()
		return nil
	}))
	if err := ws.Register(app, ctrl{routes: []fiberws.Route{route}}); err != nil {
		t.Fatal(err)
	}
	app.Post("/notify/:id", func(c *fiber.Ctx) error {
		id, _ := strconv.ParseUint(c.Params("id"), 10, 64)
		s, ok := ws.Session(id)
		if !ok {
			return fiber.ErrNotFound
		}
		if _, ok := fiberws.ConnOf[string](s); ok {
			return errors.New("ConnOf[string] found a sender on a route of notices")
		}
		conn, ok := fiberws.ConnOf[notice](s)
		if !ok {
			return errors.New("ConnOf[notice] found no sender")
		}
		return conn.Send(notice{Text: "your export is ready"})
	})
	srv := fiberwstest.Serve(t, app)
	cl := srv.Dial(t, "/ws")
	id := recv(t, ids, "the connection's ID")
	post := func() int {
		resp, err := (&http.Client{Timeout: srv.Timeout}).Post(srv.HTTPURL("/notify/"+strconv.FormatUint(id, 10)), "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound {
			t.Fatalf("notify: %d %s", resp.StatusCode, body)
		}
		return resp.StatusCode
	}
	if code := post(); code != http.StatusOK {
		t.Fatalf("notify a live connection: %d", code)
	}
	var n notice
	cl.ReadJSON(&n)
	if n.Text != "your export is ready" {
		t.Fatalf("got %+v", n)
	}
	cl.Close(fiberws.CloseNormalClosure, "")
	fiberwstest.Eventually(t, func() bool { _, ok := ws.Session(id); return !ok }, "Session(%d) still found after the close", id)
	if code := post(); code != http.StatusNotFound {
		t.Fatalf("notify a closed connection: %d, want 404", code)
	}
	if _, ok := ws.Session(id + 1000); ok {
		t.Fatal("Session found an ID that was never a connection")
	}
}

// TestServerBroadcastToARoute: Broadcast reaches every connection of the
// named route (mounted on a group and with Use), not those of other
// routes nor receive-only ones, and refuses an unknown route.
func TestServerBroadcastToARoute(t *testing.T) {
	t.Parallel()
	app := newApp()
	ws := fiberws.New()
	feed := ctrl{prefix: "/feed", routes: []fiberws.Route{
		fiberws.WebSocket("/ws", mirror),
		fiberws.WebSocket("/other", mirror),
		fiberws.ReceiveOnly("/in", func(context.Context, *fiberws.Session, string) error { return nil }),
	}}
	if err := ws.Register(app.Group("/api"), feed); err != nil {
		t.Fatal(err)
	}
	h, err := ws.Handler(ctrl{prefix: "/used", routes: []fiberws.Route{fiberws.WebSocket("/ws", mirror)}})
	if err != nil {
		t.Fatal(err)
	}
	app.Group("/v2").Use(h)
	srv := fiberwstest.Serve(t, app)

	on := []*fiberwstest.Client{srv.Dial(t, "/api/feed/ws"), srv.Dial(t, "/api/feed/ws"), srv.Dial(t, "/api/feed/ws")}
	other, in := srv.Dial(t, "/api/feed/other"), srv.Dial(t, "/api/feed/in")
	// The handshake is done before the connection is tracked: wait for it.
	fiberwstest.Eventually(t, func() bool { return ws.Connections() == 5 }, "connections: %d", fiberwstest.Later(func() any { return ws.Connections() }))
	p, err := fiberws.Prepare("deploy in 5 minutes")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), srv.Timeout)
	defer cancel()
	n, err := ws.Broadcast(ctx, "/api/feed/ws", p)
	if err != nil || n != len(on) {
		t.Fatalf("Broadcast: %d, %v; want %d, nil", n, err, len(on))
	}
	for _, c := range on {
		if got := c.ReadText(); got != "deploy in 5 minutes" {
			t.Fatalf("got %q", got)
		}
	}
	other.ExpectSilence(100 * time.Millisecond)
	in.ExpectSilence(100 * time.Millisecond)

	// Known before its first request, though its routes are mounted then.
	if n, err := ws.Broadcast(ctx, "/v2/used/ws", p); err != nil || n != 0 {
		t.Fatalf("Broadcast to the Use-mounted route before any request: %d, %v", n, err)
	}
	used := srv.Dial(t, "/v2/used/ws")
	fiberwstest.Eventually(t, func() bool { return ws.Connections() == 6 }, "connections: %d", fiberwstest.Later(func() any { return ws.Connections() }))
	if n, err := ws.Broadcast(ctx, "/v2/used/ws", p); err != nil || n != 1 {
		t.Fatalf("Broadcast to the Use-mounted route: %d, %v", n, err)
	}
	if got := used.ReadText(); got != "deploy in 5 minutes" {
		t.Fatalf("got %q", got)
	}
	if _, err := ws.Broadcast(ctx, "/api/feed/nope", p); !errors.Is(err, fiberws.ErrUnknownRoute) {
		t.Fatalf("Broadcast to an unknown route: %v, want ErrUnknownRoute", err)
	}
	if n, err := ws.Broadcast(ctx, "/api/feed/in", p); err != nil || n != 0 {
		t.Fatalf("Broadcast to a receive-only route: %d, %v; want 0, nil", n, err)
	}
}
