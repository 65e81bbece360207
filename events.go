package fiberws

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fiberws/fiberws/hooks"
	"github.com/goccy/go-json"
)

// Event is a message of an event route going out: its name and its data,
// any value, encoded as JSON. Send one with (*EventConn).Send, to a room
// with hub.Broadcast, or prepare it once with Prepare.
type Event struct {
	Name string
	Data any
}

// EventConn is the connection of an event route (Events): a Conn whose
// Send takes Events. Ask sends one and waits for the client's answer.
type EventConn = Conn[Event]

// EventInfo describes one event of an event route, for tools that list
// routes and generate documentation: its name and its handler's data and
// result types (Result is nil for a handler that acknowledges without
// data, a None result).
type EventInfo struct {
	Name         string
	Data, Result reflect.Type
}

// Events builds an event route: one socket that carries many kinds of
// message, each an envelope naming its event ({"event":"add","data":…,
// "id":1} in the default JSONEvents format) and dispatched to the handler
// that On registered for that name, with that handler's own data and
// result types. The result is the acknowledgement, sent back as the same
// event with the request's id ({"event":"add","data":42,"id":1}) when the
// request had an id.
//
//	fiberws.Events("/gateway",
//		fiberws.On("add", func(ctx context.Context, c *fiberws.EventConn, in Add) (int, error) {
//			return *in.A + *in.B, nil
//		}),
//		fiberws.On("join", g.join),
//	)
//
// Errors stay on the socket: an unknown event, data that does not decode
// into the handler's type or fails validation (Config.Validator, by
// default NewValidator's struct tags), and a handler's error answer with
// an error event, {"event":"error","data":{"message":…,"fields":{…}},
// "id":1}, and the connection stays open; the message of a handler's
// error reaches the client only as an *ErrorReply (any other is logged
// and answered "internal error"), and a *CloseError closes. A frame that
// is not an envelope at all closes with 1007. Catchers get all of these as
// an *EventError and can answer otherwise or close.
//
// The whole lifecycle applies: interceptors see each message with its
// event name (Message.Event), observers' summaries count the messages per
// event (Summary.Events), OnOpen[Event] and OnClose run at open and
// close. Handlers of one connection run one at a time, in arrival order,
// as on every route. Event routes are two-way; one without On handlers
// is a server-push stream of events whose clients may still answer Ask.
func Events(path string, opts ...Option) Route {
	r := newRoute(path, ModeTwoWay, false, nil, reflect.TypeFor[Event](), false, opts, nil) // bind below: it needs the options
	r.isEvents = true
	if r.eventFormat == nil {
		r.eventFormat = JSONEvents
	}
	format, specs := r.eventFormat, r.events
	_, common := format.(jsonEvents)
	byName := make(map[string]int, len(specs))
	for i := range specs {
		byName[specs[i].name] = i
		specs[i].ack = appendJSONString([]byte(`{"event":`), specs[i].name)
	}
	maxAsks := r.maxPendingAsks
	if maxAsks <= 0 {
		maxAsks = DefaultMaxPendingAsks
	}
	r.bind = func(s *Session) messageHandler {
		c := &Conn[Event]{Session: s, enc: eventEncoder(format), events: true}
		h := &eventHandler{c: c, format: format, common: common, specs: specs, byName: byName, counts: make([]int64, len(specs))}
		s.events = h
		s.asks = newAskTable(format, maxAsks, s.route.live)
		return h
	}
	return r
}

// On registers handler h for the event named event on an Events route:
// data decodes into In (JSON, with go-json; then validated), and h's
// result Out is the acknowledgement's data (None acknowledges without
// data). Registering a name twice, the reserved names AckEvent and
// ErrorEvent, or On on another kind of route is a registration error.
func On[In, Out any](event string, h func(ctx context.Context, c *EventConn, data In) (Out, error)) Option {
	spec := eventSpec{name: event, info: EventInfo{Name: event, Data: reflect.TypeFor[In]()}}
	if reflect.TypeFor[Out]() != reflect.TypeFor[None]() {
		spec.info.Result = reflect.TypeFor[Out]()
	}
	_, noData := any(*new(Out)).(None)
	spec.run = func(ctx context.Context, c *EventConn, data []byte, v Validator) ([]byte, bool, error) {
		var in In
		if data != nil {
			if err := json.Unmarshal(data, &in); err != nil {
				if fields := describeDecodeError[In](data); fields != nil {
					return nil, true, fields
				}
				return nil, true, &DecodeError{Err: err}
			}
		}
		if v != nil {
			checked := in // only a validated value goes to the heap
			if err := v.Validate(&checked); err != nil {
				return nil, false, err
			}
		}
		out, err := h(ctx, c, in)
		if err != nil || noData {
			return nil, false, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, false, &encodeError{err}
		}
		return b, false, nil
	}
	if h == nil {
		spec.err = errNilHandler
	}
	return func(r *Route) { r.events = append(r.events, spec) }
}

