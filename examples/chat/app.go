package main

import (
	"embed"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
	fwprom "github.com/fiberws/fiberws/metrics/prometheus"
	"github.com/fiberws/fiberws/middleware/asyncapi"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/middleware/filesystem"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed static
var static embed.FS

// options are the chat's settings: its flags, and the logger.
type options struct {
	logger *slog.Logger
	// readTimeout bounds how long a request (the WebSocket upgrade
	// included) may take to arrive: connections that send nothing, or a
	// byte at a time, are closed after it.
	readTimeout time.Duration
	// maxPerIP caps the chat connections of one client address.
	maxPerIP int
	// ping is the keep-alive interval (and pong timeout) of the chat
	// route: a client that stops reading is closed once a ping it cannot
	// see behind the messages it did not read goes unanswered.
	ping time.Duration
	// broker, when set, is the hub's Broker (and Presence and History):
	// hub/redisbroker, to run the chat on many nodes (-redis).
	broker hub.Broker
}

// defaultOptions are the flags' defaults.
var defaultOptions = options{readTimeout: 10 * time.Second, maxPerIP: 50, ping: 5 * time.Second}

// newApp builds the whole program: the page, the join check and the chat
// route, with a hub for the rooms. The caller closes the hub after the app
// has shut down.
func newApp(opts options) (*fiber.App, *hub.Hub, error) {
	// The production setup of SECURITY.md ("Set these in Fiber too"): a
	// request must arrive within ReadTimeout, an idle keep-alive
	// connection is closed after IdleTimeout, and at most Concurrency
	// connections are served before their upgrade, so that they and the
	// WebSocket connections (MaxConnections) stay below the open-files
	// limit. main also wraps the listener (package listener), so that
	// running out of descriptors anyway does not stop the server.
	app := fiber.New(fiber.Config{
		DisableStartupMessage: true,
		AppName:               "fiberws chat",
		ReadTimeout:           opts.readTimeout,
		IdleTimeout:           time.Minute,
		Concurrency:           4096,
	})
	hcfg := hub.Config{}
	if opts.broker != nil {
		hcfg.Broker = opts.broker // many nodes: rooms, presence and history in Redis
	}
	rooms := hub.New(HubConfig(hcfg))
	chat := NewChat(rooms, opts.ping)

	// Live Prometheus metrics (connections, messages, bytes, rejections,
	// handler and connection times, rooms), scraped at GET /metrics. A
	// registry of the app's own, so that apps built side by side (the
	// tests) do not collide on the global one.
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics, err := fwprom.New(fwprom.Config{Registerer: registry})
	if err != nil {
		_ = rooms.Close()
		return nil, nil, err
	}
	metrics.WatchHub(rooms)
	app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(registry, promhttp.HandlerOpts{})))

	// App-scope lifecycle: one log line per connection (route, duration,
	// close code, messages and bytes each way) and per rejected request.
	ws := fiberws.New(fiberws.Config{
		Logger:              opts.logger,
		Observers:           []hooks.Observer{hooks.SlogObserver(opts.logger), metrics},
		MaxConnections:      10000,
		MaxConnectionsPerIP: opts.maxPerIP,
	})
	if err := ws.Register(app, chat); err != nil {
		return nil, nil, err
	}

	// The page asks here before it opens the socket: a browser cannot read
	// the HTTP status of a rejected WebSocket upgrade, so this runs the
	// same check as the guard and returns its message.
	app.Get("/api/check", func(c *fiber.Ctx) error {
		if err := chat.checkJoin(c.UserContext(), c.Query("room"), c.Query("name")); err != nil {
			return c.Status(err.Code).JSON(fiber.Map{"ok": false, "error": err.Message})
		}
		return c.JSON(fiber.Map{"ok": true})
	})

	// The chat's protocol: the page at /asyncapi, the AsyncAPI 3 document
	// at /asyncapi.json and /asyncapi.yaml.
	app.Use(asyncapi.New(asyncapi.Config{
		Server: ws,
		Info:   asyncapi.Info{Title: "fiberws chat", Version: "1.0.0", Description: "Rooms with presence and history; one WebSocket per member."},
	}))

	page, err := fs.Sub(static, "static")
	if err != nil {
		return nil, nil, err
	}
	app.Use("/", filesystem.New(filesystem.Config{Root: http.FS(page), Index: "index.html"}))
	return app, rooms, nil
}
