package fiberws_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

// closer is a route whose messages say how to close: "close CODE REASON"
// calls Close from the handler and replies with Close's error; "return
// CODE REASON" returns a *CloseError; anything else is echoed.
func closer(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
	verb, rest, _ := strings.Cut(msg, " ")
	codeText, reason, _ := strings.Cut(rest, " ")
	code, _ := strconv.Atoi(codeText)
	switch verb {
	case "close":
		err := c.Close(code, reason)
		return fmt.Sprintf("close %d: %v", code, err), nil
	case "return":
		return "", &fiberws.CloseError{Code: code, Reason: reason}
	}
	return "echo " + msg, nil
}

func TestCloseFromHandler(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/c", closer))
	c := h.Dial(t, "/c")
	c.SendText("close 4000 bye now")
	// The reply the handler returns after Close is not sent.
	msgs, code, reason := c.ReadUntilClose()
	if len(msgs) != 0 || code != 4000 || reason != "bye now" {
		t.Fatalf("got %q and %d %q, want the close 4000 %q only", msgs, code, reason, "bye now")
	}
}

func TestCloseFromAnotherGoroutine(t *testing.T) {
	t.Parallel()
	conns := make(chan *fiberws.Conn[string], 1)
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		conns <- c
		return "registered", nil
	}))
	c := h.Dial(t, "/c")
	c.SendText("x")
	if got := c.ReadText(); got != "registered" {
		t.Fatalf("got %q", got)
	}
	conn := recv(t, conns, "the connection")
	errc := make(chan error, 1)
	go func() { errc <- conn.Close(fiberws.CloseServiceRestart, "from outside") }()
	code, reason := c.ExpectClose()
	if code != fiberws.CloseServiceRestart || reason != "from outside" {
		t.Fatalf("closed with %d %q, want 1012 from outside", code, reason)
	}
	if err := recv(t, errc, "Close to return"); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if !closedWithin(conn.Context().Done(), fiberwstest.DefaultTimeout) {
		t.Fatal("context not cancelled after Close")
	}
}

func TestReturnedCloseError(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/c", closer))
	c := h.Dial(t, "/c")
	c.SendText("hello")
	if got := c.ReadText(); got != "echo hello" {
		t.Fatalf("got %q", got)
	}
	c.SendText("return 4001 quota exceeded")
	if code, reason := c.ExpectClose(); code != 4001 || reason != "quota exceeded" {
		t.Fatalf("closed with %d %q, want 4001 quota exceeded", code, reason)
	}
}

func TestReturnedCloseErrorWrapped(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/c", func(context.Context, *fiberws.Conn[string], string) (string, error) {
		return "", fmt.Errorf("checking quota: %w", &fiberws.CloseError{Code: 4002, Reason: "wrapped"})
	}))
	c := h.Dial(t, "/c")
	c.SendText("x")
	if code, reason := c.ExpectClose(); code != 4002 || reason != "wrapped" {
		t.Fatalf("closed with %d %q, want 4002 wrapped", code, reason)
	}
}

// A returned *CloseError with a code no one may send cannot be honoured:
// it becomes 1011.
func TestReturnedCloseErrorInvalidCode(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/c", closer))
	c := h.Dial(t, "/c")
	c.SendText("return 1005 nope")
	if code, reason := c.ExpectClose(); code != fiberws.CloseInternalError || reason != "internal error" {
		t.Fatalf("closed with %d %q, want 1011 internal error", code, reason)
	}
}

func TestCloseReasonTruncatedAtCharacterBoundary(t *testing.T) {
	t.Parallel()
	cases := map[string]struct{ reason, want string }{
		// 122 ASCII bytes then a 2-byte character: byte 123 is its first half.
		"two-byte":   {strings.Repeat("a", 122) + "é" + "tail", strings.Repeat("a", 122)},
		"three-byte": {"a" + strings.Repeat("€", 50), "a" + strings.Repeat("€", 40)},
		"four-byte":  {"ab" + strings.Repeat("😀", 40), "ab" + strings.Repeat("😀", 30)},
		"exactly":    {strings.Repeat("z", 123), strings.Repeat("z", 123)},
		"one over":   {strings.Repeat("z", 124), strings.Repeat("z", 123)},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], _ string) (string, error) {
				return "", c.Close(4003, tc.reason)
			}))
			c := h.Dial(t, "/c")
			c.SendText("x")
			code, reason := c.ExpectClose()
			if code != 4003 {
				t.Fatalf("close code %d", code)
			}
			if len(reason) > fiberws.MaxCloseReason || !utf8.ValidString(reason) {
				t.Fatalf("reason of %d bytes (valid UTF-8: %v): %q", len(reason), utf8.ValidString(reason), reason)
			}
			if reason != tc.want {
				t.Fatalf("reason %q (%d bytes), want %q (%d bytes)", reason, len(reason), tc.want, len(tc.want))
			}
		})
	}
}

