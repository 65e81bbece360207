package asyncapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/fiberws/fiberws"
)

// Content types of the messages: fiberws sends strings as text frames,
// byte slices as binary frames and everything else as JSON text.
const (
	contentJSON   = "application/json"
	contentText   = "text/plain"
	contentBinary = "application/octet-stream"
)

// Generate returns the AsyncAPI 3.0.0 document of the routes registered on
// cfg.Server, for tests, go generate or a server of your own (New serves
// it). Each route is a channel; its mode gives its operations (two-way:
// receive and send; receive-only: receive; send-only: send); its Go types
// give the messages' JSON Schemas; an event route has one receive
// operation per event, whose reply is the acknowledgement. Ping, the
// on-connect trigger and the limits are x-fiberws extensions of the
// channel.
func Generate(cfg Config) (*Document, error) {
	if cfg.Server == nil {
		return nil, errors.New("asyncapi: Config.Server is nil")
	}
	cfg = configDefault(cfg)
	g := &generator{
		doc: &Document{
			AsyncAPI:           Version,
			Info:               cfg.Info,
			Servers:            cfg.Servers,
			DefaultContentType: contentJSON,
			Channels:           map[string]*Channel{},
			Operations:         map[string]*Operation{},
		},
		schemas: newSchemas(),
	}
	// The controllers' tags are added to the document's own, not to the
	// caller's slice.
	g.doc.Info.Tags = slices.Clone(cfg.Info.Tags)
	for _, ri := range cfg.Server.Routes() {
		g.route(ri)
	}
	if len(g.schemas.defs) > 0 {
		g.doc.Components = &Components{Schemas: g.schemas.defs}
	}
	return g.doc, nil
}

type generator struct {
	doc     *Document
	schemas *schemas
}

func (g *generator) route(ri fiberws.RouteInfo) {
	r := ri.Route
	id := unique(sanitize(strings.Trim(strings.NewReplacer("/", "_", ":", "", "*", "any", "+", "any").Replace(ri.Pattern), "_")), "root", func(k string) bool { return g.doc.Channels[k] != nil })
	address, params := address(ri.Pattern)
	doc := r.Doc()
	ch := &Channel{
		Address:     address,
		Title:       doc.Title,
		Summary:     doc.Summary,
		Description: doc.Description,
		Messages:    map[string]*Message{},
		Parameters:  params,
		Mode:        r.Mode().String(),
		Stream:      r.Stream(),
		Events:      r.IsEvents(),
		OnConnect:   r.TriggerOnConnect(),
		Limits:      limits(ri),
		Bindings: &ChannelBindings{WS: &WSBinding{
			Method:         "GET",
			Query:          stringsObject(slices.Concat(ri.Controller.Query, doc.Query)),
			Headers:        stringsObject(slices.Concat(ri.Controller.Headers, doc.Headers)),
			BindingVersion: "0.1.0",
		}},
	}
	if r.PingInterval() > 0 {
		ch.Ping = &PingInfo{Interval: r.PingInterval().String(), Timeout: r.PingTimeout().String()}
	}
	if tag, ok := g.tag(ri); ok {
		ch.Tags = []Tag{tag}
	}
	g.doc.Channels[id] = ch
	g.doc.order = append(g.doc.order, id)

	if r.IsEvents() {
		g.events(id, ch, r)
		return
	}
	in, out := r.MessageIn(), r.MessageOut()
	contrib := in == nil && out == nil && r.Mode() == fiberws.ModeTwoWay
	if r.Mode() != fiberws.ModeSendOnly && (in != nil || contrib) {
		m := g.body(in, "A message from the client.")
		if contrib {
			m.Description = "Any text or binary frame: a contrib/websocket handler reads the connection itself."
		}
		ch.Messages["fromClient"] = m
		g.operation(id+".receive", &Operation{
			Action:   "receive",
			Channel:  channelRef(id),
			Summary:  "What clients send on " + ri.Pattern + ".",
			Messages: []Ref{messageRef(id, "fromClient")},
			Tags:     ch.Tags,
		})
	}
	if r.Mode() != fiberws.ModeReceiveOnly && (out != nil && out != reflect.TypeFor[fiberws.None]() || contrib) {
		desc := "A message from the server: a handler's result or a push."
		if r.Stream() {
			desc = "A message from the server: each value of a handler's stream, or a push."
		}
		m := g.body(out, desc)
		if contrib {
			m.Description = "Any text or binary frame: a contrib/websocket handler writes the connection itself."
		}
		ch.Messages["toClient"] = m
		g.operation(id+".send", &Operation{
			Action:   "send",
			Channel:  channelRef(id),
			Summary:  "What the server sends on " + ri.Pattern + ".",
			Messages: []Ref{messageRef(id, "toClient")},
			Tags:     ch.Tags,
		})
	}
}