// WithEventFormat sets the framing of an Events route's messages; the
// default is JSONEvents.
func WithEventFormat(f EventFormat) Option {
	return func(r *Route) { r.eventFormat = f }
}

// DefaultMaxPendingAsks is how many Asks may wait for their answers on one
// connection at a time, unless WithMaxPendingAsks says otherwise.
const DefaultMaxPendingAsks = 64

// WithMaxPendingAsks bounds the Asks waiting for answers on one connection
// of an Events route; one more fails at once with ErrTooManyAsks.
func WithMaxPendingAsks(n int) Option {
	return func(r *Route) { r.maxPendingAsks = n }
}

// Events lists the events of an event route, in registration order (nil
// for other routes).
func (r Route) Events() []EventInfo {
	if !r.isEvents {
		return nil
	}
	out := make([]EventInfo, 0, len(r.events))
	for _, sp := range r.events {
		out = append(out, sp.info)
	}
	return out
}

// IsEvents reports whether the route is an event route (Events).
func (r Route) IsEvents() bool { return r.isEvents }

// eventSpec is one On: run decodes, validates, calls the handler and
// encodes its result (nil: acknowledge without data); it reports whether
// it failed on decoding. ack is the start of its acknowledgement in
// JSONEvents, {"event":"NAME".
type eventSpec struct {
	name string
	info EventInfo
	run  func(ctx context.Context, c *EventConn, data []byte, v Validator) (out []byte, decodeFailed bool, err error)
	err  error
	ack  []byte
}

// checkEvents reports what is wrong with an event route's handlers, or
// On used on another kind of route.
func checkEvents(r Route) error {
	if !r.isEvents {
		if len(r.events) > 0 {
			return errors.New("On applies to event routes only: build the route with fiberws.Events")
		}
		return nil
	}
	if r.onConnect {
		return errors.New("OnConnect does not apply to an event route: use OnOpen(func(ctx, *fiberws.EventConn) error)")
	}
	seen := map[string]bool{}
	for _, sp := range r.events {
		switch {
		case sp.err != nil:
			return fmt.Errorf("event %q: %w", sp.name, sp.err)
		case sp.name == "" || !utf8.ValidString(sp.name):
			return fmt.Errorf("event name %q: must be non-empty UTF-8", sp.name)
		case sp.name == AckEvent || sp.name == ErrorEvent:
			return fmt.Errorf("event name %q is reserved (acknowledgements and error replies)", sp.name)
		case seen[sp.name]:
			return fmt.Errorf("event %q registered twice", sp.name)
		}
		seen[sp.name] = true
	}
	return nil
}

// eventHandler dispatches a connection's event messages. peek parses a
// message before the pre-interceptors (so that they see its event name)
// and keeps the result for handle, which reuses it unless an interceptor
// replaced the data.
type eventHandler struct {
	c      *EventConn
	format EventFormat
	// common: the format is JSONEvents, whose usual layout parseCommon
	// reads without scanning the data.
	common bool
	specs  []eventSpec
	byName map[string]int
	// counts are the messages handled per event (Summary.Events); only
	// the goroutine running handlers writes them.
	counts []int64
	// parsed is peek's result for the message whose data starts at
	// parsedAt (of length parsedLen); guessed if parseCommon read it.
	parsed    EventFrame
	guessed   bool
	parseErr  error
	parsedAt  *byte
	parsedLen int
	buf       []byte // the acknowledgement being framed
}

// peek parses m's frame and sets m.Event.
func (h *eventHandler) peek(m *hooks.Message) {
	if m.Connect {
		return
	}
	h.parsed, h.guessed, h.parseErr = h.parse(m.Data)
	h.parsedAt, h.parsedLen = unsafeData(m.Data), len(m.Data)
	m.Event = h.parsed.Event
}

