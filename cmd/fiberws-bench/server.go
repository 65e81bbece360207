package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/goccy/go-json"
	contribws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
	fwprom "github.com/fiberws/fiberws/metrics/prometheus"
)

// Server kinds a child process can run (-serve).
const (
	kindRaw     = "raw"     // contrib/websocket, hand-written ReadMessage/WriteMessage echo
	kindRawJSON = "rawjson" // the same loop, decoding and encoding with go-json
	kindString  = "string"  // fiberws string route
	kindJSON    = "json"    // fiberws JSON route
	// kindRawEvent is the go-json loop with an event envelope around the
	// payload: it decodes {"event","data","id"} into a struct, checks the
	// event's name and encodes the acknowledgement.
	kindRawEvent = "rawevent"
	kindEvent    = "event" // fiberws event route (Events) with one "echo" event
	// kindStringMetrics is the string route with live Prometheus metrics
	// (metrics/prometheus) observing it.
	kindStringMetrics = "stringmetrics"
)

// payload is the JSON message of the JSON echo runs.
type payload struct {
	ID   int64  `json:"id"`
	User string `json:"user"`
	Text string `json:"text"`
	TS   int64  `json:"ts"`
}

// envelope is an event frame as the raw event loop decodes and encodes
// it: {"event":"echo","data":{…},"id":N}.
type envelope struct {
	Event string  `json:"event"`
	Data  payload `json:"data"`
	ID    *uint64 `json:"id,omitempty"`
}

// echoEvent is the name of the event route's one event.
const echoEvent = "echo"

// stats is what a child reports on its control endpoint.
type stats struct {
	Mallocs    uint64 `json:"mallocs"`
	TotalAlloc uint64 `json:"total_alloc"`
	Goroutines int    `json:"goroutines"`
	HeapInuse  uint64 `json:"heap_inuse"`
	StackInuse uint64 `json:"stack_inuse"`
}

func readStats() stats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return stats{
		Mallocs:    ms.Mallocs,
		TotalAlloc: ms.TotalAlloc,
		Goroutines: runtime.NumGoroutine(),
		HeapInuse:  ms.HeapInuse,
		StackInuse: ms.StackInuse,
	}
}

// serve runs a server child: it listens on a loopback port, prints
// "READY host:port" on stdout and exits when stdin closes (the parent
// went away or is done with it). With redisURL, the fiberws kinds' hub
// uses a Redis broker on it (the scale scenario's nodes).
func serve(kind string, ping time.Duration, profDir, redisURL string) error {
	if profDir != "" {
		runtime.MemProfileRate = 4096
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	bc := newBroadcaster()
	controlRoutes(app, profDir, bc)

	switch kind {
	case kindRaw, kindRawJSON, kindRawEvent:
		echo := rawEcho
		switch kind {
		case kindRawJSON:
			echo = rawJSONEcho
		case kindRawEvent:
			echo = rawEventEcho
		}
		app.Get("/ws", contribws.New(func(c *contribws.Conn) {
			if ping > 0 {
				stop := rawKeepalive(c, ping)
				defer stop()
			}
			echo(c)
		}))
		app.Get("/bc", contribws.New(bc.rawMember))
	case kindString, kindJSON, kindEvent, kindStringMetrics:
		var opts []fiberws.Option
		if ping > 0 {
			opts = append(opts, fiberws.WithPing(ping, 2*ping))
		}
		route := fiberws.WebSocket("/ws", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
			return msg, nil
		}, opts...)
		switch kind {
		case kindJSON:
			route = fiberws.WebSocket("/ws", func(_ context.Context, _ *fiberws.Conn[payload], msg payload) (payload, error) {
				return msg, nil
			}, opts...)
		case kindEvent:
			route = fiberws.Events("/ws", append(opts, fiberws.On(echoEvent, func(_ context.Context, _ *fiberws.EventConn, in payload) (payload, error) {
				return in, nil
			}))...)
		}
		bcRoute, err := bc.hubRoute(redisURL)
		if err != nil {
			return err
		}
		routes := []fiberws.Route{route, bcRoute}
		cfg := fiberws.Config{MaxConnections: -1}
		if kind == kindStringMetrics {
			registry := prometheus.NewRegistry()
			metrics, err := fwprom.New(fwprom.Config{Registerer: registry})
			if err != nil {
				return err
			}
			cfg.Observers = []hooks.Observer{metrics}
			app.Get("/metrics", adaptor.HTTPHandler(promhttp.HandlerFor(registry, promhttp.HandlerOpts{})))
		}
		if err := fiberws.New(cfg).Register(app, benchCtrl{routes: routes}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown server kind %q", kind)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("READY %s\n", ln.Addr())
	go func() {
		// The parent holds our stdin; EOF means it is done with us.
		_, _ = io.Copy(io.Discard, bufio.NewReader(os.Stdin))
		os.Exit(0)
	}()
	return app.Listener(ln)
}

type benchCtrl struct{ routes []fiberws.Route }

func (benchCtrl) Prefix() string            { return "" }
func (c benchCtrl) Routes() []fiberws.Route { return c.routes }

func rawEcho(c *contribws.Conn) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, msg); err != nil {
			return
		}
	}
}

