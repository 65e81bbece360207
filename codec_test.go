package fiberws_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hooks"
)

type chatMsg struct {
	User string `json:"user"`
	Text string `json:"text"`
}

type reply struct {
	Line  string `json:"line"`
	Count int    `json:"count"`
}

func TestJSONInAndOut(t *testing.T) {
	t.Parallel()
	n := 0 // one connection: the handler runs on one goroutine at a time
	h := serveRoutes(t, fiberws.WebSocket("/typed", func(_ context.Context, _ *fiberws.Conn[reply], m chatMsg) (reply, error) {
		n++
		return reply{Line: m.User + ": " + m.Text, Count: n}, nil
	}))
	c := h.Dial(t, "/typed")
	c.SendJSON(chatMsg{User: "ann", Text: "hello"})
	c.SendText(`{"user":"bob","text":"hi","extra":true}`)

	mt, data, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	if mt != websocket.TextMessage {
		t.Fatalf("JSON result came as frame type %d, want text", mt)
	}
	if string(data) != `{"line":"ann: hello","count":1}` {
		t.Fatalf("got %s: want the bare JSON object, no envelope", data)
	}
	var r reply
	c.ReadJSON(&r)
	if r != (reply{Line: "bob: hi", Count: 2}) {
		t.Fatalf("second reply %+v", r)
	}
}

// A JSON object cut inside an escaped key (which go-json v0.10.5 reads past
// the end of, fatally under -race) is invalid payload like any bad JSON:
// 1007, and the next connection is served as usual.
func TestTruncatedEscapeInKeyCloses1007(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/typed", func(_ context.Context, _ *fiberws.Conn[reply], m chatMsg) (reply, error) {
		return reply{Line: m.User + ": " + m.Text}, nil
	}))
	for _, frame := range []string{`{"inn\`, `{"\7'\`, `{"user\q":"x"}`} {
		c := h.Dial(t, "/typed")
		c.SendText(frame)
		if code, reason := c.ExpectClose(); code != websocket.CloseInvalidFramePayloadData || reason != "invalid message payload" {
			t.Fatalf("%q: closed %d %q, want 1007 \"invalid message payload\"", frame, code, reason)
		}
	}
	c := h.Dial(t, "/typed")
	c.SendJSON(chatMsg{User: "ann", Text: "hi"})
	var r reply
	c.ReadJSON(&r)
	if r.Line != "ann: hi" {
		t.Fatalf("after the bad frames: %+v", r)
	}
}

func TestNilPointerResultSendsNothing(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/maybe", func(_ context.Context, _ *fiberws.Conn[*reply], msg string) (*reply, error) {
		if msg == "skip" {
			return nil, nil
		}
		return &reply{Line: msg}, nil
	}))
	c := h.Dial(t, "/maybe")
	c.SendText("skip")
	c.SendText("skip")
	c.SendText("send")
	var r reply
	c.ReadJSON(&r) // the two nil results sent nothing, so this is the third
	if r.Line != "send" {
		t.Fatalf("got %+v, want the reply to %q", r, "send")
	}
}

func TestBytesAreBinaryFrames(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t,
		fiberws.WebSocket("/bin", func(_ context.Context, _ *fiberws.Conn[[]byte], b []byte) ([]byte, error) {
			return append([]byte("got:"), b...), nil
		}),
		fiberws.WebSocket("/binptr", func(_ context.Context, _ *fiberws.Conn[*[]byte], b *[]byte) (*[]byte, error) {
			if len(*b) == 0 {
				return nil, nil
			}
			return b, nil
		}),
	)
	c := h.Dial(t, "/bin")
	payload := []byte{0, 1, 2, 0xff, 0xfe}
	c.SendBinary(payload)
	if got := c.ReadBinary(); !bytes.Equal(got, append([]byte("got:"), payload...)) {
		t.Fatalf("got %v", got)
	}
	// A text frame into a []byte body is taken raw too; the reply is binary.
	c.SendText("txt")
	if got := c.ReadBinary(); string(got) != "got:txt" {
		t.Fatalf("got %q", got)
	}

	p := h.Dial(t, "/binptr")
	p.SendBinary(nil) // nil *[]byte result: nothing sent
	p.SendBinary([]byte{7})
	if got := p.ReadBinary(); !bytes.Equal(got, []byte{7}) {
		t.Fatalf("got %v", got)
	}
}

func TestStringResultIsTextFrame(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/e", echo))
	c := h.Dial(t, "/e")
	c.SendBinary([]byte("raw")) // a string body takes binary payloads as they are
	if got := c.ReadText(); got != "echo raw" {
		t.Fatalf("got %q", got)
	}
	c.SendText("héllo ✓")
	if got := c.ReadText(); got != "echo héllo ✓" {
		t.Fatalf("got %q", got)
	}
}

func TestInvalidUTF8TextCloses1007(t *testing.T) {
	t.Parallel()
	called := make(chan string, 4)
	h := serveRoutes(t, fiberws.WebSocket("/e", func(ctx context.Context, c *fiberws.Conn[string], msg string) (string, error) {
		called <- msg
		return echo(ctx, c, msg)
	}))
	c := h.Dial(t, "/e")
	c.SendText("ok")
	if got := c.ReadText(); got != "echo ok" {
		t.Fatalf("got %q", got)
	}
	recv(t, called, "the handler's call for \"ok\"")
	// The client library does not validate outgoing text, so this frame
	// reaches the server as is.
	if err := c.Conn().WriteMessage(websocket.TextMessage, []byte{'a', 0xff, 0xfe, 'b'}); err != nil {
		t.Fatal(err)
	}
	code, _ := c.ExpectClose()
	if code != fiberws.CloseInvalidPayload {
		t.Fatalf("close code %d, want 1007", code)
	}
	select {
	case msg := <-called:
		t.Fatalf("handler saw the invalid frame %q", msg)
	default:
	}
}