// events documents an event route: per event, its request (the envelope
// with the event's data), its acknowledgement and the error reply, and a
// receive operation whose reply is either.
func (g *generator) events(id string, ch *Channel, r fiberws.Route) {
	standard := r.EventFormat() == fiberws.JSONEvents
	const errKey = "error"
	ch.Messages[errKey] = &Message{
		Name:        fiberws.ErrorEvent,
		Title:       "error",
		Summary:     "The reply to a request that failed: unknown event, undecodable or invalid data, or a handler's error. The connection stays open.",
		ContentType: contentJSON,
		Payload:     envelope(fiberws.ErrorEvent, json.RawMessage(errorData), idOptional),
	}
	for _, e := range r.Events() {
		key := unique(sanitize(e.Name), "event", func(k string) bool { return ch.Messages[k] != nil || ch.Messages[k+".ack"] != nil })
		data := g.payload(e.Data)
		req := &Message{Name: e.Name, Title: e.Name, Summary: "The " + strconv.Quote(e.Name) + " event; with an id, the server acknowledges it.", ContentType: contentJSON}
		ack := &Message{Name: e.Name, Title: e.Name + " acknowledgement", Summary: "The reply to " + strconv.Quote(e.Name) + " when it had an id: the handler's result, the request's id.", ContentType: contentJSON}
		if standard {
			req.Payload = envelope(e.Name, data, idOptional)
			var result json.RawMessage
			if e.Result != nil {
				result = g.payload(e.Result)
			}
			ack.Payload = envelope(e.Name, result, idRequired)
		} else {
			req.Payload, req.ContentType = data, ""
			req.Description = fmt.Sprintf("The event's data, framed by the route's EventFormat (%T).", r.EventFormat())
			if e.Result != nil {
				ack.Payload = g.payload(e.Result)
			}
			ack.ContentType, ack.Description = "", req.Description
		}
		ch.Messages[key] = req
		ch.Messages[key+".ack"] = ack
		g.operation(id+"."+key, &Operation{
			Action:   "receive",
			Channel:  channelRef(id),
			Title:    e.Name,
			Summary:  "Handles the " + strconv.Quote(e.Name) + " event.",
			Messages: []Ref{messageRef(id, key)},
			Reply: &Reply{
				Channel:  channelRef(id),
				Messages: []Ref{messageRef(id, key+".ack"), messageRef(id, errKey)},
			},
			Tags: ch.Tags,
		})
	}
}

// errorData is the schema of an error reply's data (fiberws.ErrorReply).
const errorData = `{"type":"object","properties":{"message":{"type":"string"},"fields":{"type":"object","additionalProperties":{"type":"string"},"description":"Invalid fields by JSON name, each with the rule it failed."}},"required":["message"]}`

const (
	idOptional = false
	idRequired = true
)

// envelope is the schema of a JSONEvents frame of event name: data's
// schema (none: no data) and the id, required or not.
func envelope(name string, data json.RawMessage, idIsRequired bool) json.RawMessage {
	quoted, _ := json.Marshal(name)
	var b strings.Builder
	b.WriteString(`{"type":"object","properties":{"event":{"const":`)
	b.Write(quoted)
	b.WriteString(`}`)
	if data != nil {
		b.WriteString(`,"data":`)
		b.Write(data)
	}
	b.WriteString(`,"id":{"type":"integer","minimum":0,"description":"Matches the acknowledgement to its request."}},"required":["event"`)
	if idIsRequired {
		b.WriteString(`,"id"`)
	}
	b.WriteString(`]}`)
	return json.RawMessage(b.String())
}

// body is the message of a route's body type t.
func (g *generator) body(t reflect.Type, summary string) *Message {
	m := &Message{Summary: summary}
	if t == nil {
		return m
	}
	base := t
	if base.Kind() == reflect.Pointer {
		base = base.Elem()
	}
	switch {
	case base == reflect.TypeFor[fiberws.None]():
		m.Description = "Any frame: the handler ignores its content."
	case base.Kind() == reflect.String:
		m.ContentType, m.Payload = contentText, json.RawMessage(`{"type":"string"}`)
	case base.Kind() == reflect.Slice && base.Elem().Kind() == reflect.Uint8 && base != reflect.TypeFor[json.RawMessage]():
		m.ContentType, m.Payload = contentBinary, json.RawMessage(`{"type":"string","format":"binary"}`)
	case base == reflect.TypeFor[fiberws.Event]():
		m.ContentType = contentJSON
		m.Payload = json.RawMessage(`{"type":"object","properties":{"event":{"type":"string"},"data":{},"id":{"type":"integer","minimum":0}},"required":["event"]}`)
	default:
		m.ContentType, m.Payload = contentJSON, g.payload(t)
	}
	return m
}

// payload is the JSON Schema of t.
func (g *generator) payload(t reflect.Type) json.RawMessage {
	if t == reflect.TypeFor[fiberws.None]() {
		return nil
	}
	return g.schemas.of(t)
}

