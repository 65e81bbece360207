package asyncapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html"
	"html/template"
	"regexp"
	"sort"
	"strings"
)

//go:embed page.html
var pageSource string

// pageTemplate renders a Document as one self-contained HTML page: no
// script, no font, nothing fetched, so it works offline and under a strict
// Content-Security-Policy.
var pageTemplate = template.Must(template.New("asyncapi").Funcs(template.FuncMap{
	"schema": schemaHTML,
}).Parse(pageSource))

// pageData is what the page shows, in reading order.
type pageData struct {
	Doc      *Document
	Base     string
	Servers  []namedServer
	Channels []pageChannel
	Schemas  []namedSchema
}

type namedServer struct {
	Name string
	Server
}

type pageChannel struct {
	ID string
	*Channel
	Params     []namedParam
	Query      []string
	Headers    []string
	Operations []namedOperation
	Messages   []namedMessage
}

type namedParam struct {
	Name string
	*Parameter
}

type namedOperation struct {
	ID string
	*Operation
	// Messages and Replies are the message keys the operation refers to.
	MessageKeys, ReplyKeys []string
}

type namedMessage struct {
	Key string
	*Message
}

type namedSchema struct {
	Name   string
	Schema json.RawMessage
}

// page renders doc; base is the page's own path, for the links to the
// JSON and YAML forms.
func page(doc *Document, base string) ([]byte, error) {
	d := pageData{Doc: doc, Base: base}
	for _, name := range sortedKeys(doc.Servers) {
		d.Servers = append(d.Servers, namedServer{name, doc.Servers[name]})
	}
	order := doc.order
	if len(order) != len(doc.Channels) {
		// A document changed after Generate: list what it has.
		order = sortedKeys(doc.Channels)
	}
	for _, id := range order {
		ch := doc.Channels[id]
		if ch == nil {
			continue
		}
		pc := pageChannel{ID: id, Channel: ch}
		for _, name := range sortedKeys(ch.Parameters) {
			pc.Params = append(pc.Params, namedParam{name, ch.Parameters[name]})
		}
		if ch.Bindings != nil && ch.Bindings.WS != nil {
			pc.Query = propertyNames(ch.Bindings.WS.Query)
			pc.Headers = propertyNames(ch.Bindings.WS.Headers)
		}
		for _, opID := range sortedKeys(doc.Operations) {
			op := doc.Operations[opID]
			if op.Channel.Ref != "#/channels/"+id {
				continue
			}
			no := namedOperation{ID: opID, Operation: op, MessageKeys: messageKeys(op.Messages)}
			if op.Reply != nil {
				no.ReplyKeys = messageKeys(op.Reply.Messages)
			}
			pc.Operations = append(pc.Operations, no)
		}
		for _, key := range sortedKeys(ch.Messages) {
			pc.Messages = append(pc.Messages, namedMessage{key, ch.Messages[key]})
		}
		d.Channels = append(d.Channels, pc)
	}
	if doc.Components != nil {
		for _, name := range sortedKeys(doc.Components.Schemas) {
			d.Schemas = append(d.Schemas, namedSchema{name, doc.Components.Schemas[name]})
		}
	}
	var b bytes.Buffer
	if err := pageTemplate.Execute(&b, d); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// messageKeys are the keys of referenced messages, "#/channels/c/messages/k" -> k.
func messageKeys(refs []Ref) []string {
	var keys []string
	for _, r := range refs {
		keys = append(keys, r.Ref[strings.LastIndex(r.Ref, "/")+1:])
	}
	return keys
}

// propertyNames are the properties of an object schema, sorted.
func propertyNames(schema json.RawMessage) []string {
	var obj struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if len(schema) == 0 || json.Unmarshal(schema, &obj) != nil {
		return nil
	}
	return sortedKeys(obj.Properties)
}

var schemaRef = regexp.MustCompile(`&#34;#/components/schemas/([A-Za-z0-9._-]+)&#34;`)

// schemaHTML is a schema as indented JSON, escaped, with its references
// to components as links to them on the page.
func schemaHTML(raw json.RawMessage) template.HTML {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		b.Reset()
		b.Write(raw)
	}
	escaped := html.EscapeString(b.String())
	return template.HTML(schemaRef.ReplaceAllString(escaped, `<a href="#schema-$1">&#34;#/components/schemas/$1&#34;</a>`))
}
