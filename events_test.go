package fiberws_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

type addIn struct {
	A *int `json:"a" validate:"required"`
	B *int `json:"b" validate:"required"`
}

type roomIn struct {
	Room string `json:"room" validate:"required,min=2"`
}

// frame is a decoded event frame as a client sees it.
type frame struct {
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
	ID    *uint64         `json:"id"`
}

func readFrame(t *testing.T, c *fiberwstest.Client) frame {
	t.Helper()
	var f frame
	raw := c.ReadText()
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		t.Fatalf("not a JSON frame: %q", raw)
	}
	return f
}

func eventRoutes(opts ...fiberws.Option) fiberws.Route {
	all := append([]fiberws.Option{
		fiberws.On("add", func(_ context.Context, _ *fiberws.EventConn, in addIn) (int, error) {
			return *in.A + *in.B, nil
		}),
		fiberws.On("join", func(_ context.Context, _ *fiberws.EventConn, in roomIn) (fiberws.None, error) {
			return fiberws.None{}, nil
		}),
		fiberws.On("fail", func(_ context.Context, _ *fiberws.EventConn, kind string) (string, error) {
			switch kind {
			case "reply":
				return "", &fiberws.ErrorReply{Message: "room is full", Fields: map[string]string{"room": "full"}}
			case "close":
				return "", &fiberws.CloseError{Code: 4000, Reason: "bye"}
			case "panic":
				panic("secret panic")
			}
			return "", errors.New("secret database detail")
		}),
	}, opts...)
	return fiberws.Events("/events", all...)
}

// TestEventDispatchAndAcks: each event goes to its handler with its own
// types; the result comes back as the same event with the request's id,
// and nothing comes back for a request without an id.
func TestEventDispatchAndAcks(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, eventRoutes())
	c := h.Dial(t, "/events")
	c.SendText(`{"event":"add","data":{"a":2,"b":40},"id":1}`)
	if got := c.ReadText(); got != `{"event":"add","data":42,"id":1}` {
		t.Fatalf("ack %s", got)
	}
	c.SendText(`{"event":"add","data":{"a":1,"b":1}}`) // no id: no ack
	c.SendText(`{"id":5,"data":{"room":"r1"},"event":"join"}`)
	if got := c.ReadText(); got != `{"event":"join","id":5}` {
		t.Fatalf("ack of join %s (the add without id must not be acknowledged)", got)
	}
	c.SendText(` { "event" : "add" , "x" : [1,{"y":"}"}] , "data" : { "a" : 0 , "b" : 0 } , "id" : 0 } `)
	if got := c.ReadText(); got != `{"event":"add","data":0,"id":0}` {
		t.Fatalf("ack of a spaced envelope with unknown keys %s", got)
	}
}

// TestEventErrorsStayOnTheSocket: unknown events, data that does not
// decode or validate, and handler errors answer with an error event and
// the connection stays open; a frame that is not an envelope closes 1007.
func TestEventErrorsStayOnTheSocket(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, eventRoutes())
	c := h.Dial(t, "/events")
	for _, tc := range []struct {
		send, message string
		fields        map[string]string
	}{
		{`{"event":"nope","id":2}`, `unknown event "nope"`, nil},
		{`{"event":"add","data":{"a":2},"id":3}`, `invalid data for event "add"`, map[string]string{"b": "required"}},
		{`{"event":"add","data":{"a":"x","b":1},"id":4}`, `invalid data for event "add"`, map[string]string{"a": "must be an integer"}},
		{`{"event":"add","data":{"a":1.5,"b":1},"id":5}`, `invalid data for event "add"`, map[string]string{"a": "must be an integer"}},
		{`{"event":"join","data":{"room":"x"},"id":6}`, `invalid data for event "join"`, map[string]string{"room": "min=2"}},
		{`{"event":"fail","data":"reply","id":7}`, "room is full", map[string]string{"room": "full"}},
		{`{"event":"fail","data":"error","id":8}`, "internal error", nil},
		{`{"event":"fail","data":"panic","id":9}`, "internal error", nil},
	} {
		c.SendText(tc.send)
		f := readFrame(t, c)
		var data struct {
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		}
		_ = json.Unmarshal(f.Data, &data)
		if f.Event != "error" || f.ID == nil || data.Message != tc.message || fmt.Sprint(data.Fields) != fmt.Sprint(tc.fields) {
			t.Errorf("%s: got %s %v %+v, want error %q %v", tc.send, f.Event, f.ID, data, tc.message, tc.fields)
		}
	}
	c.SendText(`{"event":"add","data":{"a":1,"b":2},"id":10}`) // still open
	if got := c.ReadText(); got != `{"event":"add","data":3,"id":10}` {
		t.Fatalf("after the errors: %s", got)
	}
	for _, secret := range []string{"secret database detail", "secret panic"} {
		if !strings.Contains(h.logs.String(), secret) {
			t.Errorf("%q was not logged", secret)
		}
	}
	c.SendText(`{"event":"fail","data":"close","id":11}`)
	if code, reason := c.ExpectClose(); code != 4000 || reason != "bye" {
		t.Fatalf("a CloseError: %d %q", code, reason)
	}
	for _, bad := range []string{`not json`, `[1,2]`, `{"data":1}`, `{"event":7}`, `{"event":"add","id":-1}`, `{"event":"add"} x`} {
		c := h.Dial(t, "/events")
		c.SendText(bad)
		if code, _ := c.ExpectClose(); code != fiberws.CloseInvalidPayload {
			t.Errorf("%s: close %d, want 1007", bad, code)
		}
	}
}

