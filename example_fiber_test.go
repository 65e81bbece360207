package fiberws_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
	contribws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// legacy is a controller whose route is a contrib/websocket handler.
type legacy struct{}

func (legacy) Prefix() string { return "" }

func (legacy) Routes() []fiberws.Route {
	return []fiberws.Route{
		// The handler is contrib's, unchanged; the guard, the caps and
		// shutdown are fiberws's.
		fiberws.Contrib("/legacy/:room", func(c *contribws.Conn) {
			for {
				mt, msg, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(mt, append([]byte(c.Params("room")+": "), msg...)); err != nil {
					return
				}
			}
		}, fiberws.WithGuards(hooks.GuardFunc(func(c *fiber.Ctx) error {
			if c.Query("token") != "s3cret" {
				return fiber.ErrUnauthorized
			}
			return nil
		})), fiberws.WithMaxConnections(1000)),
	}
}

// Moving a contrib/websocket handler over: Contrib takes it as it is and
// runs it behind fiberws's lifecycle.
func ExampleContrib() {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if err := fiberws.Register(app, legacy{}); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go app.Listener(ln)
	defer app.ShutdownWithTimeout(5 * time.Second)

	base := "ws://" + ln.Addr().String() + "/legacy/lobby"
	if _, resp, err := websocket.DefaultDialer.Dial(base, nil); err != nil && resp != nil {
		fmt.Println("without a token:", resp.StatusCode)
	}
	conn, _, err := websocket.DefaultDialer.Dial(base+"?token=s3cret", nil)
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
	// Output:
	// without a token: 401
	// lobby: hello
}

// Notice is what the notifications route sends.
type Notice struct {
	Text string `json:"text"`
}

// Pushing to one connection from an HTTP handler: the app keeps each
// user's connection ID from OnOpen, and the handler finds the live
// connection with Server.Session and its typed sender with ConnOf.
func ExampleServer_Session() {
	ws := fiberws.New()
	var users sync.Map // user name -> connection ID
	route := fiberws.SendOnly("/notifications", func(ctx context.Context, c *fiberws.Conn[*Notice]) (*Notice, error) {
		<-ctx.Done() // stay open; notices come from outside
		return nil, nil
	}, fiberws.OnOpen(func(_ context.Context, c *fiberws.Conn[*Notice]) error {
		users.Store(c.Query("user"), c.ID())
		c.Cleanup(func() { users.CompareAndDelete(c.Query("user"), c.ID()) })
		return nil
	}))
	app := fiber.New()
	if err := ws.Register(app, ctrl{routes: []fiberws.Route{route}}); err != nil {
		log.Fatal(err)
	}
	app.Post("/notify/:user", func(c *fiber.Ctx) error {
		id, ok := users.Load(c.Params("user"))
		if !ok {
			return fiber.ErrNotFound
		}
		s, ok := ws.Session(id.(uint64))
		if !ok {
			return fiber.ErrNotFound
		}
		conn, ok := fiberws.ConnOf[*Notice](s)
		if !ok {
			return fiber.ErrInternalServerError
		}
		return conn.Send(&Notice{Text: c.Query("text")})
	})
}

// A message for every connection of one route, without a room: Broadcast
// writes it to each, a slow client delaying the others by about a
// millisecond at most.
func ExampleServer_Broadcast() {
	ws := fiberws.New()
	app := fiber.New()
	if err := ws.Register(app.Group("/api"), Chat{}); err != nil {
		log.Fatal(err)
	}
	app.Post("/announce", func(c *fiber.Ctx) error {
		p, err := fiberws.Prepare("maintenance in 5 minutes")
		if err != nil {
			return err
		}
		n, err := ws.Broadcast(c.UserContext(), "/api/chat/messages", p)
		if err != nil {
			return err
		}
		return c.SendString("told " + strconv.Itoa(n) + " connections")
	})
}

// Subprotocols: the upgrade picks the first of the route's that the
// client asks for (a browser's new WebSocket(url, ["graphql-transport-ws"])),
// and the connection tells which.
func ExampleWithSubprotocols() {
	_ = fiberws.WebSocket("/graphql", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		if c.Subprotocol() != "graphql-transport-ws" {
			return "", &fiberws.CloseError{Code: 4406, Reason: "subprotocol required"}
		}
		return msg, nil
	}, fiberws.WithSubprotocols("graphql-transport-ws"))
}

// The raw connection for what fiberws does not wrap: streaming a large
// export through NextWriter without holding it in memory. Raw holds the
// write lock, so Sends from other goroutines wait and frames never
// interleave.
func ExampleSession_Raw() {
	_ = fiberws.WebSocket("/export", func(ctx context.Context, c *fiberws.Conn[*string], _ string) (*string, error) {
		return nil, c.Raw(func(conn *websocket.Conn) error {
			w, err := conn.NextWriter(websocket.BinaryMessage)
			if err != nil {
				return err
			}
			for i := range 1000 {
				if _, err := fmt.Fprintf(w, "row %d\n", i); err != nil {
					return err
				}
			}
			return w.Close()
		})
	})
}

// Add is the data of the add event: both numbers required.
type Add struct {
	A *int `json:"a" validate:"required"`
	B *int `json:"b" validate:"required"`
}

// gateway is a controller with one event route.
type gateway struct{}

func (gateway) Prefix() string { return "" }

func (gateway) Routes() []fiberws.Route {
	return []fiberws.Route{fiberws.Events("/gateway",
		fiberws.On("add", func(ctx context.Context, c *fiberws.EventConn, in Add) (int, error) {
			return *in.A + *in.B, nil
		}),
	)}
}

// An event route: envelopes dispatched by name to typed handlers, the
// result sent back as the acknowledgement, and errors answered on the
// socket, which stays open.
func ExampleEvents() {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if err := fiberws.Register(app, gateway{}); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go app.Listener(ln)
	defer app.ShutdownWithTimeout(5 * time.Second)

	conn, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/gateway", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	for _, frame := range []string{
		`{"event":"add","data":{"a":2,"b":40},"id":1}`,
		`{"event":"add","data":{"a":2},"id":2}`,
		`{"event":"nope","id":3}`,
	} {
		_ = conn.WriteMessage(websocket.TextMessage, []byte(frame))
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, reply, err := conn.ReadMessage()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(reply))
	}
	// Output:
	// {"event":"add","data":42,"id":1}
	// {"event":"error","data":{"message":"invalid data for event \"add\"","fields":{"b":"required"}},"id":2}
	// {"event":"error","data":{"message":"unknown event \"nope\""},"id":3}
}

// The server asks the client and waits for its answer, bounded: here
// when a connection opens, from a goroutine of its own.
func ExampleAsk() {
	_ = fiberws.Events("/devices", fiberws.OnOpen(func(ctx context.Context, c *fiberws.EventConn) error {
		go func() {
			version, err := fiberws.Ask[string](c.Context(), c, "version?", nil, 5*time.Second)
			if err != nil {
				return // ErrAskTimeout, ErrClosed…
			}
			_ = c.Send(fiberws.Event{Name: "welcome", Data: "firmware " + version})
		}()
		return nil
	}))
}

// Validating the bodies of ordinary routes: with a Validator configured,
// a body that fails its struct tags closes with 1007 naming the fields
// (or goes to the catchers as a *fiberws.ValidationError).
func ExampleNewValidator() {
	ws := fiberws.New(fiberws.Config{Validator: fiberws.NewValidator()})
	app := fiber.New()
	if err := ws.Register(app, Chat{}); err != nil {
		log.Fatal(err)
	}
}
