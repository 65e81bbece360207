package attack

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"time"

	"github.com/fasthttp/websocket"
)

// start checks cfg and returns it with defaults, the tally, the end of
// Hold and a context that is done at that end.
func start(ctx context.Context, name string, cfg Config) (Config, *tally, time.Time, context.Context, context.CancelFunc, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return cfg, nil, time.Time{}, nil, nil, err
	}
	t := newTally(name, cfg)
	end := t.start.Add(cfg.Hold)
	hctx, cancel := context.WithDeadline(ctx, end)
	return cfg, t, end, hctx, cancel, nil
}

// Silent opens cfg.N TCP connections (cfg.Parallel dials at a time) that
// send nothing, and holds them until Hold passes or ctx is done. It
// reports how many were still open then (Open), how many the server
// closed and when (Closed, FirstClose...), and how many dials failed. Use
// it to check that the server times out connections that never send a
// request, and how many idle sockets it survives.
func Silent(ctx context.Context, cfg Config) (Result, error) {
	cfg, t, end, hctx, cancel, err := start(ctx, "silent", cfg)
	if err != nil {
		return Result{Attack: "silent"}, err
	}
	defer cancel()
	cfg.Logf("silent: opening %d connections to %s", cfg.N, cfg.Addr)
	est, wait := fanOut(hctx, cfg.N, cfg.Parallel, func(i int, ready func()) {
		t.attempted()
		c, err := dial(hctx, cfg, cfg.LocalIP)
		ready()
		if err != nil {
			if hctx.Err() == nil {
				t.dialFailed(err)
			}
			return
		}
		defer c.Close()
		stop := interruptOn(hctx, c)
		defer stop()
		if closed, at := watchRaw(hctx, c, end); closed {
			t.closed(at, 0)
		} else {
			t.open()
		}
	})
	logEstablished(hctx, est, t, cfg)
	wait()
	return t.result(), t.noneConnected()
}

// logEstablished logs once every connection is set up (unless the run
// ends first).
func logEstablished(ctx context.Context, est <-chan struct{}, t *tally, cfg Config) {
	select {
	case <-est:
		r := t.result()
		cfg.Logf("%s: %d connections set up in %s (%d dials failed, %d upgraded); holding until %s", r.Attack, r.Attempted, rd(r.Elapsed), r.DialFailed, r.Upgraded, rd(cfg.Hold))
	case <-ctx.Done():
	}
}

// Slowloris opens cfg.N TCP connections that each send a valid upgrade
// request for cfg.Path one byte every cfg.Every, until Hold passes. It
// reports how many the server closed by then (Closed, FirstClose...), how
// many were still open, and the longest time one lived (LongestLife). Use
// it to check that the server bounds the time a request head may take.
func Slowloris(ctx context.Context, cfg Config) (Result, error) {
	cfg, t, end, hctx, cancel, err := start(ctx, "slowloris", cfg)
	if err != nil {
		return Result{Attack: "slowloris"}, err
	}
	defer cancel()
	cfg.Logf("slowloris: opening %d connections to %s, one byte every %s", cfg.N, cfg.Addr, cfg.Every)
	est, wait := fanOut(hctx, cfg.N, cfg.Parallel, func(i int, ready func()) {
		t.attempted()
		c, err := dial(hctx, cfg, cfg.LocalIP)
		ready()
		if err != nil {
			if hctx.Err() == nil {
				t.dialFailed(err)
			}
			return
		}
		defer c.Close()
		stop := interruptOn(hctx, c)
		defer stop()
		born := time.Now()
		closed, at := slowSend(hctx, c, upgradeRequest(cfg.Addr, cfg.Path), cfg, end, t)
		if closed {
			t.closed(at, 0)
			t.life(at.Sub(born))
		} else {
			t.open()
			t.life(time.Since(born))
		}
	})
	logEstablished(hctx, est, t, cfg)
	wait()
	return t.result(), t.noneConnected()
}