// TestEventsInTheLifecycle: interceptors see the event name both ways,
// catchers get an *EventError and may answer their own way, and the
// summary counts messages per event.
func TestEventsInTheLifecycle(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	obs := newRelSummaries()
	trace := hooks.PreFunc(func(_ context.Context, _ hooks.Peer, m *hooks.Message) error {
		mu.Lock()
		seen = append(seen, "pre "+m.Event)
		mu.Unlock()
		return nil
	})
	traceOut := hooks.PostFunc(func(_ context.Context, _ hooks.Peer, m *hooks.Message) error {
		mu.Lock()
		seen = append(seen, "post "+m.Event)
		mu.Unlock()
		return nil
	})
	catcher := hooks.CatchAs(func(_ context.Context, _ hooks.Peer, err *fiberws.EventError) hooks.Outcome {
		if errors.Is(err, fiberws.ErrUnknownEvent) {
			return err.Reply("oops", map[string]string{"unknown": err.Event})
		}
		return hooks.CloseWith(4001, "bad "+err.Event)
	})
	h := serveWith(t, fiberws.Config{Observers: []hooks.Observer{obs}}, eventRoutes(
		fiberws.WithInterceptors(trace, traceOut), fiberws.WithCatchers(catcher)))
	c := h.Dial(t, "/events")
	c.SendText(`{"event":"add","data":{"a":1,"b":2},"id":1}`)
	c.ReadText()
	c.SendText(`{"event":"add","data":{"a":1,"b":2},"id":2}`)
	c.ReadText()
	c.SendText(`{"event":"join","data":{"room":"r1"},"id":3}`)
	c.ReadText()
	c.SendText(`{"event":"nope","id":4}`)
	if got := c.ReadText(); got != `{"event":"oops","data":{"unknown":"nope"},"id":4}` {
		t.Fatalf("the catcher's reply: %s", got)
	}
	c.SendText(`{"event":"add","data":{},"id":5}`)
	if code, reason := c.ExpectClose(); code != 4001 || reason != "bad add" {
		t.Fatalf("the catcher's close: %d %q", code, reason)
	}
	s := obs.next(t)
	if s.Events["add"] != 3 || s.Events["join"] != 1 || len(s.Events) != 2 {
		t.Fatalf("Summary.Events %v, want add 3 (one failed validation), join 1", s.Events)
	}
	mu.Lock()
	defer mu.Unlock()
	want := "pre add,post add,pre add,post add,pre join,post join,pre nope,pre add"
	if got := strings.Join(seen, ","); got != want {
		t.Fatalf("interceptors saw %s\nwant %s", got, want)
	}
}

