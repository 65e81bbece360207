package fiberws_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/gofiber/fiber/v2"
)

// Graceful shutdown: app.Shutdown gives every connection 1001 "server
// shutting down", cancels the handler contexts, runs cleanups and tells the
// observers, and returns within ShutdownTimeout even when clients never
// answer the close, or do not even read.
func TestGracefulShutdown(t *testing.T) {
	const shutdownTimeout = time.Second
	obs := newRelSummaries()
	var cleanups, cancelled, connected, flooded atomic.Int64
	route := fiberws.WebSocket("/ws", func(ctx context.Context, c *fiberws.Conn[*[]byte], msg *[]byte) (*[]byte, error) {
		if msg != nil {
			return msg, nil
		}
		connected.Add(1)
		c.Cleanup(func() { cleanups.Add(1) })
		go func() {
			<-ctx.Done()
			cancelled.Add(1)
		}()
		if c.Query("role") == "flood" {
			// Fill the client's buffers so that even the close frame
			// cannot be written.
			go func() {
				chunk := make([]byte, 64<<10)
				for range 100000 {
					if c.Send(&chunk) != nil {
						return
					}
					flooded.Add(1)
				}
			}()
		}
		return nil, nil
	}, fiberws.OnConnect())

	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	ws := fiberws.New(fiberws.Config{
		ShutdownTimeout: shutdownTimeout,
		CloseTimeout:    30 * time.Second, // only the shutdown timeout may end the wait
		WriteTimeout:    30 * time.Second,
		Observers:       []hooks.Observer{obs},
	})
	if err := ws.Register(app, ctrl{routes: []fiberws.Route{route}}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	url := srv.URL("/ws")
	dial := func(query string) *websocket.Conn {
		c, _, err := (&websocket.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(url+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	var readers []*websocket.Conn
	for range 3 {
		readers = append(readers, dial(""))
	}
	dial("?role=deaf")  // reads nothing, never answers the close
	dial("?role=flood") // reads nothing and its buffers are full
	fiberwstest.Eventually(t, func() bool { return connected.Load() == 5 }, "connected %d", fiberwstest.Later(func() any { return connected.Load() }))
	// Let the flood fill the buffers: its Sends stop completing once a
	// write blocks (WriteTimeout is long).
	prev := int64(-1)
	fiberwstest.Eventually(t, func() bool {
		time.Sleep(100 * time.Millisecond) // stalled = no chunk sent in 100ms
		n := flooded.Load()
		stalled := n > 0 && n == prev
		prev = n
		return stalled
	}, "the flood kept sending (%d chunks)", fiberwstest.Later(func() any { return flooded.Load() }))

	// The well-behaved clients read and answer the close.
	var wg sync.WaitGroup
	codes := make(chan string, len(readers))
	for _, c := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _, err := c.ReadMessage()
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				codes <- ce.Text
				if ce.Code != websocket.CloseGoingAway {
					codes <- "code " + ce.Error()
				}
				return
			}
			codes <- fmt.Sprintf("no close: %v", err)
		}()
	}

	start := time.Now()
	if err := srv.Shutdown(10 * time.Second); err != nil {
		t.Logf("app shutdown: %v", err)
	}
	elapsed := time.Since(start)
	if elapsed > shutdownTimeout+time.Second {
		t.Fatalf("shutdown took %v, ShutdownTimeout %v", elapsed, shutdownTimeout)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != "server shutting down" {
			t.Fatalf("a reading client got %q", c)
		}
	}
	// The sockets of the stuck clients were dropped at the timeout; their
	// summaries follow at once.
	sums := map[hooks.ClosedBy]int{}
	for range 5 {
		s := obs.next(t)
		sums[s.ClosedBy]++
		if s.CloseCode != fiberws.CloseGoingAway || s.CloseReason != "server shutting down" {
			t.Fatalf("summary %d %q", s.CloseCode, s.CloseReason)
		}
	}
	if sums[hooks.ByShutdown] != 5 {
		t.Fatalf("summaries by %v", sums)
	}
	fiberwstest.Eventually(t, func() bool { return cancelled.Load() == 5 }, "contexts cancelled: %d", fiberwstest.Later(func() any { return cancelled.Load() }))
	if cleanups.Load() != 5 {
		t.Fatalf("cleanups ran %d times, want 5", cleanups.Load())
	}
	if n := ws.Connections(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
	t.Logf("shutdown returned after %v", elapsed.Round(time.Millisecond))

	// The app no longer listens. (The 503 of a Server shut down under an
	// app that still listens: TestShutdownRefusesNewUpgrades.)
	if c, _, err := (&websocket.Dialer{HandshakeTimeout: time.Second}).Dial(url, nil); err == nil {
		_ = c.Close()
		t.Fatal("dial after shutdown: upgraded")
	}
}

// Server.Shutdown refuses new upgrades with 503 while the app goes on
// listening: during the shutdown (an open connection that has not yet
// answered the close keeps it waiting) and after it.
func TestShutdownRefusesNewUpgrades(t *testing.T) {
	srv, ws := relServe(t, fiberws.Config{CloseTimeout: time.Minute}, fiberws.WebSocket("/ws", mirror))
	c := srv.Dial(t, "/ws")
	c.SendText("before")
	if got := c.ReadText(); got != "before" {
		t.Fatalf("got %q", got)
	}
	// The client notes the close frame but does not answer it yet.
	closeFrame := make(chan string, 1)
	c.Conn().SetCloseHandler(func(code int, text string) error {
		closeFrame <- fmt.Sprintf("%d %s", code, text)
		return nil
	})
	go func() {
		_ = c.Conn().SetReadDeadline(time.Now().Add(c.Timeout()))
		_, _, _ = c.Conn().NextReader() // runs the close handler
	}()
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), fiberwstest.DefaultTimeout)
		defer cancel()
		done <- ws.Shutdown(ctx)
	}()
	// The close frame is sent after the Server stopped admitting.
	if got := recv(t, closeFrame, "the close frame"); got != "1001 server shutting down" {
		t.Fatalf("open client got close %q, want 1001 server shutting down", got)
	}
	expectShutdown503 := func(when string) {
		t.Helper()
		nc, resp, err := srv.TryDial("/ws")
		if err == nil {
			_ = nc.Conn().Close()
			t.Fatalf("dial %s the shutdown: upgraded, want 503", when)
		}
		if resp == nil || resp.StatusCode != fiber.StatusServiceUnavailable {
			t.Fatalf("dial %s the shutdown: %v (resp %v), want 503", when, err, resp)
		}
	}
	expectShutdown503("during")
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) before the open client answered the close", err)
	default:
	}
	// The client answers; the shutdown completes.
	msg := websocket.FormatCloseMessage(websocket.CloseGoingAway, "")
	if err := c.Conn().WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.Timeout())); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := ws.Connections(); n != 0 {
		t.Fatalf("%d connections after Shutdown", n)
	}
	expectShutdown503("after")
}

