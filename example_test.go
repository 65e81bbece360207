package fiberws_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/gofiber/fiber/v2"
)

// Chat is the quickstart controller: its routes live under /chat.
type Chat struct{}

// Prefix mounts the controller's routes under /chat.
func (Chat) Prefix() string { return "/chat" }

// Routes declares one two-way route: ws://host/chat/messages.
func (c Chat) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/messages", c.echo),
	}
}

func (Chat) echo(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
	return "Echo: " + msg, nil
}

// The quickstart: a controller with one route, registered on a Fiber app,
// and a client that talks to it.
func Example() {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if err := fiberws.Register(app, Chat{}); err != nil {
		log.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go app.Listener(ln)
	defer app.ShutdownWithTimeout(5 * time.Second)

	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/chat/messages", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	_ = conn.WriteMessage(websocket.TextMessage, []byte("hello"))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, reply, err := conn.ReadMessage()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
	// Output: Echo: hello
}

// ChatMessage is a JSON message: any body type other than string and
// []byte is decoded from JSON, any result type other than those is encoded
// to JSON.
type ChatMessage struct {
	User string `json:"user"`
	Text string `json:"text"`
}

// A typed route: the handler's parameter and result types decide decoding
// and encoding. A payload that is not a ChatMessage closes with 1007.
func ExampleWebSocket() {
	_ = fiberws.WebSocket("/typed", func(ctx context.Context, c *fiberws.Conn[ChatMessage], in ChatMessage) (ChatMessage, error) {
		return ChatMessage{User: "server", Text: in.User + " said " + in.Text}, nil
	})
}

// Messages pushed without client input: the Conn sends values of the
// handler's result type from any goroutine; Cleanup stops the ticker when
// the connection closes. The on-connect trigger (nil body) starts it once.
func ExampleConn_Send() {
	_ = fiberws.WebSocket("/notifications", func(ctx context.Context, c *fiberws.Conn[string], msg *string) (string, error) {
		if msg != nil {
			return "", nil
		}
		ticker := time.NewTicker(5 * time.Second)
		c.Cleanup(ticker.Stop)
		go func() {
			for {
				select {
				case <-ctx.Done():
					return
				case t := <-ticker.C:
					if c.Send("Notification "+t.Format(time.RFC3339)) != nil {
						return // fiberws.ErrClosed
					}
				}
			}
		}()
		return "Notifications started", nil
	}, fiberws.OnConnect())
}

// Closing from a handler: Close sends the close frame; the returned reply
// is then dropped.
func ExampleSession_Close() {
	_ = fiberws.WebSocket("/persistent", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		if msg == "close" {
			return "", c.Close(fiberws.CloseNormalClosure, "Normal closure")
		}
		return "Message processed", nil
	})
}

// A returned *CloseError closes with its code and reason.
func ExampleCloseError() {
	_ = fiberws.WebSocket("/quota", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		return "", &fiberws.CloseError{Code: 4000, Reason: "quota exceeded"}
	})
}

// A send-only route runs once at connect, sends its result and closes with
// 1000; a receive-only route never sends.
func ExampleSendOnly() {
	_ = fiberws.SendOnly("/motd", func(ctx context.Context, c *fiberws.Conn[string]) (string, error) {
		return "Server notification", nil
	})
	_ = fiberws.ReceiveOnly("/logs", func(ctx context.Context, s *fiberws.Session, line string) error {
		log.Printf("%s: %s", s.IP(), line)
		return nil
	})
}

// A pointer body tells the on-connect trigger (nil) from a message.
func ExampleOnConnect() {
	_ = fiberws.WebSocket("/connection", func(ctx context.Context, c *fiberws.Conn[string], msg *string) (string, error) {
		if msg == nil {
			return "Connected to WebSocket", nil
		}
		return "Message: " + *msg, nil
	}, fiberws.OnConnect())
}

// Configuration and graceful shutdown: a Server registered on the app
// closes every connection with 1001 when the app shuts down.
func ExampleNew() {
	srv := fiberws.New(fiberws.Config{
		ReadLimit:    64 << 10,
		WriteTimeout: 5 * time.Second,
		Origins:      []string{"https://example.com"},
	})
	app := fiber.New()
	if err := srv.Register(app, Chat{}); err != nil {
		log.Fatal(err)
	}
}

// Mounting as middleware with app.Use: requests for other paths go on to
// the next handler.
func ExampleServer_Handler() {
	srv := fiberws.New()
	h, err := srv.Handler(Chat{})
	if err != nil {
		log.Fatal(err)
	}
	app := fiber.New()
	app.Use(h)
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("home") })
}
