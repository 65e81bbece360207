package attack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// dialErr marks an error of the TCP dial inside a websocket.Dialer, to
// tell it from a failed handshake.
type dialErr struct{ err error }

func (e dialErr) Error() string { return e.err.Error() }
func (e dialErr) Unwrap() error { return e.err }

// dialer is a well-behaved client dialer from localIP (if set), each
// dial and handshake bounded by timeout.
func dialer(localIP string, timeout time.Duration) *websocket.Dialer {
	nd := net.Dialer{Timeout: timeout}
	if localIP != "" {
		nd.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	return &websocket.Dialer{
		HandshakeTimeout: timeout,
		ReadBufferSize:   1024,
		WriteBufferSize:  256,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := nd.DialContext(ctx, network, addr)
			if err != nil {
				return nil, dialErr{err}
			}
			return c, nil
		},
	}
}

// Probe performs a normal WebSocket upgrade of path on addr (host:port)
// with github.com/fasthttp/websocket's Dialer and closes the connection
// cleanly; it returns nil on 101. Use it after (or during) an attack to
// check that the server still serves. Dial and handshake are bounded by
// ctx and DefaultIOTimeout.
func Probe(ctx context.Context, addr, path string) error {
	return ProbeFrom(ctx, "", addr, path)
}

// ProbeFrom is [Probe] dialed from the local address localIP (e.g.
// "127.0.0.2"; empty lets the system choose). Use it to check that a
// client from another address is still served while an attack runs.
func ProbeFrom(ctx context.Context, localIP, addr, path string) error {
	if localIP != "" && net.ParseIP(localIP) == nil {
		return fmt.Errorf("attack: probe: local IP %q is not an IP address", localIP)
	}
	c, resp, err := dialer(localIP, DefaultIOTimeout).DialContext(ctx, "ws://"+addr+path, nil)
	if err != nil {
		if resp != nil {
			return fmt.Errorf("attack: probe %s%s: status %d: %w", addr, path, resp.StatusCode, err)
		}
		return fmt.Errorf("attack: probe %s%s: %w", addr, path, err)
	}
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	return c.Close()
}

// JoinStorm connects cfg.N well-behaved clients (github.com/fasthttp/
// websocket's Dialer) to cfg.Path one after the other, "{i}" in the path
// replaced by the client's index (e.g. "/ws/lobby?name=u{i}"), and has
// each read everything the server sends until Hold (counted from the
// start, connecting included) passes. It reports the payload bytes
// received by all clients (BytesReceived) and by client 0
// (FirstClientBytes), the time it took to connect them all (ConnectTime;
// clients not connected by the end of Hold are not tried; reading stops
// once nothing has arrived for 500ms after the last connected), the upgrades
// (Upgraded, Statuses) and how many the server closed. Use it to measure
// what join broadcasts (presence) cost as a room fills.
func JoinStorm(ctx context.Context, cfg Config) (Result, error) {
	cfg, t, end, hctx, cancel, err := start(ctx, "joinstorm", cfg)
	if err != nil {
		return Result{Attack: "joinstorm"}, err
	}
	defer cancel()
	d := dialer(cfg.LocalIP, cfg.IOTimeout)
	var total, first, arrived atomic.Int64
	var wg sync.WaitGroup
	defer wg.Wait() // also on an early return: every reader closes its conn
	cfg.Logf("joinstorm: connecting %d clients to %s%s", cfg.N, cfg.Addr, cfg.Path)
	for i := 0; i < cfg.N && hctx.Err() == nil; i++ {
		t.attempted()
		path := strings.ReplaceAll(cfg.Path, "{i}", strconv.Itoa(i))
		c, resp, err := d.DialContext(hctx, "ws://"+cfg.Addr+path, nil)
		if err != nil {
			var de dialErr
			switch {
			case hctx.Err() != nil:
			case resp != nil:
				t.status(resp.StatusCode)
			case errors.As(err, &de):
				t.dialFailed(de.err)
			default:
				t.handshakeFailed()
			}
			continue
		}
		t.status(101)
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			n, closed, code, at := readAll(hctx, c, end, &arrived)
			total.Add(n)
			if i == 0 {
				first.Store(n)
			}
			if closed {
				t.closed(at, code)
			} else {
				t.open()
			}
		}(i)
		if (i+1)%1000 == 0 {
			cfg.Logf("joinstorm: %d clients connected", i+1)
		}
	}
	connectTime := time.Since(t.start)
	cfg.Logf("joinstorm: connect phase done in %s; reading until quiet for 500ms, or %s", rd(connectTime), rd(cfg.Hold))
	// The storm is over once nothing more arrives: stop reading then,
	// rather than at the end of Hold.
	for last, quiet := int64(-1), 0; quiet < 5 && hctx.Err() == nil; {
		select {
		case <-hctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
		if n := arrived.Load(); n == last {
			quiet++
		} else {
			last, quiet = n, 0
		}
	}
	cancel()
	wg.Wait()
	r := t.result()
	r.ConnectTime = connectTime
	r.BytesReceived = total.Load()
	r.FirstClientBytes = first.Load()
	return r, t.noneConnected()
}

// readAll reads and counts every message payload on c (adding each to
// live as it arrives) until the server closes it, end passes or ctx is
// done; then it closes c (with a close frame if the server did not close
// it).
func readAll(ctx context.Context, c *websocket.Conn, end time.Time, live *atomic.Int64) (n int64, closed bool, code int, at time.Time) {
	stop := context.AfterFunc(ctx, func() { _ = c.NetConn().SetDeadline(time.Now()) })
	defer stop()
	defer c.Close()
	for {
		if !arm(ctx, c.SetReadDeadline, end) {
			break
		}
		_, r, err := c.NextReader()
		if err == nil {
			var m int64
			m, err = io.Copy(io.Discard, r)
			n += m
			live.Add(m)
		}
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce):
			return n, true, ce.Code, time.Now()
		case isTimeout(err):
		default:
			return n, true, CloseAbnormal, time.Now()
		}
		break
	}
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(100*time.Millisecond))
	return n, false, 0, time.Time{}
}