// slowSend writes req on c one byte every cfg.Every and, between bytes,
// reads what the server sends, until the server closes c or end passes.
// An HTTP status seen in the response is recorded in t.
func slowSend(ctx context.Context, c net.Conn, req []byte, cfg Config, end time.Time, t *tally) (closed bool, at time.Time) {
	var buf [512]byte
	seen := false // the response's status line was recorded
	for i := 0; ; i++ {
		if i < len(req) {
			if _, err := writeAll(ctx, c, req[i:i+1], cfg.IOTimeout, end); err != nil {
				if isTimeout(err) {
					return false, time.Time{}
				}
				return true, time.Now()
			}
		}
		// Wait for the next byte by reading: a close shows up at once.
		next := time.Now().Add(cfg.Every)
		if i >= len(req)-1 || end.Before(next) {
			next = end
		}
		for {
			if !arm(ctx, c.SetReadDeadline, next) {
				return false, time.Time{}
			}
			n, err := c.Read(buf[:])
			if n > 0 && !seen {
				seen = true
				if code, ok := statusOf(buf[:n]); ok {
					t.status(code)
				}
			}
			if err == nil {
				continue
			}
			if !isTimeout(err) {
				return true, time.Now()
			}
			if ctx.Err() != nil || !time.Now().Before(end) {
				return false, time.Time{}
			}
			break
		}
	}
}

// statusOf parses the status code of an HTTP status line at the start of p.
func statusOf(p []byte) (int, bool) {
	var major, minor, code int
	if _, err := fmt.Sscanf(string(p), "HTTP/%d.%d %d", &major, &minor, &code); err != nil {
		return 0, false
	}
	return code, true
}

// Partial opens cfg.N connections that each complete a real upgrade of
// cfg.Path, send the header of one masked binary frame of cfg.Size bytes
// and cfg.Size-1 bytes of its payload, then stall without the last byte
// until Hold passes. It reports the upgrades (Upgraded, Statuses), how
// many connections the server closed within Hold and when, and the close
// codes it sent (CloseCodes). All connections send from one shared
// buffer, so the attacker needs no N×Size memory. Use it to check that
// the server times out (and bounds the memory of) messages that never
// complete.
func Partial(ctx context.Context, cfg Config) (Result, error) {
	cfg, t, end, hctx, cancel, err := start(ctx, "partial", cfg)
	if err != nil {
		return Result{Attack: "partial"}, err
	}
	defer cancel()
	chunk := make([]byte, min(cfg.Size-1, 64<<10))
	for i := range chunk {
		chunk[i] = byte(i)
	}
	cfg.Logf("partial: %d connections to %s%s, each stalling one byte short of a %d-byte frame", cfg.N, cfg.Addr, cfg.Path, cfg.Size)
	est, wait := fanOut(hctx, cfg.N, cfg.Parallel, func(i int, ready func()) {
		c := upgrade(hctx, cfg, t, cfg.LocalIP)
		ready()
		if c == nil {
			return
		}
		defer c.Close()
		stop := interruptOn(hctx, c)
		defer stop()
		var key [4]byte
		binary.LittleEndian.PutUint32(key[:], mrand.Uint32())
		hdr := frameHeader(nil, true, opBinary, cfg.Size, key)
		_, err := writeAll(hctx, c, hdr, cfg.IOTimeout, end)
		for left := cfg.Size - 1; err == nil && left > 0; {
			n := min(left, len(chunk))
			_, err = writeAll(hctx, c, chunk[:n], cfg.IOTimeout, end)
			left -= n
		}
		wend := end
		if err != nil && !isTimeout(err) {
			// The server closed c while we sent: look briefly for its
			// close frame; the close counts either way.
			wend = soon(500*time.Millisecond, end)
		}
		closed, code, at := watchFrames(hctx, c, wend)
		switch {
		case closed:
			t.closed(at, code)
		case err != nil && !isTimeout(err):
			t.closed(time.Now(), CloseAbnormal)
		default:
			t.open()
		}
	})
	logEstablished(hctx, est, t, cfg)
	wait()
	return t.result(), t.noneConnected()
}

