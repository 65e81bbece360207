package hub_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hub"
)

type benchRoomCtrl struct{ h *hub.Hub }

func (benchRoomCtrl) Prefix() string { return "" }
func (c benchRoomCtrl) Routes() []fiberws.Route {
	return []fiberws.Route{fiberws.WebSocket("/room", func(_ context.Context, conn *fiberws.Conn[*string], msg *string) (*string, error) {
		if msg == nil {
			_, err := c.h.Join(context.Background(), "bench", conn)
			return nil, err
		}
		return nil, nil
	}, fiberws.OnConnect())}
}

// BenchmarkBroadcast is one 64-byte broadcast through a Hub to 16 members
// on real loopback sockets, until every client has received it: the
// encode-once Prepare, the per-member queues and writers, and the sockets.
// cmd/fiberws-bench compares thousands of members with a plain loop.
func BenchmarkBroadcast(b *testing.B) {
	const members = 16
	h := hub.New()
	defer h.Close()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if err := fiberws.Register(app, benchRoomCtrl{h: h}); err != nil {
		b.Fatal(err)
	}
	srv := fiberwstest.Serve(b, app)
	received := make(chan struct{}, members)
	var wg sync.WaitGroup
	var conns []*websocket.Conn
	for i := 0; i < members; i++ {
		conn := srv.Dial(b, "/room").Conn()
		conns = append(conns, conn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
				received <- struct{}{}
			}
		}()
	}
	fiberwstest.Eventually(b, func() bool { return h.Members("bench") >= members },
		"only %d of %d members joined", fiberwstest.Later(func() any { return h.Members("bench") }), members)
	msg := strings.Repeat("x", 64)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := hub.Broadcast(context.Background(), h, "bench", msg); err != nil {
			b.Fatal(err)
		}
		for j := 0; j < members; j++ {
			select {
			case <-received:
			case <-time.After(fiberwstest.DefaultTimeout):
				b.Fatalf("broadcast %d: %d of %d received", i, j, members)
			}
		}
	}
	b.StopTimer()
	for _, c := range conns {
		_ = c.Close()
	}
	wg.Wait()
}
