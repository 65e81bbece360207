// Command gateway is a runnable example of fiberws's event routes: one
// WebSocket, ws://host/gateway, that carries many kinds of message, each
// an envelope naming its event, dispatched to a typed handler and
// acknowledged with the request's id.
//
//	go run ./examples/gateway
//	go run ./examples/gateway -addr 127.0.0.1:9000 -ack-timeout 2s
//
// The frames, client (>) and server (<):
//
//	> {"event":"add","data":{"a":2,"b":40},"id":1}
//	< {"event":"add","data":42,"id":1}
//	> {"event":"add","data":{"a":2},"id":2}
//	< {"event":"error","data":{"message":"invalid data for event \"add\"","fields":{"b":"required"}},"id":2}
//	> {"event":"nope","id":3}
//	< {"event":"error","data":{"message":"unknown event \"nope\""},"id":3}
//
//	> {"event":"join","data":{"room":"r1"},"id":5}
//	< {"event":"join","id":5}
//	> {"event":"say","data":{"room":"r1","text":"hi"},"id":7}
//	< {"event":"say","id":7}               (to the sender)
//	< {"event":"said","data":{"room":"r1","text":"hi"}}   (to every other member of r1)
//
//	> {"event":"ask","data":{"question":"ping"},"id":8}
//	< {"event":"question","data":"ping","id":1}
//	> {"event":"ack","id":1,"data":"pong"}
//	< {"event":"ask","data":"pong","id":8}
//
// Without an answer within -ack-timeout, the ask gets an error reply whose
// message says "timeout". Errors leave the connection open; only a frame
// that is not an event envelope at all closes it, with 1007.
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

	"github.com/fiberws/fiberws/listener"
)

func main() {
	opts := defaultOptions
	addr := flag.String("addr", ":8080", "listen address (host:port; port 0 picks a free one)")
	flag.DurationVar(&opts.ackTimeout, "ack-timeout", opts.ackTimeout, "how long an ask waits for the client's answer")
	flag.Parse()
	opts.logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(*addr, opts); err != nil {
		opts.logger.Error("gateway", "error", err)
		os.Exit(1)
	}
}

func run(addr string, opts options) error {
	if opts.ackTimeout <= 0 {
		return fmt.Errorf("-ack-timeout must be positive, got %v", opts.ackTimeout)
	}
	app, closeRooms, err := newApp(opts)
	if err != nil {
		return err
	}
	// The rooms close after Listener returns, that is after the shutdown
	// has closed every WebSocket with 1001: nobody broadcasts any more.
	defer closeRooms()

	// Caught before the address is printed: whoever reads it may signal
	// at once, and must get a graceful shutdown, not the default exit.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Printf("fiberws gateway: %s (Ctrl+C to stop)\n", gatewayURL(ln.Addr()))

	shutDown := make(chan error, 1)
	go func() {
		<-stop
		opts.logger.Info("shutting down")
		// This closes every WebSocket with 1001 and waits for them.
		shutDown <- app.ShutdownWithTimeout(10 * time.Second)
	}()
	// listener.New keeps accepting when a flood of connections takes every
	// file descriptor for a moment (fasthttp alone would stop serving).
	if err := app.Listener(listener.New(ln, listener.Config{Logger: opts.logger})); err != nil {
		return err
	}
	// Listener returns as soon as the shutdown begins: exiting now would
	// drop the WebSockets (1006) before their close frames go out.
	return <-shutDown
}

// gatewayURL is the address a client on this machine dials.
func gatewayURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "ws://" + a.String() + "/gateway"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost" // listening on every interface, this one included
	}
	return "ws://" + net.JoinHostPort(host, port) + "/gateway"
}
