package fiberws_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
	contribws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
)

// BenchmarkEcho is a 64-byte text echo over a real loopback socket, one
// connection, ping-pong: fiberws's string route against the hand-written
// contrib/websocket loop it is built on. Client and server share the
// process, so the numbers include the client; cmd/fiberws-bench separates
// them (and runs many connections).
func BenchmarkEcho(b *testing.B) {
	b.Run("fiberws-string", func(b *testing.B) {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		route := fiberws.WebSocket("/ws", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
			return msg, nil
		})
		if err := fiberws.Register(app, ctrl{routes: []fiberws.Route{route}}); err != nil {
			b.Fatal(err)
		}
		benchEcho(b, fiberwstest.Serve(b, app))
	})
	b.Run("raw-contrib", func(b *testing.B) {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		app.Get("/ws", contribws.New(func(c *contribws.Conn) {
			for {
				mt, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(mt, msg); err != nil {
					return
				}
			}
		}))
		benchEcho(b, fiberwstest.Serve(b, app))
	})
}

func benchEcho(b *testing.B, srv *fiberwstest.Server) {
	c := srv.Dial(b, "/ws")
	conn := c.Conn()
	msg := []byte(strings.Repeat("x", 64))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, got, err := conn.ReadMessage(); err != nil || len(got) != len(msg) {
			b.Fatalf("reply %q, %v", got, err)
		}
	}
	b.StopTimer()
	c.Close(fiberws.CloseNormalClosure, "")
}
