package fiberws_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
)

// subprotocolOf answers with the connection's negotiated subprotocol.
func subprotocolOf(_ context.Context, c *fiberws.Conn[string], _ string) (string, error) {
	return "speaking " + c.Subprotocol(), nil
}

func protocolHeader(protocols ...string) http.Header {
	return http.Header{"Sec-WebSocket-Protocol": {strings.Join(protocols, ", ")}}
}

// TestSubprotocols: the upgrade picks the first of the server's
// subprotocols the client asks for, both sides see it, a route can speak
// its own, and a client asking only for unknown ones gets none.
func TestSubprotocols(t *testing.T) {
	t.Parallel()
	h := serveWith(t, fiberws.Config{Subprotocols: []string{"chat.v2", "chat.v1"}},
		fiberws.WebSocket("/ws", subprotocolOf),
		fiberws.WebSocket("/graphql", subprotocolOf, fiberws.WithSubprotocols("graphql-transport-ws")),
		fiberws.WebSocket("/none", subprotocolOf, fiberws.WithSubprotocols()),
	)
	for _, tc := range []struct {
		path  string
		asked []string
		want  string
	}{
		{"/ws", []string{"chat.v1", "chat.v2"}, "chat.v2"}, // the server's preference wins
		{"/ws", []string{"chat.v1"}, "chat.v1"},
		{"/ws", []string{"mqtt"}, ""},
		{"/graphql", []string{"chat.v2", "graphql-transport-ws"}, "graphql-transport-ws"},
		{"/graphql", []string{"chat.v2"}, ""},
		{"/none", []string{"chat.v2"}, ""},
	} {
		c := h.Dial(t, tc.path, protocolHeader(tc.asked...))
		if got := c.Conn().Subprotocol(); got != tc.want {
			t.Errorf("%s asking %v: the client sees %q, want %q", tc.path, tc.asked, got, tc.want)
		}
		c.SendText("?")
		if got := c.ReadText(); got != "speaking "+tc.want {
			t.Errorf("%s asking %v: the server says %q, want %q", tc.path, tc.asked, got, "speaking "+tc.want)
		}
		c.Close(fiberws.CloseNormalClosure, "")
	}
}

// TestCompressionPerRoute: a route's WithCompression overrides
// Config.EnableCompression both ways, and compressed messages flow.
func TestCompressionPerRoute(t *testing.T) {
	t.Parallel()
	h := serveWith(t, fiberws.Config{EnableCompression: false},
		fiberws.WebSocket("/plain", mirror),
		fiberws.WebSocket("/deflate", mirror, fiberws.WithCompression(true)),
	)
	h2 := serveWith(t, fiberws.Config{EnableCompression: true},
		fiberws.WebSocket("/deflate", mirror),
		fiberws.WebSocket("/plain", mirror, fiberws.WithCompression(false)),
	)
	for _, tc := range []struct {
		srv  *harness
		path string
		want bool
	}{{h, "/plain", false}, {h, "/deflate", true}, {h2, "/deflate", true}, {h2, "/plain", false}} {
		d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: tc.srv.Timeout}
		conn, resp, err := d.Dial(tc.srv.URL(tc.path), nil)
		if err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
		if got != tc.want {
			t.Errorf("%s: permessage-deflate negotiated %v, want %v", tc.path, got, tc.want)
		}
		msg := strings.Repeat("compressible ", 1000)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(tc.srv.Timeout))
		if _, data, err := conn.ReadMessage(); err != nil || string(data) != msg {
			t.Fatalf("%s: echo %d bytes, %v", tc.path, len(data), err)
		}
		_ = conn.Close()
	}
	// A route compressed on its own still bounds the inflated size by the
	// read limit (1 MiB): 16 MiB of one letter is ~16 KiB on the wire.
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: h.Timeout}
	conn, _, err := d.Dial(h.URL("/deflate"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("a", 16<<20))); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(h.Timeout))
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != fiberws.CloseMessageTooBig {
		t.Fatalf("a compression bomb on a WithCompression route: %v, want 1009", err)
	}
}

