package fiberws_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"go.uber.org/goleak"
)

// 1,000 connections, ended every way a connection ends, leave no goroutine
// behind once the app (and with it the fiberws Server) has shut down.
func TestThousandConnectCyclesLeaveNoGoroutine(t *testing.T) {
	ignore := fiberwstest.LeakOptions(goleak.IgnoreCurrent())

	app := newApp()
	logger, _ := fiberwstest.NewLog(t)
	wsrv := fiberws.New(fiberws.Config{Logger: logger, CloseTimeout: 500 * time.Millisecond})
	if err := wsrv.Register(app, ctrl{routes: []fiberws.Route{
		fiberws.WebSocket("/echo", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			switch msg {
			case "close":
				return "", c.Close(4000, "bye")
			case "panic":
				panic("cycle panic")
			}
			return "echo " + msg, nil
		}),
		// Pinged often, but patient: a loaded machine must not turn a
		// slow pong into a 1001 the cycle does not expect.
		fiberws.WebSocket("/hb", echo, fiberws.WithPing(20*time.Millisecond, 2*time.Second)),
		fiberws.SendOnly("/once", func(context.Context, *fiberws.Conn[string]) (string, error) { return "once", nil }),
	}}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	base := "ws://" + srv.Addr
	d := websocket.Dialer{HandshakeTimeout: srv.Timeout}

	const cycles = 1000
	for i := range cycles {
		if err := cycle(d, base, i); err != nil {
			_ = srv.Shutdown(srv.Timeout)
			t.Fatalf("cycle %d: %v", i, err)
		}
	}
	// Left open: the shutdown must close these too.
	for range 5 {
		conn, _, err := d.Dial(base+"/echo", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
	}

	if err := srv.Shutdown(srv.Timeout); err != nil {
		t.Fatal(err)
	}
	if n := wsrv.Connections(); n != 0 {
		t.Fatalf("%d connections still open after the app shut down", n)
	}
	goleak.VerifyNone(t, ignore...)
}

// cycle opens one connection and ends it; i picks the route and the ending.
func cycle(d websocket.Dialer, base string, i int) error {
	path := "/echo"
	switch i % 8 {
	case 5:
		path = "/hb"
	case 6:
		path = "/once"
	}
	conn, _, err := d.Dial(base+path, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(fiberwstest.DefaultTimeout))
	_ = conn.SetWriteDeadline(time.Now().Add(fiberwstest.DefaultTimeout))
	roundTrip := func() error {
		msg := fmt.Sprint("m", i)
		if err := conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			return err
		}
		_, data, err := conn.ReadMessage()
		if err != nil {
			return err
		}
		if string(data) != "echo "+msg {
			return fmt.Errorf("got %q", data)
		}
		return nil
	}
	expectClose := func(want int) error {
		for {
			_, _, err := conn.ReadMessage()
			if err == nil {
				continue
			}
			if !websocket.IsCloseError(err, want) {
				return fmt.Errorf("want close %d, got %v", want, err)
			}
			return nil
		}
	}
	switch i % 8 {
	case 0, 5: // round trip, then a clean client close
		if err := roundTrip(); err != nil {
			return err
		}
		if err := conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(fiberwstest.DefaultTimeout)); err != nil {
			return err
		}
		return expectClose(1000)
	case 1: // round trip, then drop TCP
		return roundTrip()
	case 2: // drop before any message
		return nil
	case 3: // the server closes
		if err := conn.WriteMessage(websocket.TextMessage, []byte("close")); err != nil {
			return err
		}
		return expectClose(4000)
	case 4: // the handler panics
		if err := conn.WriteMessage(websocket.TextMessage, []byte("panic")); err != nil {
			return err
		}
		return expectClose(1011)
	case 6: // send-only: result, then 1000
		return expectClose(1000)
	default: // a message sent, the client gone before the reply
		return conn.WriteMessage(websocket.TextMessage, []byte("gone"))
	}
}
