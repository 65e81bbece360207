package listener_test

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/fiberws/fiberws/listener"
)

// flakyListener fails its first accepts with err, then accepts for real.
type flakyListener struct {
	net.Listener
	failures int
	err      error
}

func (f *flakyListener) Accept() (net.Conn, error) {
	if f.failures > 0 {
		f.failures--
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: f.err}
	}
	return f.Listener.Accept()
}

func loopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln
}

// TestAcceptOutlastsTemporaryErrors: out of file descriptors, Accept
// waits and tries again, and the next client is served.
func TestAcceptOutlastsTemporaryErrors(t *testing.T) {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ECONNABORTED} {
		t.Run(e.Error(), func(t *testing.T) {
			inner := loopback(t)
			ln := listener.New(&flakyListener{Listener: inner, failures: 5, err: e}, listener.Config{
				MaxDelay: 10 * time.Millisecond,
				Logger:   slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			go func() {
				if c, err := net.Dial("tcp", inner.Addr().String()); err == nil {
					defer c.Close()
					time.Sleep(time.Second)
				}
			}()
			accepted := make(chan error, 1)
			go func() {
				c, err := ln.Accept()
				if err == nil {
					_ = c.Close()
				}
				accepted <- err
			}()
			select {
			case err := <-accepted:
				if err != nil {
					t.Fatalf("Accept: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Accept did not return within 5s")
			}
		})
	}
}

// TestAcceptEndsWhenClosed: closing the listener still ends Accept, and a
// permanent error is returned as it is.
func TestAcceptEndsWhenClosed(t *testing.T) {
	ln := listener.New(loopback(t))
	_ = ln.Close()
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v, want net.ErrClosed", err)
	}
	permanent := fmt.Errorf("listener test: %w", syscall.EINVAL)
	ln = listener.New(&flakyListener{Listener: loopback(t), failures: 1, err: permanent})
	if _, err := ln.Accept(); !errors.Is(err, syscall.EINVAL) {
		t.Fatalf("Accept: %v, want the permanent error", err)
	}
}

func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	// app.Listener(listener.New(ln)) serves a Fiber app through it.
	l := listener.New(ln)
	defer l.Close()
	fmt.Println(l.Addr().Network())
	// Output: tcp
}
