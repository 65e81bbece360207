// Command chat is fiberws's main example: a browser chat with rooms.
//
//	go run ./examples/chat            # then open http://localhost:8080
//	go run ./examples/chat -addr 127.0.0.1:9000 -read-timeout 10s -max-per-ip 50 -ping 5s
//	go run ./examples/chat -redis redis://127.0.0.1:6379/0 -addr :8081   # a node of many
//
// Pick a name and a room, see who is there, and chat live; every tab in
// the same room sees each message at once. One Go process serves the page
// (HTML, CSS and JS embedded with go:embed, no build step) and the
// WebSocket route ws://host/ws/:room?name=NAME.
//
// The code shows the pieces of fiberws in use: a controller with one
// typed JSON route (chat.go), the hub for rooms and broadcast, a guard that
// checks the name before the upgrade, an interceptor that trims and limits
// messages, and a slog observer that logs one line per connection.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fiberws/fiberws/hub/redisbroker"
	"github.com/fiberws/fiberws/listener"
)

func main() {
	opts := defaultOptions
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free one)")
	flag.DurationVar(&opts.readTimeout, "read-timeout", opts.readTimeout, "how long a request (the upgrade included) may take to arrive")
	flag.IntVar(&opts.maxPerIP, "max-per-ip", opts.maxPerIP, "chat connections allowed from one client address (0: no cap)")
	flag.DurationVar(&opts.ping, "ping", opts.ping, "keep-alive ping interval and pong timeout")
	redisURL := flag.String("redis", "", "Redis URL (redis://host:6379/0) to share rooms, presence and history with other nodes; empty: this process alone")
	flag.Parse()

	opts.logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if *redisURL != "" {
		b, err := redisbroker.New(redisbroker.Config{URL: *redisURL, Logger: opts.logger})
		if err != nil {
			opts.logger.Error("redis", "error", err)
			os.Exit(1)
		}
		defer b.Close() // after the hub (deferred below runs first)
		opts.broker = b
	}
	app, rooms, err := newApp(opts)
	if err != nil {
		opts.logger.Error("setup", "error", err)
		os.Exit(1)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		opts.logger.Error("listen", "error", err)
		os.Exit(1)
	}
	fmt.Printf("fiberws chat: open %s in a browser (Ctrl+C to stop)\n", pageURL(ln.Addr()))

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	shutDown := make(chan struct{})
	go func() {
		<-stop
		// Shutting the app down also closes every WebSocket with 1001 and
		// waits for them.
		_ = app.ShutdownWithTimeout(10 * time.Second)
		close(shutDown)
	}()
	// listener.New keeps accepting when a flood of connections takes every
	// file descriptor for a moment (fasthttp alone would stop serving).
	if err := app.Listener(listener.New(ln, listener.Config{Logger: opts.logger})); err != nil {
		opts.logger.Error("serve", "error", err)
		os.Exit(1)
	}
	// Listener returns as soon as the shutdown begins: exiting now would
	// drop the WebSockets (1006) before their close frames go out.
	<-shutDown
	_ = rooms.Close()
}

// pageURL is the address a browser on this machine opens.
func pageURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