// flood is the common part of Continuation and PingFlood: one upgraded
// connection on which first is written once and then batch over and over
// until the server closes it, Hold passes or ctx is done. first is one
// frame; every frame of batch has its size, frame. read tells whether to read server frames
// meanwhile (to see a close frame).
func flood(ctx context.Context, name string, cfg Config, first, batch []byte, frame int, read bool) (Result, error) {
	cfg, t, end, hctx, cancel, err := start(ctx, name, cfg)
	if err != nil {
		return Result{Attack: name}, err
	}
	defer cancel()
	c := upgrade(hctx, cfg, t, cfg.LocalIP)
	if c == nil {
		r := t.result()
		return r, fmt.Errorf("attack: %s: upgrade of %s%s failed: %s", name, cfg.Addr, cfg.Path, upgradeFailure(r, hctx))
	}
	defer c.Close()
	stop := interruptOn(hctx, c)
	defer stop()

	type closeInfo struct {
		closed bool
		code   int
		at     time.Time
	}
	gone := make(chan struct{}) // the reader saw the server close c
	seen := make(chan closeInfo, 1)
	if read {
		go func() {
			closed, code, at := watchFrames(hctx, c, end)
			if closed {
				close(gone)
			}
			seen <- closeInfo{closed, code, at}
		}()
	}
	cfg.Logf("%s: upgraded %s%s, flooding", name, cfg.Addr, cfg.Path)

	var sent int64
	n, werr := writeAll(hctx, c, first, cfg.IOTimeout, end)
	sent += int64(n)
	nextLog := time.Now().Add(time.Second)
	for werr == nil {
		select {
		case <-gone:
			werr = io.EOF
			continue
		default:
		}
		n, werr = writeAll(hctx, c, batch, cfg.IOTimeout, end)
		sent += int64(n)
		if now := time.Now(); now.After(nextLog) {
			nextLog = now.Add(time.Second)
			cfg.Logf("%s: %d frames sent", name, sent/int64(frame))
		}
	}
	wrote := time.Now()
	serverClosed := !isTimeout(werr)

	info := closeInfo{}
	if read {
		// Let the reader pick up a close frame that arrived with the
		// failure; then stop it.
		if serverClosed {
			_ = c.SetReadDeadline(soon(500*time.Millisecond, end))
		} else {
			_ = c.SetReadDeadline(time.Now())
		}
		info = <-seen
	}
	switch {
	case info.closed:
		t.closed(info.at, info.code)
	case serverClosed:
		t.closed(wrote, 0)
	default:
		t.open()
	}
	r := t.result()
	r.BytesSent = sent
	r.FramesSent = sent / int64(frame) // first is one frame of the same size
	if info.closed {
		r.CloseCode = info.code
	}
	return r, nil
}

// upgradeFailure describes why a single upgrade recorded in r failed.
func upgradeFailure(r Result, ctx context.Context) string {
	switch {
	case r.DialError != "":
		return r.DialError
	case len(r.Statuses) > 0:
		return "status " + fmtCounts(r.Statuses)
	case r.HandshakeFailed > 0:
		return "no HTTP response"
	case ctx.Err() != nil:
		return ctx.Err().Error()
	default:
		return "unknown"
	}
}

// continuationBatch is how many continuation frames go in one Write.
const continuationBatch = 4096

// Continuation upgrades one connection to cfg.Path, sends a text frame
// with FIN=0 and an empty payload, then empty masked continuation frames
// (opcode 0, FIN=0), continuationBatch per Write, as fast as it can until
// the server closes the connection or Hold passes. It reports the frames
// and bytes sent, when the server closed it (FirstClose, Closed=1, or
// Open=1 if it did not) and the close code of its close frame (CloseCode,
// 0 if none came). Use it to check that the server bounds the number (or
// rate) of fragments of one message.
func Continuation(ctx context.Context, cfg Config) (Result, error) {
	var key [4]byte
	first := frameHeader(nil, false, opText, 0, key)
	one := frameHeader(nil, false, opContinuation, 0, key)
	batch := make([]byte, 0, continuationBatch*len(one))
	for range continuationBatch {
		batch = append(batch, one...)
	}
	cfg.N = 1
	return flood(ctx, "continuation", cfg, first, batch, len(one), true)
}

// pingPayload is the payload size of PingFlood's pings (the largest a
// control frame may carry).
const pingPayload = 125

// PingFlood upgrades one connection to cfg.Path, never reads, and sends
// masked pings with a 125-byte payload as fast as it can until its writes
// fail (the server dropped it) or Hold passes. It reports the pings and
// bytes sent and when the server dropped it (FirstClose, Closed=1, or
// Open=1 if it did not). Use it to check that the server bounds the pongs
// it owes a client that does not read them.
func PingFlood(ctx context.Context, cfg Config) (Result, error) {
	payload := make([]byte, pingPayload)
	for i := range payload {
		payload[i] = 'p'
	}
	ping := appendFrame(nil, true, opPing, payload)
	batch := make([]byte, 0, 256*len(ping))
	for range 256 {
		batch = append(batch, ping...)
	}
	cfg.N = 1
	return flood(ctx, "pingflood", cfg, ping, batch, len(ping), false)
}