// TestAsk: the server asks the client and gets its answer, from a handler
// (the answer is matched while the handler waits) or another goroutine;
// no answer is ErrAskTimeout; a close ends the wait; the asks waiting on
// a connection are bounded.
func TestAsk(t *testing.T) {
	ask := fiberws.On("ask", func(ctx context.Context, c *fiberws.EventConn, q string) (string, error) {
		answer, err := fiberws.Ask[string](ctx, c, "question", q, 2*time.Second)
		if err != nil {
			return "", &fiberws.ErrorReply{Message: err.Error()}
		}
		return "you said " + answer, nil
	})
	conns := make(chan *fiberws.EventConn, 1)
	h := serveRoutes(t, fiberws.Events("/events", ask, fiberws.WithMaxPendingAsks(2),
		fiberws.OnOpen(func(_ context.Context, c *fiberws.EventConn) error {
			conns <- c
			return nil
		})))
	c := h.Dial(t, "/events")
	server := recv(t, conns, "the connection")
	c.SendText(`{"event":"ask","data":"ping","id":8}`)
	q := readFrame(t, c)
	if q.Event != "question" || string(q.Data) != `"ping"` || q.ID == nil {
		t.Fatalf("question %+v", q)
	}
	c.SendText(fmt.Sprintf(`{"event":"ack","id":%d,"data":"pong"}`, *q.ID))
	if got := c.ReadText(); got != `{"event":"ask","data":"you said pong","id":8}` {
		t.Fatalf("ask's ack %s", got)
	}

	// From another goroutine, with a timeout, and the bound.
	ctx := context.Background()
	results := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := fiberws.Ask[int](ctx, server, "count", nil, 300*time.Millisecond)
			results <- err
		}()
	}
	var timeouts, refused int
	for range 3 {
		switch err := recv(t, results, "an Ask"); {
		case errors.Is(err, fiberws.ErrAskTimeout):
			timeouts++
		case errors.Is(err, fiberws.ErrTooManyAsks):
			refused++
		default:
			t.Fatalf("Ask: %v", err)
		}
	}
	if timeouts != 2 || refused != 1 {
		t.Fatalf("%d timeouts, %d refused; want 2 and 1 (WithMaxPendingAsks(2))", timeouts, refused)
	}
	for range 3 {
		readFrame(t, c) // the two questions that went out (the third never did)
		if timeouts--; timeouts == 0 {
			break
		}
	}
	if _, err := fiberws.Ask[int](ctx, server, "count", nil, 0); err == nil {
		t.Fatal("Ask without a timeout")
	}
	// A late or unknown answer is dropped: the next frame is the next
	// question, not a reply to it.
	c.SendText(`{"event":"ack","id":999,"data":1}`)

	// The connection closes while an Ask waits.
	go func() {
		_, err := fiberws.Ask[int](ctx, server, "count", nil, 5*time.Second)
		results <- err
	}()
	if f := readFrame(t, c); f.Event != "count" {
		t.Fatalf("question %+v", f)
	}
	c.Close(fiberws.CloseNormalClosure, "")
	if err := recv(t, results, "the Ask"); !errors.Is(err, fiberws.ErrClosed) {
		t.Fatalf("Ask on a closing connection: %v, want ErrClosed", err)
	}
	h.waitIdle(t)
}

// pipeFormat is a custom framing: NAME|ID|DATA (ID empty for none).
type pipeFormat struct{}

func (pipeFormat) Parse(b []byte) (fiberws.EventFrame, error) {
	parts := strings.SplitN(string(b), "|", 3)
	if len(parts) != 3 {
		return fiberws.EventFrame{}, errors.New("want NAME|ID|DATA")
	}
	f := fiberws.EventFrame{Event: parts[0]}
	if parts[2] != "" {
		f.Data = []byte(parts[2])
	}
	if parts[1] != "" {
		if _, err := fmt.Sscan(parts[1], &f.ID); err != nil {
			return f, err
		}
		f.HasID = true
	}
	return f, nil
}

func (pipeFormat) Append(dst []byte, f fiberws.EventFrame) []byte {
	id := ""
	if f.HasID {
		id = fmt.Sprint(f.ID)
	}
	return append(dst, f.Event+"|"+id+"|"+string(f.Data)...)
}

// TestEventFormatIsPluggable: the same handlers behind another framing.
func TestEventFormatIsPluggable(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, eventRoutes(fiberws.WithEventFormat(pipeFormat{})))
	c := h.Dial(t, "/events")
	c.SendText(`add|1|{"a":2,"b":40}`)
	if got := c.ReadText(); got != `add|1|42` {
		t.Fatalf("ack %s", got)
	}
	c.SendText(`nope|2|`)
	if got := c.ReadText(); got != `error|2|{"message":"unknown event \"nope\""}` {
		t.Fatalf("error %s", got)
	}
	c.SendText(`garbage`)
	if code, _ := c.ExpectClose(); code != fiberws.CloseInvalidPayload {
		t.Fatalf("close %d", code)
	}
}

