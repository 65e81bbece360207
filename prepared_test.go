package fiberws_test

import (
	"context"
	"testing"

	"github.com/fiberws/fiberws"
)

func TestSendPrepared(t *testing.T) {
	t.Parallel()
	p, err := fiberws.Prepare(reply{Line: "broadcast"})
	if err != nil {
		t.Fatal(err)
	}
	h := serveRoutes(t, fiberws.WebSocket("/p", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		if err := c.SendPrepared(p); err != nil {
			return "", err
		}
		return "after", nil
	}))
	for range 2 {
		c := h.Dial(t, "/p")
		c.SendText("x")
		if got := c.ReadText(); got != `{"line":"broadcast","count":0}` {
			t.Fatalf("got %q", got)
		}
		if got := c.ReadText(); got != "after" {
			t.Fatalf("got %q", got)
		}
	}
}
