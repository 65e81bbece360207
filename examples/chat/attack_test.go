package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/internal/attack"
	"github.com/fiberws/fiberws/internal/testproc"
)

// The attacks that take a whole server down, run against the chat program
// itself (built and started as a separate process).

// joinProbe joins the chat as a new client and waits for its welcome.
func joinProbe(ctx context.Context, addr, name string) error {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.DialContext(ctx, "ws://"+addr+"/ws/lobby?name="+name, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ev Event
	if err := c.ReadJSON(&ev); err != nil {
		return err
	}
	if ev.Type != "welcome" {
		return &websocket.CloseError{Code: 0, Text: "first event " + ev.Type}
	}
	return nil
}

// TestSurvivesFileDescriptorExhaustion: under a limit of 1,024 open
// files, 1,500 connections that send nothing take every descriptor the
// chat has; it must keep running (fasthttp alone stops accepting on the
// first EMFILE) and serve a new client once they are gone.
func TestSurvivesFileDescriptorExhaustion(t *testing.T) {
	bin := testproc.Build(t, ".")
	p := testproc.Start(t, bin, testproc.Options{NoFile: 1024}, "-addr", "127.0.0.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := attack.Silent(ctx, attack.Config{Addr: p.Addr, N: 1500, Hold: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("silent: %s", res)
	if !p.Alive() {
		t.Fatalf("the chat exited under the flood:\n%s", p.Output())
	}
	// The descriptors ran out (the kernel completes handshakes on its own,
	// so the client side cannot tell): the listener said so.
	if !strings.Contains(p.Output(), "accept failed, retrying") {
		t.Fatalf("the chat never ran out of descriptors (%d connections held):\n%s", res.Open, p.Output())
	}
	// They are gone now (Silent closed them): a new client is served.
	var last error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if last = joinProbe(ctx, p.Addr, "probe"); last == nil {
			return
		}
	}
	t.Fatalf("no new client served after the flood: %v", last)
}

// TestSlowlorisIsClosed: upgrade requests sent a byte every 200ms never
// finish within the chat's read timeout (1s here, -read-timeout), so the
// server closes them instead of holding them for as long as the client
// likes; meanwhile it serves others.
func TestSlowlorisIsClosed(t *testing.T) {
	const n = 200
	bin := testproc.Build(t, ".")
	p := testproc.Start(t, bin, testproc.Options{}, "-addr", "127.0.0.1:0", "-read-timeout", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done := make(chan attack.Result, 1)
	go func() {
		res, err := attack.Slowloris(ctx, attack.Config{Addr: p.Addr, Path: "/ws/lobby?name=slow", N: n, Every: 200 * time.Millisecond, Hold: 4 * time.Second})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	// Let the attack get its connections in (it runs in another process,
	// with nothing to wait on): the probe must land while they are held.
	time.Sleep(500 * time.Millisecond)
	if err := joinProbe(ctx, p.Addr, "probe"); err != nil {
		t.Fatalf("a client during the attack: %v", err)
	}
	res := <-done
	t.Logf("slowloris: %s", res)
	if res.Closed < n {
		t.Fatalf("the server closed %d of %d slowloris connections within 4s (read timeout 1s)", res.Closed, n)
	}
}

// TestJoinStormCostsLinearBytes: 300 clients join one room one after the
// other. Join events are deltas, so the first member receives about one
// small event per join (the member list comes only with each newcomer's
// welcome); with the list in every join it would receive O(N²) bytes.
func TestJoinStormCostsLinearBytes(t *testing.T) {
	const n = 300
	opts := defaultOptions
	opts.maxPerIP = 0 // the storm comes from one address
	srv := serveOpts(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := attack.JoinStorm(ctx, attack.Config{Addr: srv.Addr, Path: "/ws/lobby?name=u{i}", N: n, Hold: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("joinstorm: %s", res)
	if res.Upgraded != n {
		t.Fatalf("%d of %d joined", res.Upgraded, n)
	}
	if perJoin := res.FirstClientBytes / n; perJoin > 150 {
		t.Fatalf("the first member received %d bytes per join (%d in all): join events carry more than a delta", perJoin, res.FirstClientBytes)
	}
}

// TestConnectionsPerAddressCapped: the chat caps the connections of one
// client address (-max-per-ip); a client over it gets 429, before the
// upgrade.
func TestConnectionsPerAddressCapped(t *testing.T) {
	opts := defaultOptions
	opts.maxPerIP = 3
	srv := serveOpts(t, opts)
	for i := range 3 {
		join(t, srv, "lobby", fmt.Sprintf("u%d", i))
	}
	_, resp, err := srv.TryDial("/ws/lobby?name=u3")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th connection from one address: %v (response %v), want HTTP 429", err, resp)
	}
}

// TestStuckReadersAreDropped: clients that never read (but keep sending
// pings, so the kernel keeps their TCP window open and buffers for them)
// in a room that gets a message every 50ms are closed by the keep-alive
// (1s here, -ping): its ping waits behind the messages they do not read,
// so its pong never comes.
func TestStuckReadersAreDropped(t *testing.T) {
	bin := testproc.Build(t, ".")
	p := testproc.Start(t, bin, testproc.Options{}, "-addr", "127.0.0.1:0", "-ping", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msg := `{"text":"` + strings.Repeat("x", 450) + `"}`
	res, err := attack.Stuck(ctx, attack.Config{Addr: p.Addr, Path: "/ws/lobby?name=stuck{i}", N: 20, Publish: 50 * time.Millisecond, Message: msg, Hold: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stuck: %s", res)
	if res.Closed != 20 || res.LastClose > 15*time.Second {
		t.Fatalf("%d of 20 stuck readers dropped, the last after %v; want all within 15s at a 1s ping (pong timeout 1s, close timeout 2s)", res.Closed, res.LastClose)
	}
}

// TestSIGTERMClosesWith1001: the chat program, stopped with SIGTERM,
// sends its WebSocket clients 1001 before it exits (status 0): main waits
// for the app's shutdown, which Listener returning does not mean.
func TestSIGTERMClosesWith1001(t *testing.T) {
	bin := testproc.Build(t, ".")
	p := testproc.Start(t, bin, testproc.Options{}, "-addr", "127.0.0.1:0")
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial("ws://"+p.Addr+"/ws/lobby?name=probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var ev Event
	if err := c.ReadJSON(&ev); err != nil || ev.Type != "welcome" {
		t.Fatalf("welcome: %+v %v", ev, err)
	}
	stopped := make(chan error, 1)
	go func() {
		err, exited := p.Stop(15 * time.Second)
		if !exited {
			err = fmt.Errorf("still running 15s after SIGTERM")
		}
		stopped <- err
	}()
	for {
		if _, _, err = c.ReadMessage(); err != nil {
			break
		}
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
		t.Fatalf("on SIGTERM the client got %v, want close 1001", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("exit: %v\n%s", err, p.Output())
	}
}
