// Package fiberwstest serves a Fiber app on a loopback port and talks to
// its WebSocket routes with a real client, with every wait bounded, for
// tests of fiberws applications (and of fiberws itself).
//
//	func TestEcho(t *testing.T) {
//		app := fiber.New()
//		if err := fiberws.Register(app, Chat{}); err != nil {
//			t.Fatal(err)
//		}
//		srv := fiberwstest.Serve(t, app)
//		c := srv.Dial(t, "/chat/messages")
//		c.SendText("hi")
//		if got := c.ReadText(); got != "Echo: hi" {
//			t.Fatalf("got %q", got)
//		}
//	}
package fiberwstest

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"
)

// DefaultTimeout is the Timeout a Server starts with, and the bound of the
// package-level waits (Eventually). Use it for waits of your own that are
// not tied to one Server; use Server.Timeout for those that are.
const DefaultTimeout = 5 * time.Second

// Server is a Fiber app listening on a loopback port.
type Server struct {
	// Addr is host:port of the listener.
	Addr string
	// Timeout bounds every wait on this server: dialing it, each read and
	// write of the clients dialed from it (a client takes the value when it
	// is dialed), waiting for the server to stop when the test ends, and
	// Server.Eventually. Serve sets it to DefaultTimeout; a test that
	// expects slow answers (a deliberately slow handler) raises it before
	// dialing, one that wants a quick failure lowers it. It is a plain
	// field: set it before the server is used from other goroutines.
	Timeout time.Duration

	app  *fiber.App
	done chan struct{} // closed when app.Listener returns

	shutdownOnce sync.Once
	shutdownErr  error
}

// Serve starts app on 127.0.0.1 on a free port and shuts it down (bounded
// by the server's Timeout, as it is then) when the test ends. It never
// prints Fiber's startup banner: an app made with DisableStartupMessage is
// served with app.Listener, its OnListen hooks run; any other is served by
// its fasthttp server directly (app.Handler, then app.Server().Serve), as
// Fiber would print the banner from Listener, and OnListen hooks do not
// run.
func Serve(t testing.TB, app *fiber.App) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fiberwstest: listen: %v", err)
	}
	return ServeListener(t, app, ln)
}

// ServeListener is Serve on a listener the test made itself, for tests
// that need to shape the listening socket. It prints no banner either.
func ServeListener(t testing.TB, app *fiber.App, ln net.Listener) *Server {
	t.Helper()
	s := &Server{Addr: ln.Addr().String(), Timeout: DefaultTimeout, app: app, done: make(chan struct{})}
	serve := app.Listener
	if !app.Config().DisableStartupMessage {
		app.Handler() // builds the routes, as Listener would
		serve = app.Server().Serve
	}
	go func() {
		defer close(s.done)
		_ = serve(ln)
	}()
	t.Cleanup(func() {
		if err := s.Shutdown(s.timeout()); err != nil {
			t.Errorf("fiberwstest: %v", err)
		}
	})
	return s
}

// Shutdown shuts the app down now, as app.ShutdownWithTimeout(timeout) does
// (fiberws Servers registered on it close their connections with 1001),
// and waits, at most timeout again, for it to stop serving. Only the first
// call shuts down; later ones, including the one when the test ends, return
// its result.
func (s *Server) Shutdown(timeout time.Duration) error {
	s.shutdownOnce.Do(func() {
		if err := s.app.ShutdownWithTimeout(timeout); err != nil {
			s.shutdownErr = fmt.Errorf("shutdown: %w", err)
			return
		}
		select {
		case <-s.done:
		case <-time.After(timeout):
			s.shutdownErr = fmt.Errorf("server did not stop within %v", timeout)
		}
	})
	return s.shutdownErr
}

// URL is the ws:// URL of path on the server.
func (s *Server) URL(path string) string { return "ws://" + s.Addr + path }

// HTTPURL is the http:// URL of path on the server.
func (s *Server) HTTPURL(path string) string { return "http://" + s.Addr + path }

// Dial connects to path and fails the test if the upgrade fails. The
// connection is closed when the test ends. The handshake and every wait of
// the returned client are bounded by the server's Timeout.
func (s *Server) Dial(t testing.TB, path string, header ...http.Header) *Client {
	t.Helper()
	c, resp, err := s.TryDial(path, header...)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("fiberwstest: dial %s: %v (HTTP status %d)", path, err, status)
	}
	c.t = t
	t.Cleanup(func() { _ = c.conn.Close() })
	return c
}

