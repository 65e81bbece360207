package attack

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// WebSocket opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
)

// errNoStatus is the handshake's error when no HTTP status line came back.
var errNoStatus = errors.New("attack: no HTTP status line in the response")

// dial opens a TCP connection to cfg.Addr from localIP (if set), bounded
// by ctx and cfg.IOTimeout.
func dial(ctx context.Context, cfg Config, localIP string) (net.Conn, error) {
	d := net.Dialer{Timeout: cfg.IOTimeout}
	if localIP != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(localIP)}
	}
	return d.DialContext(ctx, "tcp", cfg.Addr)
}

// interruptOn makes every pending and later I/O on c fail with a timeout
// once ctx is done; call the returned stop when done with c.
func interruptOn(ctx context.Context, c net.Conn) (stop func() bool) {
	return context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
}

// arm sets a deadline with set (c.SetReadDeadline or c.SetWriteDeadline)
// and reports whether ctx is still live: checking after setting means an
// interrupt from interruptOn is never overwritten by a later deadline.
func arm(ctx context.Context, set func(time.Time) error, t time.Time) bool {
	_ = set(t)
	return ctx.Err() == nil
}

// soon is min(now+d, end).
func soon(d time.Duration, end time.Time) time.Time {
	t := time.Now().Add(d)
	if end.Before(t) {
		return end
	}
	return t
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// upgradeRequest is a valid WebSocket upgrade request for path.
func upgradeRequest(host, path string) []byte {
	path = numbered(path)
	var key [16]byte
	_, _ = rand.Read(key[:])
	return []byte("GET " + path + " HTTP/1.1\r\n" +
		"Host: " + host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key[:]) + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"\r\n")
}

// readStatus reads an HTTP response head from br and returns its status
// code. The body (if any) is left unread.
func readStatus(br *bufio.Reader) (int, error) {
	const maxHead = 16 << 10
	total := 0
	status := 0
	for first := true; ; first = false {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if errors.Is(err, bufio.ErrBufferFull) && !first {
			// A header line longer than the buffer: skip the rest of it.
			for errors.Is(err, bufio.ErrBufferFull) && total <= maxHead {
				line, err = br.ReadSlice('\n')
				total += len(line)
			}
			if err == nil && total <= maxHead {
				continue
			}
		}
		if err != nil {
			if status == 0 {
				return 0, fmt.Errorf("%w: %w", errNoStatus, err)
			}
			return status, err
		}
		if total > maxHead {
			return status, errors.New("attack: response head too large")
		}
		if first {
			// "HTTP/1.1 101 Switching Protocols"
			f := strings.Fields(string(line))
			if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
				return 0, fmt.Errorf("%w: %q", errNoStatus, strings.TrimSpace(string(line)))
			}
			code, err := strconv.Atoi(f[1])
			if err != nil {
				return 0, fmt.Errorf("%w: %q", errNoStatus, strings.TrimSpace(string(line)))
			}
			status = code
			continue
		}
		if len(line) <= 2 && strings.TrimSpace(string(line)) == "" {
			return status, nil
		}
	}
}

// wsConn is a raw connection after its upgrade; br holds what the server
// sent after its response head.
type wsConn struct {
	net.Conn
	br *bufio.Reader
}

// upgrade dials cfg.Addr from localIP and performs a WebSocket upgrade of
// cfg.Path by hand, recording the outcome in t (nothing when ctx ended
// the attempt). It returns the connection only on 101.
func upgrade(ctx context.Context, cfg Config, t *tally, localIP string) *wsConn {
	t.attempted()
	nc, err := dial(ctx, cfg, localIP)
	if err != nil {
		if ctx.Err() == nil {
			t.dialFailed(err)
		}
		return nil
	}
	stop := interruptOn(ctx, nc)
	defer stop()
	status, br, err := handshake(ctx, nc, cfg)
	switch {
	case ctx.Err() != nil:
	case status == 0:
		t.handshakeFailed()
	case status != 101:
		t.status(status)
	case err != nil: // a 101 whose head never ended
		t.handshakeFailed()
	default:
		t.status(101)
		_ = nc.SetDeadline(time.Time{})
		if ctx.Err() == nil { // else the interrupt may have fired before the reset
			return &wsConn{Conn: nc, br: br}
		}
	}
	_ = nc.Close()
	return nil
}

