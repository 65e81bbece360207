// Package listener keeps a server accepting through temporary accept
// errors. fasthttp (and so Fiber) stops serving on the first accept error
// that is not a timeout: when a flood of connections takes every file
// descriptor, accept fails with EMFILE, app.Listener returns and a typical
// main exits. net/http instead waits and tries again; New gives Fiber the
// same:
//
//	ln, err := net.Listen("tcp", ":8080")
//	if err != nil {
//		log.Fatal(err)
//	}
//	log.Fatal(app.Listener(listener.New(ln)))
//
// Pair it with Fiber's ReadTimeout (so connections that never send a
// request, or send it a byte at a time, are closed) and Concurrency (so
// the connections before their upgrade stay below the file limit);
// SECURITY.md has the whole setup.
package listener

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"syscall"
	"time"
)

// Listener is a net.Listener whose Accept waits and tries again on
// temporary errors instead of returning them.
type Listener struct {
	net.Listener
	cfg Config

	mu       sync.Mutex
	lastWarn time.Time
	failed   int // accept errors since the last warning
}

// New wraps ln so that its Accept outlasts temporary errors: running out
// of file descriptors (EMFILE, ENFILE), of buffer memory, or a connection
// aborted before it was accepted (on Windows, whose sockets report WSA
// codes, only timeouts). It then waits (5ms, doubling up to
// Config.MaxDelay) and tries again, logging one warning a second at most.
// Closing the listener still ends Accept, with net.ErrClosed.
func New(ln net.Listener, config ...Config) *Listener {
	return &Listener{Listener: ln, cfg: configDefault(config...)}
}

// Accept waits for the next connection, through temporary errors.
func (l *Listener) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			return c, nil
		}
		if !temporary(err) {
			return nil, err
		}
		l.warn(err)
		time.Sleep(delay)
		delay = min(2*delay, l.cfg.MaxDelay)
	}
}

// temporary reports an accept error that goes away by itself: resources
// the process or system is out of for now, or a client that left first.
func temporary(err error) bool {
	if errors.Is(err, net.ErrClosed) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func (l *Listener) warn(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failed++
	if time.Since(l.lastWarn) < time.Second {
		return
	}
	l.cfg.Logger.Warn("listener: accept failed, retrying", slog.Int("errors", l.failed), slog.String("error", err.Error()))
	l.lastWarn, l.failed = time.Now(), 0
}
