// Command chat is fiberws's main example: a browser chat with rooms.
//
//	go run ./examples/chat            # then open http://localhost:8080
//	go run ./examples/chat -addr 127.0.0.1:9000
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
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address (host:port; port 0 picks a free one)")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	app, rooms, err := newApp(logger)
	if err != nil {
		logger.Error("setup", "error", err)
		os.Exit(1)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		logger.Error("listen", "error", err)
		os.Exit(1)
	}
	fmt.Printf("fiberws chat: open %s in a browser (Ctrl+C to stop)\n", pageURL(ln.Addr()))

	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
		<-stop
		// Shutting the app down also closes every WebSocket with 1001.
		_ = app.Shutdown()
	}()
	if err := app.Listener(ln); err != nil {
		logger.Error("serve", "error", err)
		os.Exit(1)
	}
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
