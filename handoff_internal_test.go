package fiberws

import (
	"context"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/fiberws/fiberws/fiberwstest"
)

// runnerName is how a handler sees the connection's runner: "inline" when
// it runs on the reader goroutine, "queued" when the worker runs it.
func runnerName(s *Session) string {
	if s.runner.Load() == runHandOff {
		return "queued"
	}
	return "inline"
}

// A connection handed off by a slow handler returns to running handlers
// inline once the worker has caught up, and can be handed off again.
func TestHandOffHandsReadingBack(t *testing.T) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	logger, _ := fiberwstest.NewLog(t)
	srv := New(Config{Logger: logger})
	route := WebSocket("/ws", func(_ context.Context, c *Conn[string], msg string) (string, error) {
		ran := runnerName(c.Session) // as it started
		if msg == "slow" {
			// Past the budget until the next message is read and queued
			// behind this one (1 + 1; bounded, should that never happen).
			for deadline := time.Now().Add(fiberwstest.DefaultTimeout); c.queued.Load() < 2 && time.Now().Before(deadline); {
				time.Sleep(inlineBudget)
			}
		}
		return ran, nil
	})
	if err := srv.Register(app, testController{route}); err != nil {
		t.Fatal(err)
	}
	c := fiberwstest.Serve(t, app).Dial(t, "/ws")
	for round := 0; round < 3; round++ {
		if got := roundTrip(c, "quick"); got != "inline" {
			t.Fatalf("round %d: quick message ran %s before the slow one", round, got)
		}
		c.SendText("slow")
		c.SendText("behind")
		if got := c.ReadText(); got != "inline" {
			t.Fatalf("round %d: the slow message ran %s", round, got)
		}
		// Read while the slow handler ran: queued behind it.
		if got := c.ReadText(); got != "queued" {
			t.Fatalf("round %d: the message behind the slow one ran %s", round, got)
		}
		// The worker is idle once it has counted its last message done
		// (just after replying): then the next message brings reading back.
		ran := ""
		for i := 0; i < 10 && ran != "inline"; i++ {
			ran = roundTrip(c, "after")
		}
		if ran != "inline" {
			t.Fatalf("round %d: after the queue drained, messages still ran %s", round, ran)
		}
	}
}

func roundTrip(c *fiberwstest.Client, msg string) string {
	c.SendText(msg)
	return c.ReadText()
}

type testController []Route

func (testController) Prefix() string    { return "" }
func (r testController) Routes() []Route { return r }