// TestAppShutdownWithinItsTimeout: app.ShutdownWithTimeout(t) returns
// within t even while an HTTP request outlives t and a WebSocket client
// never answers the close: the close frames go out when the app's
// shutdown begins, not after Fiber's own wait, and once the app's time is
// up the remaining sockets are dropped. (The app is served by hand: its
// shutdown is meant to end at its deadline, which fiberwstest reports as a
// failure.)
func TestAppShutdownWithinItsTimeout(t *testing.T) {
	const appTimeout = time.Second
	obs := newRelSummaries()
	logger, _ := fiberwstest.NewLog(t)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	release := make(chan struct{})
	serving := make(chan struct{})
	nowServing := sync.OnceFunc(func() { close(serving) })
	app.Get("/slow", func(c *fiber.Ctx) error {
		nowServing()
		select { // outlives the app's shutdown timeout
		case <-release:
		case <-time.After(5 * time.Second):
		}
		return c.SendString("done")
	})
	ws := fiberws.New(fiberws.Config{Logger: logger, Observers: []hooks.Observer{obs}})
	if err := ws.Register(app, ctrl{routes: []fiberws.Route{fiberws.WebSocket("/ws", mirror)}}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = app.Listener(ln)
	}()
	deaf, _, err := (&websocket.Dialer{HandshakeTimeout: fiberwstest.DefaultTimeout}).Dial("ws://"+ln.Addr().String()+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close() // never reads, never answers the close
	relWaitConns(t, ws, 1)
	requested := make(chan struct{})
	go func() {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + ln.Addr().String() + "/slow")
		if err == nil {
			_ = resp.Body.Close()
		}
		close(requested)
	}()
	recv(t, serving, "the slow request being served")

	start := time.Now()
	err = app.ShutdownWithTimeout(appTimeout)
	if d := time.Since(start); d > appTimeout+500*time.Millisecond {
		t.Fatalf("app.ShutdownWithTimeout(%v) took %v", appTimeout, d)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("app.ShutdownWithTimeout: %v, want the deadline its slow request made it hit", err)
	}
	if s := obs.next(t); s.CloseCode != fiberws.CloseGoingAway || s.ClosedBy != hooks.ByShutdown {
		t.Fatalf("summary %d %q by %s, want 1001 by shutdown", s.CloseCode, s.CloseReason, s.ClosedBy)
	}
	select {
	case <-served:
	case <-time.After(fiberwstest.DefaultTimeout):
		t.Fatal("the app still serves")
	}
	close(release)
	recv(t, requested, "the slow request's end")
}