// TestOriginChoices: AllowOriginsFunc allows what Origins does not list,
// and RequireOrigin refuses requests without Origin.
func TestOriginChoices(t *testing.T) {
	t.Parallel()
	h := serveWith(t, fiberws.Config{
		Origins:          []string{"https://app.example.com"},
		AllowOriginsFunc: func(o string) bool { return strings.HasSuffix(o, ".preview.example.com") },
		RequireOrigin:    true,
	}, fiberws.WebSocket("/ws", mirror))
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://app.example.com", http.StatusSwitchingProtocols},
		{"https://pr-42.preview.example.com", http.StatusSwitchingProtocols},
		{"https://evil.example", http.StatusForbidden},
		{"", http.StatusForbidden}, // RequireOrigin
	} {
		header := http.Header{}
		if tc.origin != "" {
			header.Set("Origin", tc.origin)
		}
		c, resp, err := h.TryDial("/ws", header)
		if c != nil {
			_ = c.Conn().Close()
		}
		if resp == nil {
			t.Fatalf("origin %q: no response: %v", tc.origin, err)
		}
		if resp.StatusCode != tc.want {
			t.Errorf("origin %q: HTTP %d, want %d", tc.origin, resp.StatusCode, tc.want)
		}
	}
	// Without RequireOrigin, a client that sends no Origin passes.
	open := serveWith(t, fiberws.Config{Origins: []string{"https://app.example.com"}}, fiberws.WebSocket("/ws", mirror))
	open.Dial(t, "/ws").Close(fiberws.CloseNormalClosure, "")
}

// permessage-deflate is off by default: the server does not accept it.
func TestCompressionOffByDefault(t *testing.T) {
	t.Parallel()
	srv, _ := relServe(t, fiberws.Config{}, fiberws.WebSocket("/e", mirror))
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(srv.URL("/e"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Fatalf("server accepted %q", ext)
	}
}

// With compression on, the read limit bounds the inflated message, not
// only the bytes on the wire: a tiny frame that inflates past it is a
// 1009, like an uncompressed one.
func TestCompressionBoundedByReadLimit(t *testing.T) {
	const limit = 64 << 10
	obs := newRelSummaries()
	srv, _ := relServe(t, fiberws.Config{EnableCompression: true, ReadLimit: limit, Observers: []hooks.Observer{obs}},
		fiberws.WebSocket("/e", func(_ context.Context, _ *fiberws.Conn[int], msg string) (int, error) {
			return len(msg), nil
		}))
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second}
	c, resp, err := d.Dial(srv.URL("/e"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !strings.Contains(resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Fatalf("compression not negotiated: %q", resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	// At the limit: fine.
	if err := c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("a", limit))); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, data, err := c.ReadMessage(); err != nil || string(data) != "65536" {
		t.Fatalf("reply %q %v", data, err)
	}
	// 16 MiB of one letter is ~16 KiB compressed: under the limit on the
	// wire, far over it inflated.
	if err := c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("a", 16<<20))); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Fatalf("want 1009, got %v", err)
	}
	if s := obs.next(t); s.CloseCode != fiberws.CloseMessageTooBig || s.BytesIn > limit {
		t.Fatalf("summary %d, %d bytes in", s.CloseCode, s.BytesIn)
	}
}

// Corrupt deflate data is an invalid payload (1007), not a silent TCP drop.
func TestCompressionCorruptData(t *testing.T) {
	t.Parallel()
	srv, _ := relServe(t, fiberws.Config{EnableCompression: true}, fiberws.WebSocket("/e", mirror))
	d := websocket.Dialer{EnableCompression: true, HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial(srv.URL("/e"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// FIN+RSV1 text frame, masked with a zero key, 4 bytes that are no
	// deflate stream.
	frame := []byte{0xc1, 0x84, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}
	if _, err := c.NetConn().Write(frame); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseInvalidFramePayloadData {
		t.Fatalf("want 1007, got %v", err)
	}
}

func TestOriginCheckBeforeUpgrade(t *testing.T) {
	t.Parallel()
	sameOrigin := serveWith(t, fiberws.Config{}, fiberws.WebSocket("/o", mirror))
	allowList := serveWith(t, fiberws.Config{Origins: []string{"https://app.example"}}, fiberws.WebSocket("/o", mirror))
	cases := []struct {
		name   string
		srv    *harness
		origin string
		ok     bool
	}{
		{"no origin header (not a browser)", sameOrigin, "", true},
		{"same origin", sameOrigin, "http://" + sameOrigin.Addr, true},
		{"cross-site page", sameOrigin, "https://evil.example", false},
		{"allow-listed origin", allowList, "https://app.example", true},
		{"origin not on the list", allowList, "http://" + allowList.Addr, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c, resp, err := tc.srv.TryDial("/o", h)
			if tc.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				_ = c.Conn().Close()
				return
			}
			if err == nil {
				_ = c.Conn().Close()
				t.Fatal("cross-origin upgrade succeeded")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("response %v, want 403", resp)
			}
		})
	}
}