// TryDial connects to path and returns the handshake response, for tests
// that expect the upgrade to fail (resp.StatusCode is then the HTTP status).
// The caller closes a returned Client. Its helpers that fail a test need
// one, so on such a client use Conn and Read only. Its waits are bounded by
// the server's Timeout, as Dial's are.
func (s *Server) TryDial(path string, header ...http.Header) (*Client, *http.Response, error) {
	timeout := s.timeout()
	d := websocket.Dialer{HandshakeTimeout: timeout}
	var h http.Header
	if len(header) > 0 {
		h = header[0]
	}
	conn, resp, err := d.Dial(s.URL(path), h)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, resp, err
	}
	c := &Client{conn: conn, timeout: timeout}
	conn.SetPingHandler(func(data string) error {
		c.pings.Add(1)
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(timeout))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil // closing: the pong no longer matters (gorilla's default does the same)
		}
		return err
	})
	return c, resp, nil
}

// timeout is s.Timeout, or DefaultTimeout if it is not positive.
func (s *Server) timeout() time.Duration {
	if s.Timeout <= 0 {
		return DefaultTimeout
	}
	return s.Timeout
}

// Eventually is the package-level Eventually bounded by the server's
// Timeout instead of DefaultTimeout: use it for conditions about this
// server when the test changed its Timeout.
func (s *Server) Eventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	eventually(t, s.timeout(), cond, format, args...)
}

// Client is a real WebSocket client connection. Its helpers fail the test
// on error; the Read… and Expect… ones wait at most its Timeout.
type Client struct {
	t       testing.TB
	conn    *websocket.Conn
	pings   atomic.Int64
	timeout time.Duration
}

// Timeout is the bound of this client's waits: the Timeout of the server
// it was dialed from, when it was dialed. Use it for deadlines you set on
// Conn yourself, so they match the helpers'.
func (c *Client) Timeout() time.Duration { return c.timeout }

// test is the test the helpers fail. A client from TryDial has none: it
// only offers Conn and Read, so it panics with a clear message instead of
// a nil dereference.
func (c *Client) test() testing.TB {
	if c.t == nil {
		panic("fiberwstest: a Client from TryDial has no test to fail: use Conn and Read, or Server.Dial")
	}
	return c.t
}

// Conn is the underlying fasthttp/websocket client connection, for what the
// helpers do not cover (raw frames, control messages, custom deadlines).
func (c *Client) Conn() *websocket.Conn { return c.conn }

// Pings is how many pings the client has received (and answered) so far.
// Pings are only seen while the client reads.
func (c *Client) Pings() int { return int(c.pings.Load()) }

// SendText sends a text frame.
func (c *Client) SendText(s string) { c.send(websocket.TextMessage, []byte(s)) }

// SendBinary sends a binary frame.
func (c *Client) SendBinary(b []byte) { c.send(websocket.BinaryMessage, b) }

// SendJSON sends v as a JSON text frame.
func (c *Client) SendJSON(v any) {
	c.test().Helper()
	data, err := json.Marshal(v)
	if err != nil {
		c.test().Fatalf("fiberwstest: marshal: %v", err)
	}
	c.send(websocket.TextMessage, data)
}

func (c *Client) send(mt int, data []byte) {
	c.test().Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	if err := c.conn.WriteMessage(mt, data); err != nil {
		c.test().Fatalf("fiberwstest: write: %v", err)
	}
}

// Read waits for the next data message. It returns the error (a
// *websocket.CloseError when the server closed) instead of failing.
func (c *Client) Read() (messageType int, data []byte, err error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	return c.conn.ReadMessage()
}

// ReadText waits for the next message, fails the test unless it is a text
// frame, and returns it.
func (c *Client) ReadText() string {
	c.test().Helper()
	mt, data, err := c.Read()
	if err != nil {
		c.test().Fatalf("fiberwstest: read: %v", err)
	}
	if mt != websocket.TextMessage {
		c.test().Fatalf("fiberwstest: got a binary frame %q, want text", data)
	}
	return string(data)
}