func TestInvalidUTF8BinaryIsFine(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/bin", func(_ context.Context, _ *fiberws.Conn[[]byte], b []byte) ([]byte, error) {
		return b, nil
	}))
	c := h.Dial(t, "/bin")
	c.SendBinary([]byte{0xff, 0xfe})
	if got := c.ReadBinary(); !bytes.Equal(got, []byte{0xff, 0xfe}) {
		t.Fatalf("got %v", got)
	}
}

func TestUndecodableJSONCloses1007(t *testing.T) {
	t.Parallel()
	for name, payload := range map[string]string{
		"syntax":     `{"user": "ann", `,
		"wrong type": `{"user": 5}`,
		"not json":   `hello`,
	} {
		t.Run(name, func(t *testing.T) {
			h := serveRoutes(t, fiberws.WebSocket("/typed", func(_ context.Context, _ *fiberws.Conn[reply], m chatMsg) (reply, error) {
				return reply{Line: m.User}, nil
			}))
			c := h.Dial(t, "/typed")
			c.SendText(payload)
			code, reason := c.ExpectClose()
			if code != fiberws.CloseInvalidPayload || reason != "invalid message payload" {
				t.Fatalf("closed with %d %q, want 1007 %q", code, reason, "invalid message payload")
			}
		})
	}
}

// A catcher can handle a decode error instead of the default 1007.
func TestDecodeErrorCaughtByCatcher(t *testing.T) {
	t.Parallel()
	catcher := hooks.CatcherFunc(func(_ context.Context, _ hooks.Peer, err error) (hooks.Outcome, bool) {
		if _, ok := err.(*fiberws.DecodeError); ok {
			return hooks.Reply("bad payload"), true
		}
		return hooks.Outcome{}, false
	})
	h := serveRoutes(t, fiberws.WebSocket("/typed", func(_ context.Context, _ *fiberws.Conn[reply], m chatMsg) (reply, error) {
		return reply{Line: m.User}, nil
	}, fiberws.WithCatchers(catcher)))
	c := h.Dial(t, "/typed")
	c.SendText("{")
	if got := c.ReadText(); got != "bad payload" {
		t.Fatalf("got %q", got)
	}
	c.SendJSON(chatMsg{User: "still open"})
	var r reply
	c.ReadJSON(&r)
	if r.Line != "still open" {
		t.Fatalf("got %+v", r)
	}
}

func TestResultThatDoesNotEncodeCloses1011(t *testing.T) {
	t.Parallel()
	type bad struct{ C chan int }
	h := serveRoutes(t, fiberws.WebSocket("/bad", func(context.Context, *fiberws.Conn[bad], string) (bad, error) {
		return bad{C: make(chan int)}, nil
	}))
	c := h.Dial(t, "/bad")
	c.SendText("x")
	code, reason := c.ExpectClose()
	if code != fiberws.CloseInternalError || reason != "internal error" {
		t.Fatalf("closed with %d %q, want 1011 internal error", code, reason)
	}
	if strings.Contains(h.logs.String(), "chan") == false {
		t.Errorf("the encode error was not logged: %s", h.logs.String())
	}
}

func TestReadLimitCloses1009(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.WebSocket("/small", echo, fiberws.WithReadLimit(16)))
	c := h.Dial(t, "/small")
	c.SendText("short")
	if got := c.ReadText(); got != "echo short" {
		t.Fatalf("got %q", got)
	}
	c.SendText(strings.Repeat("x", 64))
	if code, reason := c.ExpectClose(); code != fiberws.CloseMessageTooBig || reason != fiberws.ReasonMessageTooBig {
		t.Fatalf("close %d %q, want 1009 %q", code, reason, fiberws.ReasonMessageTooBig)
	}
}

// Bodies are the handler's to keep: the read buffers are pooled and reused,
// so a body that aliased them would change under a handler that kept it.
func TestBodiesMayBeRetained(t *testing.T) {
	t.Parallel()
	kept := make(chan [2]any, 100)
	h := serveRoutes(t,
		fiberws.ReceiveOnly("/bytes", func(_ context.Context, _ *fiberws.Session, b []byte) error {
			kept <- [2]any{b, nil}
			return nil
		}),
		fiberws.ReceiveOnly("/ptr", func(_ context.Context, _ *fiberws.Session, p *[]byte) error {
			kept <- [2]any{*p, nil}
			return nil
		}),
	)
	for _, path := range []string{"/bytes", "/ptr"} {
		c := h.Dial(t, path)
		const n = 50
		for i := range n {
			c.SendBinary(bytes.Repeat([]byte{byte(i)}, 100+i))
		}
		var got [][]byte
		for i := range n {
			got = append(got, recv(t, kept, fmt.Sprintf("message %d", i))[0].([]byte))
		}
		for i, b := range got {
			if !bytes.Equal(b, bytes.Repeat([]byte{byte(i)}, 100+i)) {
				t.Fatalf("%s: kept body %d changed after the handler returned", path, i)
			}
		}
	}
}
