package hooks_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"
)

// logLines is what log holds, a line each.
func logLines(log *fiberwstest.Log) []string {
	return strings.Split(strings.TrimSpace(log.String()), "\n")
}

// TestMain checks that the servers of this package's tests leave nothing
// running.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

// routes is a controller of routes at the root.
type routes []fiberws.Route

func (routes) Prefix() string            { return "" }
func (r routes) Routes() []fiberws.Route { return r }

// TestSlogObserverLevels: refusals with a 4xx status and closes the app
// or a limit chose are Info; a handler's failure (1011) is Warn.
func TestSlogObserverLevels(t *testing.T) {
	var buf fiberwstest.Log
	obs := hooks.SlogObserver(slog.New(slog.NewTextHandler(&buf, nil)))
	ws := fiberws.New(fiberws.Config{Observers: []hooks.Observer{obs}})
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	err := ws.Register(app, routes{
		fiberws.WebSocket("/ws", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
			switch msg {
			case "quota":
				return "", &fiberws.CloseError{Code: 4000, Reason: "quota exceeded"}
			case "fail":
				return "", errors.New("database down")
			}
			return msg, nil
		}, fiberws.WithReadLimit(64), fiberws.WithGuards(hooks.GuardFunc(func(c *fiber.Ctx) error {
			switch c.Query("token") {
			case "":
				return fiber.ErrUnauthorized
			case "down":
				return fiber.ErrServiceUnavailable
			}
			return nil
		}))),
	})
	if err != nil {
		t.Fatal(err)
	}
	h := fiberwstest.Serve(t, app)
	want := []struct{ level, attr string }{
		{"INFO", "status=401"},
		{"WARN", "status=503"},
		{"INFO", "status=426"},
		{"INFO", "close_code=4000"},
		{"INFO", "close_code=1009"},
		{"WARN", "close_code=1011"},
	}
	if _, resp, _ := h.TryDial("/ws"); resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %v", resp)
	}
	if _, resp, _ := h.TryDial("/ws?token=down"); resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("token down: %v", resp)
	}
	resp, err := http.Get(h.HTTPURL("/ws?token=x")) // a plain GET: 426
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	for _, msg := range []string{"quota", strings.Repeat("x", 100), "fail"} {
		c := h.Dial(t, "/ws?token=x")
		c.SendText(msg)
		c.ExpectClose()
		h.Eventually(t, func() bool { return ws.Connections() == 0 }, "connections still open: %d", fiberwstest.Later(func() any { return ws.Connections() }))
	}
	fiberwstest.Eventually(t, func() bool { return len(logLines(&buf)) >= len(want) }, "log lines: %v", fiberwstest.Later(func() any { return logLines(&buf) }))
	lines := logLines(&buf)
	for i, w := range want {
		if !strings.Contains(lines[i], "level="+w.level) || !strings.Contains(lines[i], w.attr) {
			t.Errorf("line %d: %s\nwant level %s with %s", i, lines[i], w.level, w.attr)
		}
	}
}
