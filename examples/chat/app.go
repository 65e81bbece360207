package main

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
)

//go:embed static
var static embed.FS

// newApp builds the whole program: the page, the join check and the chat
// route, with a hub for the rooms. The caller closes the hub after the app
// has shut down.
func newApp(logger *slog.Logger) (*fiber.App, *hub.Hub, error) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true, AppName: "fiberws chat"})
	rooms := hub.New()
	chat := NewChat(rooms)

	// App-scope lifecycle: one log line per connection (route, duration,
	// close code, messages and bytes each way) and per rejected request.
	ws := fiberws.New(fiberws.Config{
		Logger:    logger,
		Observers: []fiberws.Observer{hooks.SlogObserver(logger)},
	})
	if err := ws.Register(app, chat); err != nil {
		return nil, nil, err
	}

	// The page asks here before it opens the socket: a browser cannot read
	// the HTTP status of a rejected WebSocket upgrade, so this runs the
	// same check as the guard and returns its message.
	app.Get("/api/check", func(c *fiber.Ctx) error {
		if err := chat.checkJoin(c.Query("room"), c.Query("name")); err != nil {
			return c.Status(err.Code).JSON(fiber.Map{"ok": false, "error": err.Message})
		}
		return c.JSON(fiber.Map{"ok": true})
	})

	page, err := fs.Sub(static, "static")
	if err != nil {
		return nil, nil, err
	}
	app.Use("/", filesystem.New(filesystem.Config{Root: http.FS(page), Index: "index.html"}))
	return app, rooms, nil
}
