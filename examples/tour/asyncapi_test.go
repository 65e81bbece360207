package main

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// asyncapiDoc is the part of an AsyncAPI document the tests read.
type asyncapiDoc struct {
	AsyncAPI string `json:"asyncapi"`
	Channels map[string]struct {
		Address  string `json:"address"`
		Mode     string `json:"x-fiberws-mode"`
		Messages map[string]struct {
			ContentType string          `json:"contentType"`
			Payload     json.RawMessage `json:"payload"`
		} `json:"messages"`
	} `json:"channels"`
	Operations map[string]struct {
		Action  string `json:"action"`
		Channel struct {
			Ref string `json:"$ref"`
		} `json:"channel"`
	} `json:"operations"`
	Components struct {
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

// The tour documents every route it serves: one channel per route, the
// operations its mode allows, the JSON routes' schemas.
func TestAsyncAPI(t *testing.T) {
	srv, _ := startTour(t, testOptions())
	client := &http.Client{Timeout: 5 * time.Second}
	res, err := client.Get(srv.HTTPURL("/asyncapi.json"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /asyncapi.json: %d %v", res.StatusCode, err)
	}
	var doc asyncapiDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AsyncAPI != "3.0.0" {
		t.Errorf("asyncapi %q", doc.AsyncAPI)
	}
	byAddress := map[string]string{}
	for id, ch := range doc.Channels {
		byAddress[ch.Address] = id
		var actions []string
		for _, op := range doc.Operations {
			if op.Channel.Ref == "#/channels/"+id {
				actions = append(actions, op.Action)
			}
		}
		slices.Sort(actions)
		want := map[string][]string{
			"two-way":      {"receive", "send"},
			"receive-only": {"receive"},
			"send-only":    {"send"},
		}[ch.Mode]
		if !slices.Equal(actions, want) {
			t.Errorf("%s (%s): operations %v, want %v", ch.Address, ch.Mode, actions, want)
		}
	}
	for addr, mode := range map[string]string{
		"/modes/two-way": "two-way", "/modes/receive-only": "receive-only", "/modes/send-only": "send-only",
		"/notifications/stream": "send-only", "/messages/json": "two-way", "/heartbeat": "two-way",
	} {
		id, ok := byAddress[addr]
		if !ok {
			t.Errorf("no channel for %s", addr)
			continue
		}
		if got := doc.Channels[id].Mode; got != mode {
			t.Errorf("%s: mode %s, want %s", addr, got, mode)
		}
	}
	if n := len(doc.Channels); n < 17 {
		t.Errorf("%d channels, want every route of the tour (17)", n)
	}

	// JSON routes carry their schema: /messages/json takes a ChatMessage
	// and replies with text.
	msgs := doc.Channels[byAddress["/messages/json"]].Messages
	if in := msgs["fromClient"]; in.ContentType != "application/json" || !strings.Contains(string(in.Payload), "#/components/schemas/ChatMessage") {
		t.Errorf("/messages/json fromClient: %s %s", in.ContentType, in.Payload)
	}
	if out := msgs["toClient"]; out.ContentType != "text/plain" {
		t.Errorf("/messages/json toClient: %s", out.ContentType)
	}
	var chatMessage struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(doc.Components.Schemas["ChatMessage"], &chatMessage); err != nil {
		t.Fatal(err)
	}
	if chatMessage.Properties["user"].Type != "string" || chatMessage.Properties["text"].Type != "string" {
		t.Errorf("ChatMessage schema %s", doc.Components.Schemas["ChatMessage"])
	}
}