// parse reads a frame: the usual layout of JSONEvents fast (guessed: its
// data is yet to be confirmed by decoding), anything else with the format.
func (h *eventHandler) parse(frame []byte) (f EventFrame, guessed bool, err error) {
	if h.common {
		if f, ok := parseCommon(frame); ok {
			return f, true, nil
		}
	}
	f, err = h.format.Parse(frame)
	return f, false, err
}

func unsafeData(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return &b[0]
}

func (h *eventHandler) handle(ctx context.Context, m *hooks.Message) error {
	if m.Connect {
		return nil // the open hooks run before (opening); events need a message
	}
	f, guessed, err := h.parsed, h.guessed, h.parseErr
	if unsafeData(m.Data) != h.parsedAt || len(m.Data) != h.parsedLen {
		f, guessed, err = h.parse(m.Data) // an interceptor replaced it
	}
	h.parsedAt = nil
	i, known := h.lookup(f.Event)
	if err == nil && guessed && (!known || f.Event == AckEvent) {
		// Neither decodes the data, which would confirm the guess.
		f, err = h.format.Parse(m.Data)
		guessed = false
	}
	if err != nil {
		return &DecodeError{Err: err}
	}
	if f.Event == AckEvent {
		h.c.asks.resolve(f, true)
		return nil
	}
	if !known {
		return &EventError{Event: strings.Clone(f.Event), ID: f.ID, HasID: f.HasID, Err: ErrUnknownEvent, format: h.format}
	}
	sp := &h.specs[i]
	h.counts[i]++
	for _, ro := range h.c.Session.route.live {
		ro.Event(sp.name)
	}
	v := h.c.Session.route.eventValidators[i]
	out, decodeFailed, err := h.run(ctx, sp, f.Data, v)
	if decodeFailed && guessed {
		// The guess may have cut the data wrong (a frame with more keys
		// after it); the full scan tells.
		full, perr := h.format.Parse(m.Data)
		if perr != nil {
			return &DecodeError{Err: perr}
		}
		if unsafeData(full.Data) != unsafeData(f.Data) || len(full.Data) != len(f.Data) || full.ID != f.ID || full.HasID != f.HasID {
			f = full
			out, _, err = h.run(ctx, sp, f.Data, v)
		}
	}
	if err != nil {
		return &EventError{Event: sp.name, ID: f.ID, HasID: f.HasID, Err: err, format: h.format}
	}
	if !f.HasID {
		return nil
	}
	if h.common {
		h.buf = appendAck(h.buf[:0], sp.ack, out, f.ID)
	} else {
		h.buf = h.format.Append(h.buf[:0], EventFrame{Event: sp.name, Data: out, ID: f.ID, HasID: true})
	}
	err = h.c.emit(hooks.Text, h.buf, sp.name, false)
	if cap(h.buf) > 64<<10 {
		h.buf = nil // do not keep a large acknowledgement's buffer
	}
	return ignoreClosed(err)
}

