package hooks_test

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
	"github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
)

// SlogObserver logs one line per connection when it ends.
func ExampleSlogObserver() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "duration" {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	}))
	obs := hooks.SlogObserver(logger)
	obs.OnSummary(hooks.Summary{
		Route: "/chat/:room", Path: "/chat/go", IP: "127.0.0.1",
		Start: time.Now(), CloseCode: 1000, ClosedBy: hooks.ByClient,
		MessagesIn: 3, MessagesOut: 3, BytesIn: 42, BytesOut: 51,
	})
	// Output: level=INFO msg="websocket closed" route=/chat/:room path=/chat/go ip=127.0.0.1 closed_by=client close_code=1000 msgs_in=3 msgs_out=3 bytes_in=42 bytes_out=51
}

// GuardFunc turns a function into a guard. Returning a *fiber.Error
// rejects the upgrade with its status; nil lets it through.
func ExampleGuardFunc() {
	tokenGuard := hooks.GuardFunc(func(c *fiber.Ctx) error {
		if c.Query("token") != "letmein" {
			return fiber.NewError(fiber.StatusUnauthorized, "token required")
		}
		return nil
	})
	_ = fiberws.New(fiberws.Config{Guards: []hooks.Guard{tokenGuard}})
}

// An interceptor that trims incoming text and refuses long messages; with
// the catcher below the client is told and the connection stays open.
func ExamplePreFunc() {
	errTooLong := &fiberws.CloseError{Code: 1009, Reason: "message too long"}
	trim := hooks.PreFunc(func(_ context.Context, _ hooks.Peer, m *hooks.Message) error {
		m.Data = []byte(strings.TrimSpace(string(m.Data)))
		if len(m.Data) > 280 {
			return errTooLong
		}
		return nil
	})
	tooLong := hooks.CatchIs(errTooLong, func(context.Context, hooks.Peer, error) hooks.Outcome {
		return hooks.Reply("message too long")
	})
	_ = fiberws.New(fiberws.Config{
		Interceptors: []hooks.Interceptor{trim},
		Catchers:     []hooks.Catcher{tooLong},
	})
}

// CatchAs handles one error type: here a JSON body that does not decode
// gets an error reply instead of closing the connection with 1007.
func ExampleCatchAs() {
	badJSON := hooks.CatchAs(func(_ context.Context, _ hooks.Peer, err *fiberws.DecodeError) hooks.Outcome {
		msg, _ := json.Marshal(map[string]string{"error": "invalid message"})
		return hooks.Outcome{Reply: &hooks.Message{Type: hooks.Text, Data: msg}}
	})
	_ = fiberws.New(fiberws.Config{Catchers: []hooks.Catcher{badJSON}})
}
