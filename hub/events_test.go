package hub_test

import (
	"context"
	"testing"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hub"
	"github.com/gofiber/fiber/v2"
)

type sayIn struct {
	Room string `json:"room" validate:"required"`
	Text string `json:"text"`
}

// TestEventsToRooms: an event route's handlers join rooms and broadcast
// events to them; every other member gets the event, the sender its ack.
func TestEventsToRooms(t *testing.T) {
	h := hub.New()
	t.Cleanup(func() { _ = h.Close() })
	route := fiberws.Events("/gateway",
		fiberws.On("join", func(ctx context.Context, c *fiberws.EventConn, in sayIn) (fiberws.None, error) {
			_, err := h.Join(ctx, in.Room, c)
			return fiberws.None{}, err
		}),
		fiberws.On("say", func(ctx context.Context, c *fiberws.EventConn, in sayIn) (fiberws.None, error) {
			return fiberws.None{}, hub.Broadcast(ctx, h, in.Room, fiberws.Event{Name: "said", Data: in}, c)
		}),
	)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ws := fiberws.New()
	if err := ws.Register(app, eventsCtrl{route}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	t.Cleanup(func() {
		fiberwstest.Eventually(t, func() bool { return ws.Connections() == 0 }, "connections still open")
	})
	a, b, c := srv.Dial(t, "/gateway"), srv.Dial(t, "/gateway"), srv.Dial(t, "/gateway")
	for i, cl := range []*fiberwstest.Client{a, b, c} {
		cl.SendText(`{"event":"join","data":{"room":"r1"},"id":5}`)
		if got := cl.ReadText(); got != `{"event":"join","id":5}` {
			t.Fatalf("client %d join ack %s", i, got)
		}
	}
	a.SendText(`{"event":"say","data":{"room":"r1","text":"hi"},"id":7}`)
	if got := a.ReadText(); got != `{"event":"say","id":7}` {
		t.Fatalf("sender's ack %s", got)
	}
	for _, cl := range []*fiberwstest.Client{b, c} {
		if got := cl.ReadText(); got != `{"event":"said","data":{"room":"r1","text":"hi"}}` {
			t.Fatalf("member got %s", got)
		}
	}
}

type eventsCtrl struct{ route fiberws.Route }

func (eventsCtrl) Prefix() string            { return "" }
func (c eventsCtrl) Routes() []fiberws.Route { return []fiberws.Route{c.route} }