// Same through a returned *CloseError.
func TestReturnedCloseErrorReasonTruncated(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("ü", 100) // 200 bytes
	h := serveRoutes(t, fiberws.WebSocket("/c", func(context.Context, *fiberws.Conn[string], string) (string, error) {
		return "", &fiberws.CloseError{Code: 4004, Reason: long}
	}))
	c := h.Dial(t, "/c")
	c.SendText("x")
	code, reason := c.ExpectClose()
	if code != 4004 || reason != strings.Repeat("ü", 61) {
		t.Fatalf("closed with %d and a %d-byte reason %q", code, len(reason), reason)
	}
}

func TestInvalidCloseCodesChangeNothing(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/c", closer))
	c := h.Dial(t, "/c")
	for _, code := range []int{999, 0, -1, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000} {
		c.SendText(fmt.Sprintf("close %d nope", code))
		want := fmt.Sprintf("close %d: %v", code, fiberws.ErrInvalidCloseCode)
		if got := c.ReadText(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		// Still open and answering.
		c.SendText("ping " + strconv.Itoa(code))
		if got := c.ReadText(); got != "echo ping "+strconv.Itoa(code) {
			t.Fatalf("after Close(%d): got %q", code, got)
		}
	}
	// And a valid code afterwards still closes.
	c.SendText("close 3000 finally")
	if code, reason := c.ExpectClose(); code != 3000 || reason != "finally" {
		t.Fatalf("closed with %d %q", code, reason)
	}
}

func TestInvalidCloseCodeIsErrInvalidCloseCode(t *testing.T) {
	t.Parallel()
	errs := make(chan error, 1)
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		err := c.Close(1005, "reserved")
		errs <- err
		return "open", nil
	}))
	c := h.Dial(t, "/c")
	c.SendText("x")
	if got := c.ReadText(); got != "open" {
		t.Fatalf("got %q", got)
	}
	if err := recv(t, errs, "Close's error"); !errors.Is(err, fiberws.ErrInvalidCloseCode) {
		t.Fatalf("Close(1005): %v, want ErrInvalidCloseCode", err)
	}
}

func TestValidCloseCode(t *testing.T) {
	t.Parallel()
	valid := []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999}
	invalid := []int{-1, 0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535}
	for _, c := range valid {
		if !fiberws.ValidCloseCode(c) {
			t.Errorf("ValidCloseCode(%d) = false", c)
		}
	}
	for _, c := range invalid {
		if fiberws.ValidCloseCode(c) {
			t.Errorf("ValidCloseCode(%d) = true", c)
		}
	}
}

func TestFirstCloseWins(t *testing.T) {
	t.Parallel()
	second := make(chan error, 1)
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], _ string) (string, error) {
		if err := c.Close(4010, "first"); err != nil {
			return "", err
		}
		second <- c.Close(4011, "second")
		return "", &fiberws.CloseError{Code: 4012, Reason: "third"}
	}))
	c := h.Dial(t, "/c")
	c.SendText("x")
	if code, reason := c.ExpectClose(); code != 4010 || reason != "first" {
		t.Fatalf("closed with %d %q, want 4010 first", code, reason)
	}
	if err := recv(t, second, "the second Close"); !errors.Is(err, fiberws.ErrClosed) {
		t.Fatalf("second Close: %v, want ErrClosed", err)
	}
}

