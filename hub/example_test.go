package hub_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hub"
	"github.com/gofiber/fiber/v2"
)

// Lobby is a controller whose connections all share one room: whatever a
// client sends goes to every other client.
type Lobby struct{ hub *hub.Hub }

func (Lobby) Prefix() string { return "/lobby" }

func (l Lobby) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/", func(ctx context.Context, c *fiberws.Conn[*string], msg *string) (*string, error) {
			if msg == nil { // on connect: join; leaving is automatic on close
				_, err := l.hub.Join(ctx, "lobby", c)
				return nil, err
			}
			// Encoded once, queued for every member but the sender.
			return nil, hub.Broadcast(ctx, l.hub, "lobby", *msg, c)
		}, fiberws.OnConnect()),
	}
}

func Example() {
	h := hub.New()
	defer h.Close()

	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ws := fiberws.New()
	if err := ws.Register(app, Lobby{hub: h}); err != nil {
		panic(err)
	}
	addr, stop := listen(app, ws)
	defer stop()

	alice := dial(addr + "/lobby/")
	bob := dial(addr + "/lobby/")
	defer alice.Close()
	defer bob.Close()
	for deadline := time.Now().Add(5 * time.Second); h.Members("lobby") < 2; { // both have joined
		if time.Now().After(deadline) {
			panic("the clients did not join within 5s")
		}
		time.Sleep(time.Millisecond)
	}

	_ = alice.WriteMessage(websocket.TextMessage, []byte("hi, this is Alice"))
	_ = bob.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, _ := bob.ReadMessage()
	fmt.Println(string(msg))
	// Output: hi, this is Alice
}

// listen serves app on a loopback port; stop waits (bounded) for the
// clients' connections to end, then shuts the app down.
func listen(app *fiber.App, ws *fiberws.Server) (addr string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
	}()
	return ln.Addr().String(), func() {
		for deadline := time.Now().Add(5 * time.Second); ws.Connections() > 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		_ = app.ShutdownWithTimeout(5 * time.Second)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			panic("the app did not stop within 5s")
		}
	}
}

func dial(hostPath string) *websocket.Conn {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial("ws://"+hostPath, nil)
	if err != nil {
		panic(err)
	}
	return c
}
