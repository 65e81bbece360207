package fiberws_test

import (
	"context"
	"testing"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/gofiber/fiber/v2"
)

type echoCtrl struct{}

func (echoCtrl) Prefix() string { return "/chat" }
func (echoCtrl) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/messages", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			return "Echo: " + msg, nil
		}),
	}
}

func TestSmokeEcho(t *testing.T) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if err := fiberws.Register(app, echoCtrl{}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	c := srv.Dial(t, "/chat/messages")
	c.SendText("a")
	c.SendText("b")
	if got := c.ReadText(); got != "Echo: a" {
		t.Fatalf("got %q", got)
	}
	if got := c.ReadText(); got != "Echo: b" {
		t.Fatalf("got %q", got)
	}
	if code := c.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close code %d", code)
	}
}
