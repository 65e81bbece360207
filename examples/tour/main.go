// Command tour serves every example of the WebSocket chapter of the Dart
// framework revali's documentation, rebuilt with fiberws, section by
// section. README.md beside this file maps each section to its URL and to
// the code that implements it.
//
//	go run ./examples/tour
//	go run ./examples/tour -addr 127.0.0.1:9000 -ping 5s -notify-every 1s
//
// main only parses flags and listens; newTour (app.go) builds everything, so
// tests can serve the same app on a free port with short intervals.
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
	opts := options{logger: slog.Default()}
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	flag.DurationVar(&opts.ping, "ping", 30*time.Second, "how often /heartbeat pings its clients")
	flag.DurationVar(&opts.notifyEvery, "notify-every", 5*time.Second, "interval of /notifications/periodic and of the notification service behind /notifications/stream")
	flag.DurationVar(&opts.asyncDelay, "async-delay", time.Second, "how long /messages/async works on a message before replying")
	flag.Parse()
	if err := run(*addr, opts); err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

func run(addr string, opts options) error {
	if opts.ping <= 0 || opts.notifyEvery <= 0 || opts.asyncDelay < 0 {
		return fmt.Errorf("-ping and -notify-every must be positive and -async-delay not negative")
	}
	t, err := newTour(opts)
	if err != nil {
		return err
	}
	// Close runs after Listen returns, that is after the shutdown has
	// closed every WebSocket with 1001 and run their cleanups: the shared
	// services stop last, when nobody uses them any more.
	defer t.Close()
	app := t.app

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	shutDown := make(chan error, 1)
	go func() {
		<-sig
		opts.logger.Info("shutting down")
		shutDown <- app.ShutdownWithTimeout(10 * time.Second)
	}()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	at := ln.Addr().String()
	opts.logger.Info("tour listening", "addr", "ws://"+at, "try", "ws://"+at+"/chat/messages")
	// listener.New keeps accepting through a moment without file
	// descriptors, where fasthttp alone would stop serving.
	if err := app.Listener(listener.New(ln, listener.Config{Logger: opts.logger})); err != nil {
		return err
	}
	// Listener returns as soon as the shutdown begins: returning now would
	// drop the WebSockets (1006) before their close frames go out.
	return <-shutDown
}