func (g *generator) operation(id string, op *Operation) {
	id = unique(id, "operation", func(k string) bool { return g.doc.Operations[k] != nil })
	g.doc.Operations[id] = op
}

// tag is the tag of the route's controller: its Doc's title, else its
// type's name; ok is false for controllers without a name.
func (g *generator) tag(ri fiberws.RouteInfo) (Tag, bool) {
	name := ri.Controller.Title
	if name == "" {
		name = ri.ControllerName
		name = name[strings.LastIndex(name, ".")+1:]
		name = strings.TrimLeft(name, "*")
	}
	if name == "" {
		return Tag{}, false
	}
	desc := strings.TrimSpace(strings.Join([]string{ri.Controller.Summary, ri.Controller.Description}, "\n\n"))
	tag := Tag{Name: name, Description: desc}
	for _, t := range g.doc.Info.Tags {
		if t.Name == name {
			return t, true
		}
	}
	g.doc.Info.Tags = append(g.doc.Info.Tags, tag)
	return tag, true
}

// limits is the route's x-fiberws-limits, nil when nothing is bounded.
func limits(ri fiberws.RouteInfo) *LimitsInfo {
	l := &LimitsInfo{
		ReadLimit:           ri.ReadLimit,
		MaxConnections:      ri.MaxConnections,
		MaxConnectionsPerIP: ri.MaxConnectionsPerIP,
		MessageRate:         float64(ri.MessageRate),
		MessageBurst:        ri.MessageBurst,
		Subprotocols:        ri.Subprotocols,
		Compression:         ri.Compression,
	}
	if ri.IdleTimeout > 0 {
		l.IdleTimeout = ri.IdleTimeout.String()
	}
	if ri.MessageTimeout > 0 {
		l.MessageTimeout = ri.MessageTimeout.String()
	}
	if l.ReadLimit == 0 && l.MaxConnections == 0 && l.MaxConnectionsPerIP == 0 && l.MessageRate == 0 &&
		l.IdleTimeout == "" && l.MessageTimeout == "" && len(l.Subprotocols) == 0 && !l.Compression {
		return nil
	}
	return l
}

// stringsObject is the schema of an object of string properties named
// names (a binding's query or headers), nil for none.
func stringsObject(names []string) json.RawMessage {
	if len(names) == 0 {
		return nil
	}
	props := map[string]map[string]string{}
	for _, n := range names {
		props[n] = map[string]string{"type": "string"}
	}
	b, _ := json.Marshal(map[string]any{"type": "object", "properties": props})
	return b
}

// address writes a Fiber pattern as an AsyncAPI address: ":name",
// ":name?" and ":name<constraint>" become "{name}", the wildcards "*" and
// "+" "{wildcard1}", "{plus1}"…; params describes each.
func address(pattern string) (string, map[string]*Parameter) {
	var b strings.Builder
	params := map[string]*Parameter{}
	wild, plus := 0, 0
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\\' && i+1 < len(pattern):
			i++
			b.WriteByte(pattern[i])
		case c == ':':
			j := i + 1
			for j < len(pattern) && isWord(pattern[j]) {
				j++
			}
			name := pattern[i+1 : j]
			optional := false
			if j < len(pattern) && pattern[j] == '<' {
				if k := strings.IndexByte(pattern[j:], '>'); k >= 0 {
					j += k + 1
				}
			}
			if j < len(pattern) && pattern[j] == '?' {
				optional = true
				j++
			}
			desc := "Path parameter :" + name + " of the route."
			if optional {
				desc = "Optional path parameter :" + name + " of the route (may be empty)."
			}
			params[name] = &Parameter{Description: desc}
			b.WriteString("{" + name + "}")
			i = j - 1
		case c == '*' || c == '+':
			var name string
			if c == '*' {
				wild++
				name = "wildcard" + strconv.Itoa(wild)
			} else {
				plus++
				name = "plus" + strconv.Itoa(plus)
			}
			params[name] = &Parameter{Description: "The rest of the path (Fiber's " + string(c) + " wildcard)."}
			b.WriteString("{" + name + "}")
		default:
			b.WriteByte(c)
		}
	}
	if len(params) == 0 {
		params = nil
	}
	return b.String(), params
}

func isWord(c byte) bool {
	return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// unique is base (fallback when empty), with a suffix _2, _3… while
// taken says it is in use.
func unique(base, fallback string, taken func(string) bool) string {
	if base == "" {
		base = fallback
	}
	id := base
	for i := 2; taken(id); i++ {
		id = base + "_" + strconv.Itoa(i)
	}
	return id
}

func channelRef(id string) Ref { return Ref{Ref: "#/channels/" + id} }

func messageRef(channel, msg string) Ref {
	return Ref{Ref: "#/channels/" + channel + "/messages/" + msg}
}