func rawJSONEcho(c *contribws.Conn) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		var p payload
		if err := json.Unmarshal(msg, &p); err != nil {
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, out); err != nil {
			return
		}
	}
}

// rawEventEcho is what a hand-written contrib server of events does per
// message: decode the envelope and its data with go-json, route on the
// event's name, and encode the acknowledgement (the same event, its data
// the result, the request's id) when the request has an id. An unknown
// event or a frame that does not decode closes the connection.
func rawEventEcho(c *contribws.Conn) {
	for {
		mt, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		var e envelope
		if err := json.Unmarshal(msg, &e); err != nil {
			return
		}
		if e.Event != echoEvent {
			return
		}
		if e.ID == nil {
			continue
		}
		out, err := json.Marshal(e)
		if err != nil {
			return
		}
		if err := c.WriteMessage(mt, out); err != nil {
			return
		}
	}
}

// rawKeepalive is the keep-alive a hand-written contrib server has: a
// goroutine and ticker per connection pinging, and a read deadline that
// each pong extends.
func rawKeepalive(c *contribws.Conn, interval time.Duration) (stop func()) {
	wait := 2 * interval
	_ = c.SetReadDeadline(time.Now().Add(wait))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(wait)) })
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := c.WriteControl(9 /* ping */, nil, time.Now().Add(10*time.Second)); err != nil {
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// controlRoutes are the child's control endpoint: statistics, GC,
// profiling and broadcast triggers, all plain HTTP on the same listener.
func controlRoutes(app *fiber.App, profDir string, bc *broadcaster) {
	app.Get("/ctl/stats", func(c *fiber.Ctx) error { return c.JSON(readStats()) })
	app.Get("/ctl/gc", func(c *fiber.Ctx) error {
		runtime.GC()
		debug.FreeOSMemory()
		return c.JSON(readStats())
	})
	var cpuFile *os.File
	var profMu sync.Mutex
	app.Get("/ctl/prof/start", func(c *fiber.Ctx) error {
		profMu.Lock()
		defer profMu.Unlock()
		if profDir == "" || cpuFile != nil {
			return c.SendStatus(fiber.StatusNoContent)
		}
		f, err := os.Create(filepath.Join(profDir, c.Query("name")+".cpu.pprof"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			_ = f.Close()
			return err
		}
		cpuFile = f
		return c.SendStatus(fiber.StatusNoContent)
	})
	app.Get("/ctl/prof/stop", func(c *fiber.Ctx) error {
		profMu.Lock()
		defer profMu.Unlock()
		if cpuFile == nil {
			return c.SendStatus(fiber.StatusNoContent)
		}
		pprof.StopCPUProfile()
		_ = cpuFile.Close()
		cpuFile = nil
		f, err := os.Create(filepath.Join(profDir, c.Query("name")+".allocs.pprof"))
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.Lookup("allocs").WriteTo(f, 0)
	})
	app.Get("/ctl/broadcast", func(c *fiber.Ctx) error {
		n, err := bc.broadcast(c.Query("msg"), c.Query("mode") == "loop")
		if err != nil {
			return err
		}
		return c.SendString(strconv.Itoa(n))
	})
	app.Get("/ctl/members", func(c *fiber.Ctx) error { return c.SendString(strconv.Itoa(bc.members())) })
	app.Get("/ctl/burst", func(c *fiber.Ctx) error {
		return c.JSON(bc.burst(c.QueryInt("n", 1000), c.QueryInt("size", 62)))
	})
}
