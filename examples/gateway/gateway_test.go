package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/internal/testproc"
	"go.uber.org/goleak"
)

// The tests drive the contract of the package doc, one test per kind of
// frame, over real loopback sockets. Every wait is bounded by
// fiberwstest.DefaultTimeout.

func TestMain(m *testing.M) {
	// Nothing of the gateway (connections, hub, Asks) may outlive a test;
	// LeakOptions ignores only fasthttp's goroutines that outlive their
	// server on purpose.
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

// serve serves the gateway built with ackTimeout on a free loopback port
// and dials n clients to /gateway.
func serve(t *testing.T, ackTimeout time.Duration, n int) []*fiberwstest.Client {
	t.Helper()
	logger, _ := fiberwstest.NewLog(t)
	app, closeRooms, err := newApp(options{logger: logger, ackTimeout: ackTimeout})
	if err != nil {
		t.Fatal(err)
	}
	// Registered before Serve, so it runs after the app's shutdown.
	t.Cleanup(closeRooms)
	srv := fiberwstest.Serve(t, app)
	clients := make([]*fiberwstest.Client, n)
	for i := range clients {
		clients[i] = srv.Dial(t, "/gateway")
	}
	return clients
}

// expectExact reads the next frame and fails unless it is want, byte for
// byte: for acknowledgements, whose key order the library fixes.
func expectExact(t *testing.T, c *fiberwstest.Client, want string) {
	t.Helper()
	if got := c.ReadText(); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// expectJSON reads the next frame and fails unless it is the same JSON
// value as want, whatever the key order.
func expectJSON(t *testing.T, c *fiberwstest.Client, want string) {
	t.Helper()
	got := c.ReadText()
	if !reflect.DeepEqual(decode(t, got), decode(t, want)) {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%q is not JSON: %v", s, err)
	}
	return v
}

// errorReply is an error reply, decoded strictly: no other keys.
type errorReply struct {
	Event string  `json:"event"`
	ID    *uint64 `json:"id"`
	Data  struct {
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"data"`
}

// expectError reads the next frame and fails unless it is an error reply
// to request id whose message contains msgPart and whose fields are
// fields (nil: none).
func expectError(t *testing.T, c *fiberwstest.Client, id uint64, msgPart string, fields map[string]string) {
	t.Helper()
	got := c.ReadText()
	var e errorReply
	dec := json.NewDecoder(strings.NewReader(got))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error reply %s: %v", got, err)
	}
	if e.Event != "error" || e.ID == nil || *e.ID != id || e.Data.Message == "" ||
		!strings.Contains(e.Data.Message, msgPart) || !reflect.DeepEqual(e.Data.Fields, fields) {
		t.Fatalf("got %s, want an error reply with id %d, a message containing %q and fields %v", got, id, msgPart, fields)
	}
}

// expectOpen checks that the connection still serves events.
func expectOpen(t *testing.T, c *fiberwstest.Client) {
	t.Helper()
	c.SendText(`{"event":"add","data":{"a":1,"b":2},"id":99}`)
	expectExact(t, c, `{"event":"add","data":3,"id":99}`)
}

func TestAdd(t *testing.T) {
	c := serve(t, time.Second, 1)[0]
	c.SendText(`{"event":"add","data":{"a":2,"b":40},"id":1}`)
	expectExact(t, c, `{"event":"add","data":42,"id":1}`)
	// 0 is a value like any other, not a missing field.
	c.SendText(`{"event":"add","data":{"a":0,"b":-7},"id":2}`)
	expectExact(t, c, `{"event":"add","data":-7,"id":2}`)
}

func TestAddInvalidDataNamesTheField(t *testing.T) {
	c := serve(t, time.Second, 1)[0]
	for i, tc := range []struct {
		data   string
		fields map[string]string
	}{
		{`{"a":2}`, map[string]string{"b": "required"}},
		{`{"a":null,"b":40}`, map[string]string{"a": "required"}},
		{`{}`, map[string]string{"a": "required", "b": "required"}},
		{`{"a":"x","b":40}`, map[string]string{"a": "must be an integer"}},
		{`{"a":1.5,"b":40}`, map[string]string{"a": "must be an integer"}},
	} {
		id := uint64(10 + i)
		c.SendText(`{"event":"add","data":` + tc.data + `,"id":` + strconv.FormatUint(id, 10) + `}`)
		expectError(t, c, id, "", tc.fields)
		expectOpen(t, c)
	}
}

func TestUnknownEvent(t *testing.T) {
	c := serve(t, time.Second, 1)[0]
	c.SendText(`{"event":"nope","data":{"a":1},"id":3}`)
	expectError(t, c, 3, "nope", nil)
	expectOpen(t, c)
}

func TestSayReachesTheOtherMembers(t *testing.T) {
	cs := serve(t, time.Second, 4)
	members, outsider := cs[:3], cs[3]
	for _, c := range members {
		c.SendText(`{"event":"join","data":{"room":"r1"},"id":5}`)
		expectExact(t, c, `{"event":"join","id":5}`)
	}
	outsider.SendText(`{"event":"join","data":{"room":"r2"},"id":5}`)
	expectExact(t, outsider, `{"event":"join","id":5}`)

	sender := members[0]
	sender.SendText(`{"event":"say","data":{"room":"r1","text":"hi"},"id":7}`)
	expectExact(t, sender, `{"event":"say","id":7}`)
	for _, c := range members[1:] {
		expectJSON(t, c, `{"event":"said","data":{"room":"r1","text":"hi"}}`)
	}
	// Only members speak: the outsider's say to r1 is an error reply, and
	// r1 hears nothing of it.
	outsider.SendText(`{"event":"say","data":{"room":"r1","text":"spam"},"id":9}`)
	expectError(t, outsider, 9, "join the room first", map[string]string{"room": "not joined"})
	// Last: ExpectSilence leaves a client unable to read again.
	for _, c := range members[1:] {
		c.ExpectSilence(200 * time.Millisecond)
	}
	sender.ExpectSilence(200 * time.Millisecond)
	outsider.ExpectSilence(200 * time.Millisecond)
}

// question is the server's Ask as the client reads it.
type question struct {
	Event string  `json:"event"`
	Data  string  `json:"data"`
	ID    *uint64 `json:"id"`
}

func readQuestion(t *testing.T, c *fiberwstest.Client) uint64 {
	t.Helper()
	var q question
	c.ReadJSON(&q)
	if q.Event != "question" || q.Data != "ping" || q.ID == nil {
		t.Fatalf("got %+v, want the question ping with an id", q)
	}
	return *q.ID
}

func TestAskAnswered(t *testing.T) {
	c := serve(t, fiberwstest.DefaultTimeout, 1)[0]
	c.SendText(`{"event":"ask","data":{"question":"ping"},"id":8}`)
	s := readQuestion(t, c)
	c.SendText(`{"event":"ack","id":` + strconv.FormatUint(s, 10) + `,"data":{"answer":"pong","n":[1,2]}}`)
	expectExact(t, c, `{"event":"ask","data":{"answer":"pong","n":[1,2]},"id":8}`)
	expectOpen(t, c)
}

func TestAskTimesOut(t *testing.T) {
	c := serve(t, 200*time.Millisecond, 1)[0]
	c.SendText(`{"event":"ask","data":{"question":"ping"},"id":8}`)
	s := readQuestion(t, c)
	expectError(t, c, 8, "timeout", nil)
	// Too late now: the answer is dropped, not taken for anything else.
	c.SendText(`{"event":"ack","id":` + strconv.FormatUint(s, 10) + `,"data":"pong"}`)
	expectOpen(t, c)
}

func TestNotJSONCloses1007(t *testing.T) {
	for _, frame := range []string{`hello`, `{"event":"add","data":{"a":2`} {
		t.Run(frame, func(t *testing.T) {
			c := serve(t, time.Second, 1)[0]
			c.SendText(frame)
			if code, _ := c.ExpectClose(); code != 1007 {
				t.Fatalf("closed with %d, want 1007", code)
			}
		})
	}
}

// TestBinary runs the real program: it serves an add and shuts down
// cleanly on SIGTERM, closing its connections with 1001 and exiting 0.
// testproc.Start offers no way to signal the process or read its exit
// status, so the binary testproc builds is run here.
func TestBinary(t *testing.T) {
	bin := testproc.Build(t, ".")
	p := testproc.Start(t, bin, testproc.Options{}, "-addr", "127.0.0.1:0", "-ack-timeout", "1s")
	// Only Dial is used, which needs nothing but the address.
	c := (&fiberwstest.Server{Addr: p.Addr}).Dial(t, "/gateway")
	c.SendText(`{"event":"add","data":{"a":2,"b":40},"id":1}`)
	expectExact(t, c, `{"event":"add","data":42,"id":1}`)

	stopped := make(chan error, 1)
	go func() {
		err, exited := p.Stop(15 * time.Second)
		if !exited {
			err = errors.New("still running 15s after SIGTERM")
		}
		stopped <- err
	}()
	if code, _ := c.ExpectClose(); code != 1001 {
		t.Fatalf("closed with %d on shutdown, want 1001", code)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0\n%s", err, p.Output())
	}
}

// The gateway's AsyncAPI document has one receive operation per event,
// each answered by its acknowledgement or the error reply, and add's data
// schema requires a and b.
func TestAsyncAPI(t *testing.T) {
	logger, _ := fiberwstest.NewLog(t)
	app, closeRooms, err := newApp(options{logger: logger, ackTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeRooms)
	srv := fiberwstest.Serve(t, app)
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get(srv.HTTPURL("/asyncapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Channels map[string]struct {
			Address string `json:"address"`
		} `json:"channels"`
		Operations map[string]struct {
			Action   string `json:"action"`
			Messages []struct {
				Ref string `json:"$ref"`
			} `json:"messages"`
			Reply struct {
				Messages []struct {
					Ref string `json:"$ref"`
				} `json:"messages"`
			} `json:"reply"`
		} `json:"operations"`
		Components struct {
			Schemas map[string]struct {
				Required []string `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	err = json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Channels) != 1 || doc.Channels["gateway"].Address != "/gateway" {
		t.Fatalf("channels %v", doc.Channels)
	}
	for _, event := range []string{"add", "join", "say", "ask"} {
		op, ok := doc.Operations["gateway."+event]
		if !ok {
			t.Errorf("no operation for %s", event)
			continue
		}
		prefix := "#/channels/gateway/messages/"
		if op.Action != "receive" || len(op.Messages) != 1 || op.Messages[0].Ref != prefix+event {
			t.Errorf("%s: %s %v", event, op.Action, op.Messages)
		}
		if len(op.Reply.Messages) != 2 || op.Reply.Messages[0].Ref != prefix+event+".ack" || op.Reply.Messages[1].Ref != prefix+"error" {
			t.Errorf("%s reply: %v", event, op.Reply.Messages)
		}
	}
	if req := doc.Components.Schemas["addIn"].Required; !slices.Equal(req, []string{"a", "b"}) {
		t.Errorf("addIn required %v, want [a b]", req)
	}
}
