// Command server serves the fiberws routes that conformance/cases.js drives
// with raw frames: a text echo and a binary echo, with a 64 KiB read limit,
// and the same text echo under /deflate with permessage-deflate enabled.
// It listens on loopback only and prints "listening <addr>" once ready.
//
//	go run ./conformance/server -addr 127.0.0.1:0
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/fiberws/fiberws"
	"github.com/gofiber/fiber/v2"
)

// ReadLimit is the message size limit of the conformance server; the
// oversize cases send more.
const ReadLimit = 64 << 10

type echo struct{ prefix string }

func (e echo) Prefix() string { return e.prefix }
func (echo) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/text", func(_ context.Context, _ *fiberws.Conn[string], msg string) (string, error) {
			return msg, nil
		}),
		fiberws.WebSocket("/binary", func(_ context.Context, _ *fiberws.Conn[[]byte], msg []byte) ([]byte, error) {
			return msg, nil
		}),
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "loopback address to listen on")
	flag.Parse()
	host, _, err := net.SplitHostPort(*addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		log.Fatalf("conformance server: %q is not a loopback address", *addr)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	if err := fiberws.New(fiberws.Config{ReadLimit: ReadLimit}).Register(app, echo{"/"}); err != nil {
		log.Fatal(err)
	}
	deflate := fiberws.New(fiberws.Config{ReadLimit: ReadLimit, EnableCompression: true})
	if err := deflate.Register(app, echo{"/deflate"}); err != nil {
		log.Fatal(err)
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		_ = app.Shutdown()
	}()
	fmt.Println("listening", ln.Addr().String())
	if err := app.Listener(ln); err != nil {
		log.Fatal(err)
	}
}