// handshake writes the upgrade request on nc and reads the status. It
// returns the reader it used, which holds what followed the response head.
func handshake(ctx context.Context, nc net.Conn, cfg Config) (int, *bufio.Reader, error) {
	if !arm(ctx, nc.SetDeadline, time.Now().Add(cfg.IOTimeout)) {
		return 0, nil, ctx.Err()
	}
	if _, err := nc.Write(upgradeRequest(cfg.Addr, cfg.Path)); err != nil {
		return 0, nil, err
	}
	br := bufio.NewReaderSize(nc, 512)
	status, err := readStatus(br)
	return status, br, err
}

// frameHeader appends the header of a masked client frame with a payload
// of n bytes and masking key key.
func frameHeader(dst []byte, fin bool, op byte, n int, key [4]byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	switch {
	case n < 126:
		dst = append(dst, b0, 0x80|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, b0, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, b0, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, key[:]...)
}

// appendFrame appends a complete masked client frame.
func appendFrame(dst []byte, fin bool, op byte, payload []byte) []byte {
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], mrand.Uint32())
	dst = frameHeader(dst, fin, op, len(payload), key)
	for i, p := range payload {
		dst = append(dst, p^key[i&3])
	}
	return dst
}

// readFrame reads one server frame from br. It returns the payload only
// for close frames (others are discarded).
func readFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	op = h[0] & 0x0F
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var l [2]byte
		if _, err = io.ReadFull(br, l[:]); err != nil {
			return op, nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err = io.ReadFull(br, l[:]); err != nil {
			return op, nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	var key [4]byte
	if masked { // servers must not mask; tolerate it anyway
		if _, err = io.ReadFull(br, key[:]); err != nil {
			return op, nil, err
		}
	}
	if op != opClose || n > 125 {
		_, err = io.CopyN(io.Discard, br, int64(n))
		return op, nil, err
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(br, payload); err != nil {
		return op, nil, err
	}
	if masked {
		for i := range payload {
			payload[i] ^= key[i&3]
		}
	}
	return op, payload, nil
}

// closeCode is the status code of a close frame's payload.
func closeCode(payload []byte) int {
	if len(payload) < 2 {
		return CloseNoStatus
	}
	return int(binary.BigEndian.Uint16(payload))
}

// watchFrames reads (and discards) server frames on c until the server
// closes it, until end, or until ctx is done. closed reports a close by
// the server: at its close frame (code is the frame's code) or at the end
// of the TCP stream (code CloseAbnormal).
func watchFrames(ctx context.Context, c *wsConn, end time.Time) (closed bool, code int, at time.Time) {
	for {
		if !arm(ctx, c.SetReadDeadline, end) {
			return false, 0, time.Time{}
		}
		op, payload, err := readFrame(c.br)
		if err != nil {
			if isTimeout(err) {
				return false, 0, time.Time{}
			}
			return true, CloseAbnormal, time.Now()
		}
		if op == opClose {
			return true, closeCode(payload), time.Now()
		}
	}
}

// watchRaw reads (and discards) whatever arrives on c until the server
// closes it (closed), until end, or until ctx is done.
func watchRaw(ctx context.Context, c net.Conn, end time.Time) (closed bool, at time.Time) {
	var buf [64]byte
	for {
		if !arm(ctx, c.SetReadDeadline, end) {
			return false, time.Time{}
		}
		if _, err := c.Read(buf[:]); err != nil {
			if isTimeout(err) {
				return false, time.Time{}
			}
			return true, time.Now()
		}
	}
}

// writeAll writes p on c, each Write bounded by timeout and end. It
// returns the bytes written and, if it stopped early, why: a timeout error
// when ctx is done or end has passed, or the write's error.
func writeAll(ctx context.Context, c net.Conn, p []byte, timeout time.Duration, end time.Time) (int, error) {
	done := 0
	for done < len(p) {
		if !arm(ctx, c.SetWriteDeadline, soon(timeout, end)) {
			return done, os.ErrDeadlineExceeded
		}
		n, err := c.Write(p[done:])
		done += n
		if err != nil {
			if isTimeout(err) && ctx.Err() == nil && time.Now().Before(end) {
				continue // the server is not reading: keep trying until end
			}
			return done, err
		}
	}
	return done, nil
}

// upgrades numbers the upgrade requests of the process, for "{i}".
var upgrades atomic.Int64

// numbered replaces "{i}" in path with a number unique in this process,
// so that N connections can each have a name of their own
// (/ws/lobby?name=u{i}).
func numbered(path string) string {
	if !strings.Contains(path, "{i}") {
		return path
	}
	return strings.ReplaceAll(path, "{i}", strconv.FormatInt(upgrades.Add(1)-1, 10))
}
