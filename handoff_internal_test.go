package fiberws

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

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

// handlerMicros is a handler's duration in µs for the stress below: half
// quick, a tenth nothing, the rest 0.5–3 ms, around the inline budget.
func handlerMicros(r *rand.Rand) int {
	switch x := r.Intn(100); {
	case x < 50:
		return r.Intn(100)
	case x < 60:
		return 0
	default:
		return 500 + r.Intn(2500)
	}
}

// Handlers around the budget, some waiting for the client's answer to an
// Ask: reading moves between goroutines over and over, and every move
// leaves someone reading, so every answer arrives in time and every reply
// comes once, in order. (A hand-back racing the timer's own hand-off once
// left a resumed handler running with no budget timer and nobody reading:
// its Ask timed out.)
func TestAskAcrossHandOffs(t *testing.T) {
	for _, qs := range []int{1, 2, 16} {
		t.Run(fmt.Sprint("queue", qs), func(t *testing.T) {
			app := fiber.New(fiber.Config{DisableStartupMessage: true})
			logger, _ := fiberwstest.NewLog(t)
			srv := New(Config{Logger: logger, QueueSize: qs})
			route := Events("/ev",
				On("ask", func(ctx context.Context, c *EventConn, q int) (int, error) {
					a, err := Ask[int](ctx, c, "question", q, 2*time.Second)
					if err != nil {
						s := c.Session
						t.Errorf("queue %d, ask %d: %v (runner %d, budget armed %v, queued %d)", qs, q, err, s.runner.Load(), s.budgetArmed.Load(), s.queued.Load())
						return 0, &ErrorReply{Message: err.Error()}
					}
					return a, nil
				}),
				On("work", func(ctx context.Context, c *EventConn, us int) (int, error) {
					time.Sleep(time.Duration(us) * time.Microsecond)
					return us, nil
				}))
			if err := srv.Register(app, testController{route}); err != nil {
				t.Fatal(err)
			}
			h := fiberwstest.Serve(t, app)
			var wg sync.WaitGroup
			for ci := 0; ci < 4; ci++ {
				c := h.Dial(t, "/ev")
				wg.Add(1)
				go func(seed int64) {
					defer wg.Done()
					askClient(t, c, rand.New(rand.NewSource(seed)), qs)
				}(int64(qs*10 + ci))
			}
			wg.Wait()
		})
	}
}

// askClient sends 300 events (a quarter of them asks), never more in
// flight than the queue holds (an answer behind a full queue would wait
// for the Ask's timeout by design), answers the questions and checks the
// replies' order.
func askClient(t *testing.T, c *fiberwstest.Client, r *rand.Rand, window int) {
	conn := c.Conn()
	var wmu sync.Mutex
	write := func(s string) error {
		wmu.Lock()
		defer wmu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(2 * c.Timeout()))
		return conn.WriteMessage(websocket.TextMessage, []byte(s))
	}
	const n = 300
	inFlight := make(chan struct{}, window)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; i < n; i++ {
			select {
			case inFlight <- struct{}{}:
			case <-stop:
				return
			}
			var err error
			if r.Intn(4) == 0 {
				err = write(fmt.Sprintf(`{"event":"ask","data":%d,"id":%d}`, i, i))
			} else {
				err = write(fmt.Sprintf(`{"event":"work","data":%d,"id":%d}`, handlerMicros(r), i))
			}
			if err != nil {
				return
			}
			if r.Intn(4) == 0 {
				time.Sleep(time.Duration(r.Intn(1500)) * time.Microsecond) // the sender's pace
			}
		}
	}()
	for next := 0; next < n; {
		_ = conn.SetReadDeadline(time.Now().Add(2 * c.Timeout()))
		_, data, err := conn.ReadMessage()
		if err != nil {
			t.Errorf("read: %v (waiting for reply %d)", err, next)
			return
		}
		var f struct {
			Event string          `json:"event"`
			Data  json.RawMessage `json:"data"`
			ID    *int            `json:"id"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			t.Errorf("%s: %v", data, err)
			return
		}
		if f.Event == "question" {
			if err := write(fmt.Sprintf(`{"event":"ack","id":%d,"data":%s}`, *f.ID, f.Data)); err != nil {
				t.Errorf("answer: %v", err)
				return
			}
			continue
		}
		if f.ID == nil || *f.ID != next || f.Event == "error" {
			t.Errorf("reply %s, want the acknowledgement of %d", data, next)
			return
		}
		next++
		<-inFlight
	}
}