// Many goroutines race to close: exactly one wins, and its code is the one
// the client receives.
func TestFirstCloseWinsConcurrently(t *testing.T) {
	t.Parallel()
	type result struct {
		code int
		err  error
	}
	results := make(chan result, 16)
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], _ string) (string, error) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				code := 4100 + i
				results <- result{code, c.Close(code, strconv.Itoa(code))}
			}()
		}
		close(start)
		wg.Wait()
		return "", nil
	}))
	c := h.Dial(t, "/c")
	c.SendText("x")
	code, reason := c.ExpectClose()
	winner := 0
	for range 16 {
		r := recv(t, results, "a Close result")
		switch {
		case r.err == nil:
			if winner != 0 {
				t.Fatalf("two Close calls won: %d and %d", winner, r.code)
			}
			winner = r.code
		case !errors.Is(r.err, fiberws.ErrClosed):
			t.Fatalf("Close(%d): %v", r.code, r.err)
		}
	}
	if code != winner || reason != strconv.Itoa(winner) {
		t.Fatalf("client got %d %q, the winner was %d", code, reason, winner)
	}
}

func TestClientCloseIsAnswered(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/c", echo))
	c := h.Dial(t, "/c")
	c.SendText("x")
	c.ReadText()
	if code := c.Close(4321, "client leaves"); code != 4321 {
		t.Fatalf("server answered the close with %d, want the client's 4321 echoed", code)
	}
	h.waitIdle(t)
}

// The close handshake: after the server's close frame and the client's
// answer, the server drops TCP; a client that never answers is dropped
// after Config.CloseTimeout.
func TestCloseHandshakeDropsTCP(t *testing.T) {
	t.Run("client answers", func(t *testing.T) {
		// A close timeout far longer than the wait for the drop: a drop
		// right after the answer is told apart from one at the timeout.
		const closeTimeout = 5 * time.Second
		h := start(t, fiberws.Config{CloseTimeout: closeTimeout}, ctrl{routes: []fiberws.Route{fiberws.WebSocket("/c", closer)}})
		c := h.Dial(t, "/c")
		c.SendText("close 1000 bye")
		if code, _ := c.ExpectClose(); code != 1000 { // the client library answers the close
			t.Fatalf("close code %d", code)
		}
		expectEOF(t, c, time.Second)
		h.waitIdle(t)
	})
	t.Run("client silent", func(t *testing.T) {
		const closeTimeout = 200 * time.Millisecond
		h := start(t, fiberws.Config{CloseTimeout: closeTimeout}, ctrl{routes: []fiberws.Route{fiberws.WebSocket("/c", closer)}})
		c := h.Dial(t, "/c")
		c.Conn().SetCloseHandler(func(int, string) error { return nil }) // never answers
		// Taken before the message that makes the server close: its
		// close timeout starts later.
		sent := time.Now()
		c.SendText("close 1000 bye")
		if code, _ := c.ExpectClose(); code != 1000 {
			t.Fatalf("close code %d", code)
		}
		expectEOF(t, c, 10*closeTimeout)
		if d := time.Since(sent); d < closeTimeout {
			t.Fatalf("TCP dropped after %v, before the close timeout %v", d, closeTimeout)
		}
		h.waitIdle(t)
	})
}

// expectEOF reads the raw socket until the server closes it, within d.
func expectEOF(t *testing.T, c *fiberwstest.Client, d time.Duration) {
	t.Helper()
	nc := c.Conn().NetConn()
	_ = nc.SetReadDeadline(time.Now().Add(d))
	buf := make([]byte, 512)
	for {
		_, err := nc.Read(buf)
		if err == nil {
			continue
		}
		if !errors.Is(err, io.EOF) && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("want the server to drop TCP within %v, got %v", d, err)
		}
		return
	}
}

// A reason that is not valid UTF-8 would make the client fail the close
// frame; the invalid bytes are dropped.
func TestCloseReasonInvalidUTF8Cleaned(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], _ string) (string, error) {
		return "", c.Close(4005, "a\xffb\xc3")
	}))
	c := h.Dial(t, "/c")
	c.SendText("x")
	if code, reason := c.ExpectClose(); code != 4005 || reason != "ab" {
		t.Fatalf("closed with %d %q, want 4005 %q", code, reason, "ab")
	}
}