// ReadBinary waits for the next message, fails the test unless it is a
// binary frame, and returns it.
func (c *Client) ReadBinary() []byte {
	c.test().Helper()
	mt, data, err := c.Read()
	if err != nil {
		c.test().Fatalf("fiberwstest: read: %v", err)
	}
	if mt != websocket.BinaryMessage {
		c.test().Fatalf("fiberwstest: got a text frame %q, want binary", data)
	}
	return data
}

// ReadJSON waits for the next message and decodes it into v.
func (c *Client) ReadJSON(v any) {
	c.test().Helper()
	data := c.ReadText()
	if err := json.Unmarshal([]byte(data), v); err != nil {
		c.test().Fatalf("fiberwstest: %q is not JSON for %T: %v", data, v, err)
	}
}

// ExpectClose reads until the server closes the connection and returns
// the close code and reason it sent. Data messages before the close frame
// fail the test; use ReadUntilClose to skip them.
func (c *Client) ExpectClose() (code int, reason string) {
	c.test().Helper()
	mt, data, err := c.Read()
	if err == nil {
		c.test().Fatalf("fiberwstest: got message %q (type %d), want close", data, mt)
	}
	return closeOf(c.test(), err)
}

// ReadUntilClose returns the data messages received before the server's
// close frame, with the close code and reason, waiting at most the
// client's Timeout in all.
func (c *Client) ReadUntilClose() (messages []string, code int, reason string) {
	c.test().Helper()
	// One deadline for the whole call, not one per message: a server that
	// keeps sending must not keep it waiting forever.
	_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			code, reason = closeOf(c.test(), err)
			return messages, code, reason
		}
		messages = append(messages, string(data))
	}
}

// ExpectSilence fails the test if a data message arrives within d. The
// read timeout it relies on leaves the client unable to read again (a
// fasthttp/websocket rule), so call it last, or only before Drop.
func (c *Client) ExpectSilence(d time.Duration) {
	c.test().Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(d))
	mt, data, err := c.conn.ReadMessage()
	if err == nil {
		c.test().Fatalf("fiberwstest: got message %q (type %d), want none within %v", data, mt, d)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.test().Fatalf("fiberwstest: want silence, connection ended: %v", err)
	}
}

// Close sends a close frame with code and reason and waits (at most the
// client's Timeout in all, skipping data messages still in flight) for the server's
// answer, returning the code the server answered with.
func (c *Client) Close(code int, reason string) int {
	c.test().Helper()
	msg := websocket.FormatCloseMessage(code, reason)
	if err := c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(c.timeout)); err != nil {
		c.test().Fatalf("fiberwstest: send close: %v", err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(c.timeout)) // for the whole call
	for {
		_, _, err := c.conn.ReadMessage()
		if err != nil {
			got, _ := closeOf(c.test(), err)
			_ = c.conn.Close()
			return got
		}
	}
}

// Drop closes the TCP connection without a close handshake, like a client
// that crashed or lost its network.
func (c *Client) Drop() { _ = c.conn.NetConn().Close() }

func closeOf(t testing.TB, err error) (int, string) {
	t.Helper()
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text
	}
	t.Fatalf("fiberwstest: want a close frame, got %v", err)
	return 0, ""
}

// Eventually polls cond every few milliseconds until it holds, failing the
// test after DefaultTimeout with the message. Use it instead of a sleep
// whenever a test waits for something to happen; Server.Eventually is the
// same bounded by that server's Timeout. Its arguments are evaluated when
// it is called; wrap one in Later to print its value at the time of
// failure.
func Eventually(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	eventually(t, DefaultTimeout, cond, format, args...)
}

func eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("fiberwstest: timed out after %v: %s", timeout, fmt.Sprintf(format, args...))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Later defers a value of a failure message until the message is printed:
//
//	fiberwstest.Eventually(t, func() bool { return n.Load() == 3 },
//		"count %d, want 3", fiberwstest.Later(func() any { return n.Load() }))
//
// shows the count when the wait gave up, not when it began.
type Later func() any

// Format prints the deferred value with the verb and flags it was given.
func (f Later) Format(s fmt.State, verb rune) {
	fmt.Fprintf(s, fmt.FormatString(s, verb), f())
}
