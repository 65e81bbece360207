package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hub"
	"github.com/fiberws/fiberws/middleware/asyncapi"
	"github.com/gofiber/fiber/v2"
)

// options are the gateway's settings: its flags, and the logger.
type options struct {
	logger *slog.Logger
	// ackTimeout bounds how long an ask waits for the client's answer, so
	// that a client that never answers cannot hold its handler forever.
	ackTimeout time.Duration
}

// defaultOptions are the flags' defaults.
var defaultOptions = options{ackTimeout: 5 * time.Second}

// newApp builds the whole program: the /gateway event route, with a hub
// for its rooms. The caller calls closeRooms after the app has shut down.
func newApp(opts options) (app *fiber.App, closeRooms func(), err error) {
	if opts.logger == nil {
		opts.logger = slog.Default()
	}
	// The production setup of SECURITY.md: a request (the upgrade
	// included) must arrive within ReadTimeout, an idle keep-alive
	// connection is closed after IdleTimeout, and at most Concurrency
	// connections are served before their upgrade.
	app = fiber.New(fiber.Config{
		DisableStartupMessage: true,
		AppName:               "fiberws gateway",
		ReadTimeout:           10 * time.Second,
		IdleTimeout:           time.Minute,
		Concurrency:           4096,
	})
	rooms := hub.New()
	ws := fiberws.New(fiberws.Config{Logger: opts.logger})
	if err := ws.Register(app, &gateway{rooms: rooms, ackTimeout: opts.ackTimeout}); err != nil {
		_ = rooms.Close()
		return nil, nil, err
	}
	// The gateway's events, their data and acknowledgements: the page at
	// /asyncapi, the AsyncAPI 3 document at /asyncapi.json and .yaml.
	app.Use(asyncapi.New(asyncapi.Config{
		Server: ws,
		Info:   asyncapi.Info{Title: "fiberws gateway", Version: "1.0.0", Description: "Events with acknowledgements and validation on one socket, rooms, and server-to-client asks."},
	}))
	return app, func() { _ = rooms.Close() }, nil
}

// gateway is the controller of the event route.
type gateway struct {
	rooms      *hub.Hub
	ackTimeout time.Duration
}

// Prefix mounts the route at the root.
func (*gateway) Prefix() string { return "" }

// Routes is the one event route; each On is one event.
func (g *gateway) Routes() []fiberws.Route {
	return []fiberws.Route{fiberws.Events("/gateway",
		fiberws.On("add", add),
		fiberws.On("join", g.join),
		fiberws.On("say", g.say),
		fiberws.On("ask", g.ask),
		fiberws.WithDoc(fiberws.Doc{
			Title:       "Gateway",
			Summary:     "Events with acknowledgements on one socket.",
			Description: "Send {\"event\": NAME, \"data\": …, \"id\": N}; with an id, the server acknowledges with the same event and id. Members of a room get \"said\" events (no id) from the others; \"ask\" makes the server ask the client a \"question\", answered with {\"event\": \"ack\", \"id\": S, \"data\": …}.",
		}),
	)}
}

// addIn is the data of add. The fields are pointers so that a missing
// one fails "required" while 0 stays a number like any other.
type addIn struct {
	A *int `json:"a" validate:"required"`
	B *int `json:"b" validate:"required"`
}

// add needs no checks of its own: the data reaches it decoded and
// validated, and what fails is answered with an error reply naming the
// field.
func add(_ context.Context, _ *fiberws.EventConn, in addIn) (int, error) {
	return *in.A + *in.B, nil
}

type roomIn struct {
	Room string `json:"room" validate:"required"`
}

// join adds the connection to a room; it leaves by itself on close.
func (g *gateway) join(ctx context.Context, c *fiberws.EventConn, in roomIn) (fiberws.None, error) {
	_, err := g.rooms.Join(ctx, in.Room, c)
	return fiberws.None{}, err
}

// sayIn is the data of say, and of the said event it becomes.
type sayIn struct {
	Room string `json:"room" validate:"required"`
	Text string `json:"text" validate:"required"`
}

// say sends the text to the room's other members: the sender has it
// already, and gets the acknowledgement instead. Only members speak.
func (g *gateway) say(ctx context.Context, c *fiberws.EventConn, in sayIn) (fiberws.None, error) {
	if !g.rooms.InRoom(in.Room, c) {
		return fiberws.None{}, &fiberws.ErrorReply{Message: "join the room first", Fields: map[string]string{"room": "not joined"}}
	}
	return fiberws.None{}, hub.Broadcast(ctx, g.rooms, in.Room, fiberws.Event{Name: "said", Data: in}, c)
}

type askIn struct {
	Question string `json:"question" validate:"required"`
}

// ask puts the question to the client and acknowledges with its answer,
// whatever JSON it is. Waiting here is fine: answers are matched as they
// are read, not queued behind this handler.
func (g *gateway) ask(ctx context.Context, c *fiberws.EventConn, in askIn) (json.RawMessage, error) {
	answer, err := fiberws.Ask[json.RawMessage](ctx, c, "question", in.Question, g.ackTimeout)
	if errors.Is(err, fiberws.ErrAskTimeout) {
		// The client's own fault, so it is told; other errors are the
		// server's (or the connection is gone) and stay in the log.
		return nil, &fiberws.ErrorReply{Message: fmt.Sprintf("no answer to the question: timeout after %v", g.ackTimeout)}
	}
	return answer, err
}