// TestEventRegistrationErrors: what cannot work is refused at Register.
func TestEventRegistrationErrors(t *testing.T) {
	t.Parallel()
	h := func(context.Context, *fiberws.EventConn, string) (string, error) { return "", nil }
	for name, r := range map[string]fiberws.Route{
		"On on a plain route": fiberws.WebSocket("/ws", echo, fiberws.On("x", h)),
		"twice":               fiberws.Events("/e", fiberws.On("x", h), fiberws.On("x", h)),
		"ack":                 fiberws.Events("/e", fiberws.On("ack", h)),
		"error":               fiberws.Events("/e", fiberws.On("error", h)),
		"empty":               fiberws.Events("/e", fiberws.On("", h)),
		"nil handler":         fiberws.Events("/e", fiberws.On[string, string]("x", nil)),
		"OnConnect":           fiberws.Events("/e", fiberws.On("x", h), fiberws.OnConnect()),
	} {
		if err := fiberws.New().Register(newApp(), ctrl{routes: []fiberws.Route{r}}); err == nil {
			t.Errorf("%s: registered", name)
		}
	}
	r := eventRoutes()
	if !r.IsEvents() || len(r.Events()) != 3 || r.Events()[0].Name != "add" || r.Events()[1].Result != nil {
		t.Fatalf("Events() = %+v", r.Events())
	}
}

// TestValidatorOnOrdinaryRoutes: with Config.Validator, a typed body that
// fails closes with 1007 naming the fields, and catchers get the
// *ValidationError; without one, it is not checked.
func TestValidatorOnOrdinaryRoutes(t *testing.T) {
	t.Parallel()
	route := fiberws.WebSocket("/ws", func(_ context.Context, _ *fiberws.Conn[string], in roomIn) (string, error) {
		return "joined " + in.Room, nil
	})
	plain := serveRoutes(t, route)
	c := plain.Dial(t, "/ws")
	c.SendText(`{"room":""}`)
	if got := c.ReadText(); got != "joined " {
		t.Fatalf("without a validator: %q", got)
	}
	v := serveWith(t, fiberws.Config{Validator: fiberws.NewValidator()}, route)
	c = v.Dial(t, "/ws")
	c.SendText(`{"room":"r1"}`)
	if got := c.ReadText(); got != "joined r1" {
		t.Fatalf("valid: %q", got)
	}
	c.SendText(`{"room":"x"}`)
	if code, reason := c.ExpectClose(); code != fiberws.CloseInvalidPayload || reason != "invalid message: room" {
		t.Fatalf("invalid: %d %q", code, reason)
	}
	caught := make(chan map[string]string, 1)
	vc := serveWith(t, fiberws.Config{Validator: fiberws.NewValidator(), Catchers: []hooks.Catcher{
		hooks.CatchAs(func(_ context.Context, _ hooks.Peer, err *fiberws.ValidationError) hooks.Outcome {
			caught <- err.Fields
			return hooks.Reply("try again")
		}),
	}}, route)
	c = vc.Dial(t, "/ws")
	c.SendText(`{}`)
	if got := c.ReadText(); got != "try again" {
		t.Fatalf("the catcher's reply: %q", got)
	}
	if f := recv(t, caught, "the catcher"); f["room"] != "required" {
		t.Fatalf("fields %v", f)
	}
}

// TestEventFramesAreValidText: an emitted event whose name is not valid
// UTF-8 still makes a valid text frame.
func TestEventFramesAreValidText(t *testing.T) {
	t.Parallel()
	h := serveRoutes(t, fiberws.Events("/e", fiberws.OnOpen(func(_ context.Context, c *fiberws.EventConn) error {
		return c.Send(fiberws.Event{Name: "bad\xffname\"\n", Data: map[string]int{"n": 1}})
	})))
	c := h.Dial(t, "/e")
	mt, data, err := c.Read()
	if err != nil || mt != websocket.TextMessage {
		t.Fatalf("read %d %v", mt, err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil || f.Event != "bad\ufffdname\"\n" || string(f.Data) != `{"n":1}` {
		t.Fatalf("frame %s: %+v %v", data, f, err)
	}
}
