package asyncapi

import (
	"encoding/json"

	"github.com/goccy/go-yaml"
)

// Version is the AsyncAPI specification version of the documents.
const Version = "3.0.0"

// Document is an AsyncAPI 3.0.0 document: the Go form of the JSON and YAML
// that New serves. Generate builds it from a Server's routes; its fields
// may be changed before it is marshalled (a server added, a description
// reworded).
type Document struct {
	AsyncAPI           string                `json:"asyncapi"`
	ID                 string                `json:"id,omitempty"`
	Info               Info                  `json:"info"`
	Servers            map[string]Server     `json:"servers,omitempty"`
	DefaultContentType string                `json:"defaultContentType,omitempty"`
	Channels           map[string]*Channel   `json:"channels"`
	Operations         map[string]*Operation `json:"operations"`
	Components         *Components           `json:"components,omitempty"`

	// order is the channel IDs in registration order, for the page.
	order []string
}

// Info is the document's info object: the API's title, version and
// description.
type Info struct {
	// Title names the API. Default "WebSocket API".
	Title string `json:"title"`
	// Version is the API's version, not AsyncAPI's. Default "1.0.0".
	Version string `json:"version"`
	// Description is CommonMark text.
	Description string `json:"description,omitempty"`
	Tags        []Tag  `json:"tags,omitempty"`
}

// Server is where clients connect: Host "api.example.com" or
// "localhost:8080", Protocol "ws" or "wss", and an optional Pathname
// prefix of every channel's address.
type Server struct {
	Host        string `json:"host"`
	Protocol    string `json:"protocol"`
	Pathname    string `json:"pathname,omitempty"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
}

// Tag groups channels and operations: one per documented controller.
type Tag struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Ref is a JSON reference ("#/channels/chat").
type Ref struct {
	Ref string `json:"$ref"`
}

// Channel is one route: its address (the Fiber pattern with parameters
// written {name}), the messages on it and the ws binding of its upgrade
// request. The x-fiberws fields document what fiberws enforces on the
// route.
type Channel struct {
	Address     string                `json:"address"`
	Title       string                `json:"title,omitempty"`
	Summary     string                `json:"summary,omitempty"`
	Description string                `json:"description,omitempty"`
	Messages    map[string]*Message   `json:"messages"`
	Parameters  map[string]*Parameter `json:"parameters,omitempty"`
	Tags        []Tag                 `json:"tags,omitempty"`
	Bindings    *ChannelBindings      `json:"bindings,omitempty"`

	Mode      string      `json:"x-fiberws-mode"`
	Stream    bool        `json:"x-fiberws-stream,omitempty"`
	Events    bool        `json:"x-fiberws-events,omitempty"`
	OnConnect bool        `json:"x-fiberws-on-connect,omitempty"`
	Ping      *PingInfo   `json:"x-fiberws-ping,omitempty"`
	Limits    *LimitsInfo `json:"x-fiberws-limits,omitempty"`
}

// Parameter is a path parameter of a channel's address.
type Parameter struct {
	Description string `json:"description,omitempty"`
}

// ChannelBindings holds the WebSocket binding of a channel.
type ChannelBindings struct {
	WS *WSBinding `json:"ws,omitempty"`
}

// WSBinding is the AsyncAPI ws channel binding (version 0.1.0): the
// upgrade request's method and the query parameters and headers it
// reads, as object schemas.
type WSBinding struct {
	Method         string          `json:"method"`
	Query          json.RawMessage `json:"query,omitempty"`
	Headers        json.RawMessage `json:"headers,omitempty"`
	BindingVersion string          `json:"bindingVersion"`
}

// PingInfo is the keep-alive of a route: the server pings every Interval
// and closes a connection whose pong is later than Timeout (Go durations,
// "30s").
type PingInfo struct {
	Interval string `json:"interval"`
	Timeout  string `json:"timeout"`
}

// LimitsInfo is what a route bounds; absent fields are unbounded.
type LimitsInfo struct {
	ReadLimit           int64    `json:"readLimit,omitempty"`
	MaxConnections      int      `json:"maxConnections,omitempty"`
	MaxConnectionsPerIP int      `json:"maxConnectionsPerIP,omitempty"`
	MessageRate         float64  `json:"messageRate,omitempty"`
	MessageBurst        int      `json:"messageBurst,omitempty"`
	IdleTimeout         string   `json:"idleTimeout,omitempty"`
	MessageTimeout      string   `json:"messageTimeout,omitempty"`
	Subprotocols        []string `json:"subprotocols,omitempty"`
	Compression         bool     `json:"compression,omitempty"`
}

// Message is one kind of frame on a channel: its content type and the
// JSON Schema of its payload (none for a message without data).
type Message struct {
	Name        string          `json:"name,omitempty"`
	Title       string          `json:"title,omitempty"`
	Summary     string          `json:"summary,omitempty"`
	Description string          `json:"description,omitempty"`
	ContentType string          `json:"contentType,omitempty"`
	Payload     json.RawMessage `json:"payload,omitempty"`
}

// Operation is what the application (the fiberws server) does on a
// channel: "receive" the messages clients send, or "send" messages to
// them. Reply is the acknowledgement of an event.
type Operation struct {
	Action      string `json:"action"`
	Channel     Ref    `json:"channel"`
	Title       string `json:"title,omitempty"`
	Summary     string `json:"summary,omitempty"`
	Description string `json:"description,omitempty"`
	Messages    []Ref  `json:"messages"`
	Reply       *Reply `json:"reply,omitempty"`
	Tags        []Tag  `json:"tags,omitempty"`
}

// Reply is an operation's reply: the messages answering it, on the same
// channel.
type Reply struct {
	Channel  Ref   `json:"channel"`
	Messages []Ref `json:"messages"`
}

// Components holds the schemas of the named Go types the payloads refer to
// ("#/components/schemas/Name").
type Components struct {
	Schemas map[string]json.RawMessage `json:"schemas,omitempty"`
}

// JSON is the document as indented JSON.
func (d *Document) JSON() ([]byte, error) {
	return json.MarshalIndent(d, "", "  ")
}

// YAML is the document as YAML, with the keys in the JSON's order.
func (d *Document) YAML() ([]byte, error) {
	j, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	return yaml.JSONToYAML(j)
}
