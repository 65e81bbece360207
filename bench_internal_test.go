package fiberws

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
)

// Micro-benchmarks of the per-message path. They measure the code between
// the socket and the handler (decode, dispatch, interceptors, encode,
// prepare) with the socket replaced by one that discards what is written,
// so the numbers are fiberws's own cost. `go run ./cmd/fiberws-bench`
// measures the whole path against raw contrib/websocket on real sockets.

type benchPayload struct {
	ID   int64  `json:"id"`
	User string `json:"user"`
	Text string `json:"text"`
	TS   int64  `json:"ts"`
}

var (
	benchText = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") // 64 B
	benchJSON = []byte(`{"id":42,"user":"bench","text":"xxxxxxxxxxxxxxxx","ts":1700000000000}`)
	// benchEvent is benchJSON as an event's data, with a request id.
	benchEvent = []byte(`{"event":"echo","data":{"id":42,"user":"bench","text":"xxxxxxxxxxxxxxxx","ts":1700000000000},"id":7}`)
)

func echoEvent(_ context.Context, _ *EventConn, msg benchPayload) (benchPayload, error) {
	return msg, nil
}

// Sinks keep the compiler from optimizing benchmarked results away.
var (
	sinkString  string
	sinkBytes   []byte
	sinkPayload benchPayload
)

func BenchmarkDecode(b *testing.B) {
	b.Run("string", func(b *testing.B) {
		dec := newDecoder[string]()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			sinkString, _ = dec(benchText)
		}
	})
	b.Run("bytes", func(b *testing.B) {
		dec := newDecoder[[]byte]()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			sinkBytes, _ = dec(benchText)
		}
	})
	b.Run("json", func(b *testing.B) {
		dec := newDecoder[benchPayload]()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var err error
			if sinkPayload, err = dec(benchJSON); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	b.Run("string", func(b *testing.B) {
		enc := newEncoder[string]()
		s := string(benchText)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, _, _, _ = enc(s)
		}
	})
	b.Run("bytes", func(b *testing.B) {
		enc := newEncoder[[]byte]()
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			_, _, _, _ = enc(benchText)
		}
	})
	b.Run("json", func(b *testing.B) {
		enc := newEncoder[benchPayload]()
		v := benchPayload{ID: 42, User: "bench", Text: "xxxxxxxxxxxxxxxx", TS: 1700000000000}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, _, err := enc(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPrepare is the cost of fiberws.Prepare (encode once; framing
// waits for a second receiver), which a hub pays once for all receivers.
func BenchmarkPrepare(b *testing.B) {
	b.Run("string", func(b *testing.B) {
		s := string(benchText)
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := Prepare(s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		v := benchPayload{ID: 42, User: "bench", Text: "xxxxxxxxxxxxxxxx", TS: 1700000000000}
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := Prepare(v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSendPrepared is the per-receiver cost of a broadcast: one
// prepared frame written to one connection.
func BenchmarkSendPrepared(b *testing.B) {
	s := benchSession(b, WebSocket("/", echoString))
	p, err := Prepare(string(benchText))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := s.sendPrepared(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSendFresh is Prepare and then writes to one or two receivers:
// one is what hub.Send to a member costs fiberws (no frame is built), two
// what every broadcast to more than one receiver pays (the second write
// builds the frame, once).
func BenchmarkSendFresh(b *testing.B) {
	for _, receivers := range []int{1, 2} {
		b.Run(fmt.Sprintf("receivers=%d", receivers), func(b *testing.B) {
			s := benchSession(b, WebSocket("/", echoString))
			msg := string(benchText)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				p, err := Prepare(msg)
				if err != nil {
					b.Fatal(err)
				}
				for range receivers {
					if err := s.sendPrepared(p); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func echoString(_ context.Context, _ *Conn[string], msg string) (string, error) { return msg, nil }

func echoJSON(_ context.Context, _ *Conn[benchPayload], msg benchPayload) (benchPayload, error) {
	return msg, nil
}

// nopInterceptor has a Pre and a Post that do nothing.
type nopInterceptor struct{}

func (nopInterceptor) Pre(context.Context, hooks.Peer, *hooks.Message) error  { return nil }
func (nopInterceptor) Post(context.Context, hooks.Peer, *hooks.Message) error { return nil }

// BenchmarkDispatch runs one message through the pre-interceptors, the
// decoder, the handler, the encoder, the post-interceptors and the write
// (to a socket that discards), as the message loop does.
func BenchmarkDispatch(b *testing.B) {
	three := WithInterceptors(nopInterceptor{}, nopInterceptor{}, nopInterceptor{})
	cases := []struct {
		name  string
		route Route
		data  []byte
	}{
		{"string/no-hooks", WebSocket("/", echoString), benchText},
		{"string/3-interceptors", WebSocket("/", echoString, three), benchText},
		{"json/no-hooks", WebSocket("/", echoJSON), benchJSON},
		{"json/3-interceptors", WebSocket("/", echoJSON, three), benchJSON},
		{"event/no-hooks", Events("/", On("echo", echoEvent)), benchEvent},
		{"event/3-interceptors", Events("/", On("echo", echoEvent), three), benchEvent},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			s := benchSession(b, tc.route)
			h := s.route.route.bind(s)
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.data)))
			for i := 0; i < b.N; i++ {
				// The message loop reuses the Session's Message, so must we.
				s.msg = hooks.Message{Type: hooks.Text, Data: tc.data}
				if !s.process(h, &s.msg) {
					b.Fatal("process failed")
				}
			}
		})
	}
}

// benchSession is a Session of route on a server-side websocket.Conn whose
// socket discards writes and never has anything to read.
func benchSession(b *testing.B, route Route) *Session {
	b.Helper()
	srv := New()
	mr := srv.mount(benchController{}, "", route)
	ws := discardWebSocket(b)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	return &Session{
		route:    mr,
		req:      &requestData{pattern: "/", path: "/"},
		ws:       ws,
		ctx:      ctx,
		cancel:   cancel,
		cleanups: []func(){},
	}
}

type benchController struct{}

func (benchController) Prefix() string  { return "" }
func (benchController) Routes() []Route { return nil }

// discardWebSocket upgrades a fake request whose hijacked connection
// discards everything written to it.
func discardWebSocket(b *testing.B) *websocket.Conn {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	u := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}
	ws, err := u.Upgrade(&hijacker{header: http.Header{}}, req, nil)
	if err != nil {
		b.Fatal(err)
	}
	return ws
}

type hijacker struct{ header http.Header }

func (h *hijacker) Header() http.Header         { return h.header }
func (h *hijacker) Write(p []byte) (int, error) { return len(p), nil }
func (h *hijacker) WriteHeader(int)             {}
func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := discardConn{}
	return c, bufio.NewReadWriter(bufio.NewReader(c), bufio.NewWriter(c)), nil
}

// discardConn is a net.Conn that takes every write and has nothing to read.
type discardConn struct{}

func (discardConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (discardConn) Write(p []byte) (int, error)      { return len(p), nil }
func (discardConn) Close() error                     { return nil }
func (discardConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (discardConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (discardConn) SetDeadline(time.Time) error      { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
