package main

import (
	"io"
	"log/slog"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
	"github.com/fiberws/fiberws/middleware/asyncapi"
	"github.com/gofiber/fiber/v2"
)

// options are the tour's settings: the command-line flags, plus the logger
// so tests can read what the receive-only route logged.
type options struct {
	ping        time.Duration // /heartbeat ping interval
	pingTimeout time.Duration // /heartbeat pong timeout; 0: one ping interval
	notifyEvery time.Duration // /notifications/* interval
	asyncDelay  time.Duration // /messages/async processing time
	logger      *slog.Logger  // nil: discard
}

// tour is the running program: the Fiber app and the shared services its
// controllers use.
type tour struct {
	app           *fiber.App
	chat          *hub.Hub             // the /chat/room broadcasts
	notifications *notificationService // behind /notifications/stream
	resources     *resourceService     // held by /data connections
}

// newTour builds the tour: one Fiber app, one fiberws Server, one
// controller per group of reference sections. The notification service
// starts now; call Close after the app has shut down.
func newTour(opts options) (*tour, error) {
	if opts.logger == nil {
		opts.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	t := &tour{
		// SECURITY.md's production setup: a request (the upgrade included)
		// must arrive within ReadTimeout, and at most Concurrency
		// connections are served before their upgrade.
		app: fiber.New(fiber.Config{
			DisableStartupMessage: true,
			ReadTimeout:           10 * time.Second,
			IdleTimeout:           time.Minute,
			Concurrency:           4096,
		}),
		chat:          hub.New(),
		notifications: newNotificationService(opts.notifyEvery),
		resources:     &resourceService{},
	}
	srv := fiberws.New(fiberws.Config{
		Logger: opts.logger,
		// One log line per connection when it ends: the reference's
		// post-connection observer ("WebSocket Lifecycle", step 7).
		Observers: []hooks.Observer{hooks.SlogObserver(opts.logger)},
		// App scope: runs around every message of every route. It records
		// only on connections that carry a trace, i.e. /lifecycle/trace.
		Interceptors: []hooks.Interceptor{stageRecorder("app")},
	})
	// One controller per group of reference sections; README.md maps
	// each section to its route and file.
	err := srv.Register(t.app,
		ChatController{rooms: t.chat},
		ModesController{logger: opts.logger},
		MessagesController{asyncDelay: opts.asyncDelay},
		NotificationsController{every: opts.notifyEvery, service: t.notifications},
		CloseController{},
		AdvancedController{ping: opts.ping, pingTimeout: opts.pingTimeout},
		UploadController{},
		DataController{resources: t.resources},
		LifecycleController{},
	)
	if err != nil {
		t.Close()
		return nil, err
	}
	// A plain HTTP route beside the WebSocket ones: how many resources the
	// /data connections hold right now.
	t.app.Get("/stats", t.resources.stats)
	// The protocol of every route above, for client teams: the page at
	// /asyncapi, the AsyncAPI 3 document at /asyncapi.json and .yaml.
	t.app.Use(asyncapi.New(asyncapi.Config{
		Server: srv,
		Info: asyncapi.Info{
			Title:       "fiberws tour",
			Version:     "1.0.0",
			Description: "Every feature of revali's WebSocket chapter as a fiberws route; README.md maps sections to routes.",
		},
	}))
	return t, nil
}

// Close stops the shared services. Call it once the app has shut down
// (which closed every connection and ran their cleanups).
func (t *tour) Close() {
	_ = t.chat.Close()
	t.notifications.Stop()
}