// Stuck opens cfg.N connections that upgrade to cfg.Path (a room route,
// so that the server has something to send them) and never read; every
// cfg.ProbeEvery each writes a small masked ping, so that a failing write
// (EPIPE, ECONNRESET) tells when the server dropped it. It reports how
// many the server dropped and when (FirstClose, MedianClose, LastClose:
// each after the start, within about two ProbeEvery) and how many were
// still connected at Hold (Open). Use it to check that the server drops
// slow consumers instead of buffering for them without bound.
func Stuck(ctx context.Context, cfg Config) (Result, error) {
	cfg, t, end, hctx, cancel, err := start(ctx, "stuck", cfg)
	if err != nil {
		return Result{Attack: "stuck"}, err
	}
	defer cancel()
	ping := appendFrame(nil, true, opPing, []byte("ping"))
	cfg.Logf("stuck: %d connections to %s%s that never read", cfg.N, cfg.Addr, cfg.Path)
	if cfg.Publish > 0 {
		go publish(hctx, cfg)
	}
	est, wait := fanOut(hctx, cfg.N, cfg.Parallel, func(i int, ready func()) {
		c := upgrade(hctx, cfg, t, cfg.LocalIP)
		ready()
		if c == nil {
			return
		}
		defer c.Close()
		stop := interruptOn(hctx, c)
		defer stop()
		tick := time.NewTicker(cfg.ProbeEvery)
		defer tick.Stop()
		for {
			if _, err := writeAll(hctx, c, ping, cfg.IOTimeout, end); err != nil {
				if isTimeout(err) {
					t.open()
				} else {
					t.closed(time.Now(), 0)
				}
				return
			}
			select {
			case <-tick.C:
			case <-hctx.Done():
				t.open()
				return
			}
		}
	})
	logEstablished(hctx, est, t, cfg)
	wait()
	return t.result(), t.noneConnected()
}

// OneIP opens cfg.N real upgrades of cfg.Path from cfg.LocalIP (one local
// address) and holds them silently until Hold passes; once they are all
// set up it probes one upgrade from cfg.ProbeIP (if set). It reports how
// many got 101 (Upgraded), the other statuses (Statuses), whether the
// probe succeeded while they were held (Probed, ProbeErr), and how many
// the server closed during Hold. Use it to check a per-IP connection limit
// and that it does not lock out other addresses.
func OneIP(ctx context.Context, cfg Config) (Result, error) {
	cfg, t, end, hctx, cancel, err := start(ctx, "oneip", cfg)
	if err != nil {
		return Result{Attack: "oneip"}, err
	}
	defer cancel()
	cfg.Logf("oneip: %d upgrades of %s%s from %q", cfg.N, cfg.Addr, cfg.Path, cfg.LocalIP)
	est, wait := fanOut(hctx, cfg.N, cfg.Parallel, func(i int, ready func()) {
		c := upgrade(hctx, cfg, t, cfg.LocalIP)
		ready()
		if c == nil {
			return
		}
		defer c.Close()
		stop := interruptOn(hctx, c)
		defer stop()
		if closed, code, at := watchFrames(hctx, c, end); closed {
			t.closed(at, code)
		} else {
			t.open()
		}
	})
	logEstablished(hctx, est, t, cfg)
	var probed bool
	var probeErr error
	if cfg.ProbeIP != "" && hctx.Err() == nil {
		probed = true
		probeErr = ProbeFrom(hctx, cfg.ProbeIP, cfg.Addr, cfg.Path)
		if probeErr != nil {
			cfg.Logf("oneip: probe from %s failed: %v", cfg.ProbeIP, probeErr)
		} else {
			cfg.Logf("oneip: probe from %s upgraded", cfg.ProbeIP)
		}
	}
	wait()
	r := t.result()
	r.Probed = probed
	if probeErr != nil {
		r.ProbeErr = probeErr.Error()
	}
	return r, t.noneConnected()
}

// publish is stuck's traffic: one well-behaved client of cfg.Path that
// sends cfg.Message (or cfg.Size bytes) every cfg.Publish and reads
// everything, until ctx is done.
func publish(ctx context.Context, cfg Config) {
	c, _, err := dialer(cfg.LocalIP, cfg.IOTimeout).DialContext(ctx, "ws://"+cfg.Addr+numbered(cfg.Path), nil)
	if err != nil {
		cfg.Logf("stuck: publisher: %v", err)
		return
	}
	defer c.Close()
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	msg := []byte(cfg.Message)
	if len(msg) == 0 {
		msg = bytes.Repeat([]byte("m"), cfg.Size)
	}
	tick := time.NewTicker(cfg.Publish)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			_ = c.SetWriteDeadline(time.Now().Add(cfg.IOTimeout))
			if c.WriteMessage(websocket.TextMessage, msg) != nil {
				return
			}
		}
	}
}