// Register on a *fiber.App ties the fiberws Server to the app: when the app
// shuts down, every open connection gets 1001 "server shutting down" and
// its cleanups run before the shutdown returns.
func TestAppShutdownClosesConnections(t *testing.T) {
	cleaned := make(chan struct{})
	app := newApp()
	logger, _ := fiberwstest.NewLog(t)
	wsrv := fiberws.New(fiberws.Config{Logger: logger})
	if err := wsrv.Register(app, ctrl{routes: []fiberws.Route{
		fiberws.WebSocket("/c", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			c.Cleanup(func() { close(cleaned) })
			return msg, nil
		}),
	}}); err != nil {
		t.Fatal(err)
	}
	srv := fiberwstest.Serve(t, app)
	d := websocket.Dialer{HandshakeTimeout: srv.Timeout}
	conn, _, err := d.Dial(srv.URL("/c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(srv.Timeout))
	if err := conn.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, data, err := conn.ReadMessage(); err != nil || string(data) != "hi" {
		t.Fatalf("echo: %q %v", data, err)
	}
	closeErr := make(chan error, 1)
	go func() { // keep reading, so the client answers the close frame
		for {
			if _, _, err := conn.ReadMessage(); err != nil {
				closeErr <- err
				return
			}
		}
	}()
	if err := srv.Shutdown(srv.Timeout); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cleaned:
	default:
		t.Fatal("the app's shutdown returned before the connection's cleanups ran")
	}
	err = recv(t, closeErr, "the close frame")
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != fiberws.CloseGoingAway || ce.Text != "server shutting down" {
		t.Fatalf("client got %v, want close 1001 server shutting down", err)
	}
	if n := wsrv.Connections(); n != 0 {
		t.Fatalf("%d connections left", n)
	}
}

// A client's close frame is recorded as the client's, with its code, even
// while the server is busy sending: a Send that races the reader's answer
// to the close frame (the library then reports "close sent") is not a
// failed write.
func TestClientCloseRecordedWhileSending(t *testing.T) {
	obs := newRelSummaries()
	h := serveWith(t, fiberws.Config{Observers: []hooks.Observer{obs}},
		fiberws.WebSocket("/spam", func(_ context.Context, c *fiberws.Conn[string], msg *string) (string, error) {
			if msg == nil {
				go func() {
					for c.Send("x") == nil {
					}
				}()
			}
			return "", nil
		}, fiberws.OnConnect()))
	for i := range 50 {
		c := h.Dial(t, "/spam")
		c.ReadText()
		c.Close(4000, "bye")
		s := obs.next(t)
		if s.CloseCode != 4000 || s.CloseReason != "bye" || s.ClosedBy != hooks.ByClient || s.Err != nil {
			t.Fatalf("round %d: summary %d %q by %s err %v, want 4000 \"bye\" by client, no error", i, s.CloseCode, s.CloseReason, s.ClosedBy, s.Err)
		}
	}
}

// TestReadEndDropsTCPDespiteStuckWrite: when reading ends (here the
// client half-closes its side) while a write is stuck on a client that
// does not read, TCP is dropped at once; it does not wait for the stuck
// write's timeout (20s here) to release the socket.
func TestReadEndDropsTCPDespiteStuckWrite(t *testing.T) {
	obs := newRelSummaries()
	big := strings.Repeat("x", 16<<20) // more than the kernel buffers take
	h := serveWith(t, fiberws.Config{WriteTimeout: 20 * time.Second, Observers: []hooks.Observer{obs}},
		fiberws.WebSocket("/big", func(_ context.Context, c *fiberws.Conn[string], msg string) (string, error) {
			return big, nil // stuck: the client never reads
		}))
	c := h.Dial(t, "/big")
	c.SendText("go")
	time.Sleep(200 * time.Millisecond) // let the write fill the buffers and block
	halfClose := time.Now()
	if err := c.Conn().NetConn().(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	s := obs.next(t)
	if d := time.Since(halfClose); d > 2*time.Second {
		t.Fatalf("the connection ended %v after the client's EOF: the stuck write held the drop", d)
	}
	if s.CloseCode != fiberws.CloseAbnormalClosure {
		t.Fatalf("summary %d %q, want 1006", s.CloseCode, s.CloseReason)
	}
}