// lookup finds an event's handler: by a scan for a few events (cheaper
// than hashing the name), by the map for many.
func (h *eventHandler) lookup(name string) (int, bool) {
	if len(h.specs) <= 8 {
		for i := range h.specs {
			if h.specs[i].name == name {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := h.byName[name]
	return i, ok
}

// appendAck is JSONEvents' Append of an acknowledgement, from the start
// of it the event's spec holds.
func appendAck(dst, start, data []byte, id uint64) []byte {
	dst = append(dst, start...)
	if data != nil {
		dst = append(dst, `,"data":`...)
		dst = append(dst, data...)
	}
	dst = append(dst, `,"id":`...)
	dst = strconv.AppendUint(dst, id, 10)
	return append(dst, '}')
}

// run calls the event's handler with its panics recovered, so that a
// panic is the event's error (answered "internal error") like any other.
func (h *eventHandler) run(ctx context.Context, sp *eventSpec, data []byte, v Validator) (out []byte, decodeFailed bool, err error) {
	defer recoverAs(&err)
	return sp.run(ctx, h.c, data, v)
}

func (h *eventHandler) conn() any { return h.c }

// eventCounts is Summary.Events: nil on other routes than event routes.
func (s *Session) eventCounts() map[string]int64 {
	if s.events == nil {
		return nil
	}
	return s.events.summary()
}

// summary is the messages per event name, for Summary.Events.
func (h *eventHandler) summary() map[string]int64 {
	m := make(map[string]int64, len(h.specs)+1)
	for i, sp := range h.specs {
		if h.counts[i] > 0 {
			m[sp.name] = h.counts[i]
		}
	}
	if n := h.c.asks.acks.Load(); n > 0 {
		m[AckEvent] = n
	}
	return m
}

// eventEncoder frames an Event in format: its data as JSON.
func eventEncoder(format EventFormat) encoder[Event] {
	return func(ev Event) (hooks.MessageType, []byte, bool, error) {
		f := EventFrame{Event: ev.Name}
		if ev.Data != nil {
			data, err := json.Marshal(ev.Data)
			if err != nil {
				return 0, nil, false, err
			}
			f.Data = data
		}
		return hooks.Text, format.Append(nil, f), false, nil
	}
}

// ErrUnknownEvent is the error (inside an *EventError) of a message whose
// event has no handler.
var ErrUnknownEvent = errors.New("fiberws: unknown event")

// ErrorReply, returned by an event handler, answers the event with an
// error reply whose message (and fields) the client sees: the Go form of
// NestJS's WsException. The connection stays open.
//
//	return 0, &fiberws.ErrorReply{Message: "room is full"}
type ErrorReply struct {
	Message string
	Fields  map[string]string
}

// Error is the message.
func (e *ErrorReply) Error() string { return e.Message }

// EventError is an error of one event message, as the catchers of an
// event route get it: the event's name (as the client sent it), the
// request's id, and the cause (ErrUnknownEvent, a *DecodeError, a
// *ValidationError, or the handler's error). Without a catcher that
// handles it, the client gets ErrorEvent with Message and Fields, and the
// connection stays open; a *CloseError cause closes instead.
type EventError struct {
	Event string
	ID    uint64
	HasID bool
	Err   error

	format EventFormat
}

// Error describes the failure for logs.
func (e *EventError) Error() string {
	return fmt.Sprintf("fiberws: event %q: %v", e.Event, e.Err)
}

// Unwrap returns the cause.
func (e *EventError) Unwrap() error { return e.Err }

// Message is what the error reply tells the client: the ErrorReply's
// message, what was wrong with the event or its data, or "internal error"
// for any other error of the handler (its text is logged, never sent).
func (e *EventError) Message() string {
	var reply *ErrorReply
	var verr *ValidationError
	var derr *DecodeError
	switch {
	case errors.As(e.Err, &reply):
		return reply.Message
	case errors.Is(e.Err, ErrUnknownEvent):
		return fmt.Sprintf("unknown event %q", e.Event)
	case errors.As(e.Err, &verr), errors.As(e.Err, &derr):
		return fmt.Sprintf("invalid data for event %q", e.Event)
	}
	return "internal error"
}

// Fields are the failing fields of the data, by JSON name, when the
// cause names any.
func (e *EventError) Fields() map[string]string {
	var reply *ErrorReply
	var verr *ValidationError
	switch {
	case errors.As(e.Err, &reply):
		return reply.Fields
	case errors.As(e.Err, &verr):
		return verr.Fields
	}
	return nil
}

// internal reports whether the cause is the app's own failure (logged,
// answered "internal error").
func (e *EventError) internal() bool {
	var ce *CloseError
	return !errors.As(e.Err, &ce) && e.Message() == "internal error"
}

// errorData is the data of an error reply.
type errorData struct {
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// Reply is an Outcome that answers the event with event and data (with
// the request's id, if it had one) and keeps the connection open: for a
// catcher that answers an event's error its own way.
func (e *EventError) Reply(event string, data any) hooks.Outcome {
	f := EventFrame{Event: event, ID: e.ID, HasID: e.HasID}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			b, _ = json.Marshal(errorData{Message: "internal error"})
		}
		f.Data = b
	}
	format := e.format
	if format == nil {
		format = JSONEvents
	}
	return hooks.Outcome{Reply: &hooks.Message{Type: hooks.Text, Data: format.Append(nil, f), Event: event}}
}

// outcome is the default: a CloseError closes, anything else is an error
// reply.
func (e *EventError) outcome() hooks.Outcome {
	var ce *CloseError
	if errors.As(e.Err, &ce) {
		return hooks.CloseWith(ce.Code, ce.Reason)
	}
	return e.Reply(ErrorEvent, errorData{Message: e.Message(), Fields: e.Fields()})
}

// EventFormat is the framing of an event route's messages (WithEventFormat;
// JSONEvents unless set), nil for other routes.
func (r Route) EventFormat() EventFormat { return r.eventFormat }
