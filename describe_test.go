package fiberws_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"golang.org/x/time/rate"
)

type documented struct{ ctrl }

func (documented) Doc() fiberws.Doc {
	return fiberws.Doc{Title: "Docs", Summary: "A documented controller.", Headers: []string{"X-Token"}}
}

// Routes lists what was mounted, with full patterns and the settings in
// force after the Config's defaults and the route's options.
func TestRoutes(t *testing.T) {
	t.Parallel()
	srv := fiberws.New(fiberws.Config{ReadLimit: 4096, MaxConnectionsPerIP: 3, Subprotocols: []string{"v1"}, IdleTimeout: time.Minute})
	if n := len(srv.Routes()); n != 0 {
		t.Fatalf("%d routes before any Register", n)
	}
	app := newApp()
	doc := fiberws.Doc{Title: "Echo", Summary: "Echoes.", Description: "Every text is sent back.", Query: []string{"token"}}
	err := srv.Register(app.Group("/api"), documented{ctrl{prefix: "/v1", routes: []fiberws.Route{
		fiberws.WebSocket("/echo/:room", echo, fiberws.WithDoc(doc), fiberws.WithReadLimit(100), fiberws.WithMaxConnections(7),
			fiberws.WithMessageRate(rate.Limit(5), 10), fiberws.WithCompression(true)),
		fiberws.ReceiveOnly("/in", func(context.Context, *fiberws.Session, []byte) error { return nil },
			fiberws.WithMaxConnectionsPerIP(1), fiberws.WithSubprotocols("v2"), fiberws.WithIdleTimeout(0)),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	h, err := srv.Handler(ctrl{prefix: "/used", routes: []fiberws.Route{fiberws.SendOnly("/out", func(context.Context, *fiberws.Conn[string]) (string, error) { return "", nil })}})
	if err != nil || h == nil {
		t.Fatal(err)
	}
	routes := srv.Routes()
	if len(routes) != 3 {
		t.Fatalf("%d routes, want 3", len(routes))
	}
	echoRoute, in, out := routes[0], routes[1], routes[2]
	if echoRoute.Pattern != "/api/v1/echo/:room" || in.Pattern != "/api/v1/in" || out.Pattern != "/used/out" {
		t.Errorf("patterns %q %q %q", echoRoute.Pattern, in.Pattern, out.Pattern)
	}
	if echoRoute.Route.Doc().Title != "Echo" || echoRoute.Route.Doc().Query[0] != "token" {
		t.Errorf("route doc %+v", echoRoute.Route.Doc())
	}
	if echoRoute.Controller.Title != "Docs" || echoRoute.ControllerName != "fiberws_test.documented" {
		t.Errorf("controller %q %+v", echoRoute.ControllerName, echoRoute.Controller)
	}
	if out.Controller.Title != "" || out.ControllerName != "fiberws_test.ctrl" {
		t.Errorf("undocumented controller %q %+v", out.ControllerName, out.Controller)
	}
	if echoRoute.ReadLimit != 100 || in.ReadLimit != 4096 {
		t.Errorf("read limits %d %d, want the route's 100 and the Config's 4096", echoRoute.ReadLimit, in.ReadLimit)
	}
	if echoRoute.MaxConnections != 7 || in.MaxConnections != 0 {
		t.Errorf("max connections %d %d", echoRoute.MaxConnections, in.MaxConnections)
	}
	if echoRoute.MaxConnectionsPerIP != 3 || in.MaxConnectionsPerIP != 1 {
		t.Errorf("per-IP caps %d %d, want the Config's 3 and the route's 1", echoRoute.MaxConnectionsPerIP, in.MaxConnectionsPerIP)
	}
	if echoRoute.MessageRate != 5 || echoRoute.MessageBurst != 10 || in.MessageRate != 0 {
		t.Errorf("rates %v/%d %v", echoRoute.MessageRate, echoRoute.MessageBurst, in.MessageRate)
	}
	if echoRoute.IdleTimeout != time.Minute || in.IdleTimeout != 0 {
		t.Errorf("idle timeouts %v %v", echoRoute.IdleTimeout, in.IdleTimeout)
	}
	if !echoRoute.Compression || in.Compression {
		t.Errorf("compression %v %v", echoRoute.Compression, in.Compression)
	}
	if !slices.Equal(echoRoute.Subprotocols, []string{"v1"}) || !slices.Equal(in.Subprotocols, []string{"v2"}) {
		t.Errorf("subprotocols %v %v", echoRoute.Subprotocols, in.Subprotocols)
	}
	// The caller's copy.
	routes[0].Subprotocols[0] = "changed"
	routes[0].Pattern = "changed"
	if again := srv.Routes()[0]; again.Pattern != "/api/v1/echo/:room" || again.Subprotocols[0] != "v1" {
		t.Errorf("Routes shares its slices: %+v", again)
	}
}
