package asyncapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/middleware/asyncapi"
	"github.com/fiberws/fiberws/middleware/asyncapi/internal/other"
	"github.com/goccy/go-yaml"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind, but for
// fasthttp's process-wide Date refresher and worker-pool cleaners.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

var client = &http.Client{Timeout: 5 * time.Second}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// serve runs the drawing controller with the middleware used at prefix
// ("" for app.Use).
func serve(t *testing.T, prefix string, cfg asyncapi.Config) (*fiberwstest.Server, *fiberws.Server) {
	t.Helper()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	srv := fiberws.New()
	if err := srv.Register(app, drawing{}); err != nil {
		t.Fatal(err)
	}
	cfg.Server = srv
	if prefix == "" {
		app.Use(asyncapi.New(cfg))
	} else {
		app.Group(prefix).Use(asyncapi.New(cfg))
	}
	app.Get("/other", func(c *fiber.Ctx) error { return c.SendString("other") })
	return fiberwstest.Serve(t, app), srv
}

func TestServesJSONYAMLAndPage(t *testing.T) {
	ts, _ := serve(t, "", asyncapi.Config{Info: asyncapi.Info{Title: "Drawing API"}})

	res, body := get(t, ts.HTTPURL("/asyncapi.json"))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /asyncapi.json: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	var fromJSON map[string]any
	if err := json.Unmarshal(body, &fromJSON); err != nil {
		t.Fatalf("JSON: %v\n%s", err, body)
	}
	if fromJSON["asyncapi"] != "3.0.0" {
		t.Errorf("asyncapi = %v", fromJSON["asyncapi"])
	}
	info := fromJSON["info"].(map[string]any)
	if info["title"] != "Drawing API" || info["version"] != "1.0.0" {
		t.Errorf("info = %v (want the title given and the default version)", info)
	}
	// Without Config.Servers, the server asked.
	servers := fromJSON["servers"].(map[string]any)
	if s := servers["default"].(map[string]any); s["host"] != ts.Addr || s["protocol"] != "ws" {
		t.Errorf("servers = %v, want host %s, protocol ws", servers, ts.Addr)
	}

	res, body = get(t, ts.HTTPURL("/asyncapi.yaml"))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/yaml") {
		t.Fatalf("GET /asyncapi.yaml: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if !strings.HasPrefix(string(body), "asyncapi: 3.0.0\n") {
		t.Errorf("YAML does not start with the version (keys out of order?):\n%.200s", body)
	}
	var fromYAML map[string]any
	if err := yaml.Unmarshal(body, &fromYAML); err != nil {
		t.Fatalf("YAML: %v", err)
	}
	// The same document: compare through JSON, which YAML's numbers and
	// JSON's agree on once both are marshalled.
	a, _ := json.Marshal(fromJSON)
	b, _ := json.Marshal(fromYAML)
	if string(a) != string(b) {
		t.Errorf("YAML and JSON differ:\nJSON %s\nYAML %s", a, b)
	}

	res, body = get(t, ts.HTTPURL("/asyncapi"))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /asyncapi: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}
	page := string(body)
	for id, ch := range fromJSON["channels"].(map[string]any) {
		addr := ch.(map[string]any)["address"].(string)
		if !strings.Contains(page, `data-channel="`+id+`"`) || !strings.Contains(page, ">"+addr+"<") {
			t.Errorf("page lacks channel %s (%s)", id, addr)
		}
	}
	for op := range fromJSON["operations"].(map[string]any) {
		if !strings.Contains(page, `data-operation="`+op+`"`) {
			t.Errorf("page lacks operation %s", op)
		}
	}
	for name := range fromJSON["components"].(map[string]any)["schemas"].(map[string]any) {
		if !strings.Contains(page, `id="schema-`+name+`"`) || !strings.Contains(page, `href="#schema-`+name+`"`) {
			t.Errorf("page lacks schema %s or a link to it", name)
		}
	}
	for _, external := range []string{"http://", "https://", "<script", "<link"} {
		if strings.Contains(page, external) {
			t.Errorf("page contains %q: it must work offline", external)
		}
	}

	// Everything else goes on to the app.
	if res, body := get(t, ts.HTTPURL("/other")); res.StatusCode != 200 || string(body) != "other" {
		t.Errorf("GET /other: %d %q", res.StatusCode, body)
	}
	if res, _ := get(t, ts.HTTPURL("/asyncapi.xml")); res.StatusCode != 404 {
		t.Errorf("GET /asyncapi.xml: %d, want 404", res.StatusCode)
	}
	res, err := client.Post(ts.HTTPURL("/asyncapi.json"), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 && res.StatusCode != 405 {
		t.Errorf("POST /asyncapi.json: %d, want it passed on (404/405)", res.StatusCode)
	}
}

func TestGroupPrefixPathAndNext(t *testing.T) {
	ts, _ := serve(t, "/docs", asyncapi.Config{
		Path: "ws-api",
		Next: func(c *fiber.Ctx) bool { return c.Query("skip") != "" },
	})
	if res, _ := get(t, ts.HTTPURL("/docs/ws-api.json")); res.StatusCode != 200 {
		t.Errorf("GET /docs/ws-api.json: %d", res.StatusCode)
	}
	if res, body := get(t, ts.HTTPURL("/docs/ws-api")); res.StatusCode != 200 || !strings.Contains(string(body), `href="/docs/ws-api.json"`) {
		t.Errorf("GET /docs/ws-api: %d, links to the JSON: %v", res.StatusCode, strings.Contains(string(body), `href="/docs/ws-api.json"`))
	}
	if res, _ := get(t, ts.HTTPURL("/ws-api.json")); res.StatusCode != 404 {
		t.Errorf("GET /ws-api.json outside the group: %d, want 404", res.StatusCode)
	}
	if res, _ := get(t, ts.HTTPURL("/docs/ws-api.json?skip=1")); res.StatusCode != 404 {
		t.Errorf("Next did not skip: %d", res.StatusCode)
	}
}

type late struct{}

func (late) Prefix() string { return "/late" }
func (late) Routes() []fiberws.Route {
	return []fiberws.Route{fiberws.ReceiveOnly("/in", func(context.Context, *fiberws.Session, []byte) error { return nil })}
}

// Routes registered after New, and after a document was served, are in the
// next document; the routes still serve WebSocket clients beside the
// middleware.
func TestFollowsLaterRoutes(t *testing.T) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	srv := fiberws.New()
	app.Use(asyncapi.New(asyncapi.Config{Server: srv}))
	if err := srv.Register(app, drawing{}); err != nil {
		t.Fatal(err)
	}
	ts := fiberwstest.Serve(t, app)
	channels := func() map[string]any {
		_, body := get(t, ts.HTTPURL("/asyncapi.json"))
		var doc map[string]any
		if err := json.Unmarshal(body, &doc); err != nil {
			t.Fatal(err)
		}
		return doc["channels"].(map[string]any)
	}
	before := len(channels())
	if before != len(drawing{}.Routes()) {
		t.Fatalf("%d channels, want one per route (%d)", before, len(drawing{}.Routes()))
	}
	// Fiber serves no route added after it started, so the late route
	// goes on a second app of the same Server.
	if err := srv.Register(fiber.New(), late{}); err != nil {
		t.Fatal(err)
	}
	ch := channels()
	if _, ok := ch["late_in"]; !ok || len(ch) != before+1 {
		t.Fatalf("channels after Register: %v", keys(ch))
	}
	c := ts.Dial(t, "/draw/log")
	c.SendText("hi")
	c.Close(1000, "")
}

func TestNewNeedsServer(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "Server is required") {
			t.Errorf("New without a Server: recovered %v", r)
		}
	}()
	asyncapi.New()
}

func TestGenerateNeedsServer(t *testing.T) {
	if _, err := asyncapi.Generate(asyncapi.Config{}); err == nil {
		t.Error("Generate without a Server: no error")
	}
}

// Types of the schema tests.
type (
	Base struct {
		ID string `json:"id" validate:"required"`
	}
	WithEmbedded struct {
		Base
		Here   Point           `json:"here"`
		There  other.Point     `json:"there"`
		Raw    json.RawMessage `json:"raw"`
		Inline struct {
			N int `json:"n" validate:"required"`
		} `json:"inline"`
		Optional *string `json:"optional,omitempty"`
		Dive     []Point `json:"dive" validate:"dive,required"`
	}
)

type schemaCtrl struct{}

func (schemaCtrl) Prefix() string { return "" }
func (schemaCtrl) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.ReceiveOnly("/x", func(context.Context, *fiberws.Session, WithEmbedded) error { return nil }),
	}
}

func TestSchemas(t *testing.T) {
	srv := fiberws.New()
	if err := srv.Register(fiber.New(), schemaCtrl{}); err != nil {
		t.Fatal(err)
	}
	doc, err := asyncapi.Generate(asyncapi.Config{Server: srv})
	if err != nil {
		t.Fatal(err)
	}
	var schemas map[string]struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	}
	raw, _ := json.Marshal(doc.Components.Schemas)
	if err := json.Unmarshal(raw, &schemas); err != nil {
		t.Fatal(err)
	}
	w, ok := schemas["WithEmbedded"]
	if !ok {
		t.Fatalf("no WithEmbedded among %v", keys(schemas))
	}
	// The embedded struct's fields are promoted, its required with them;
	// a rule after dive is about the elements, not the field.
	if !reflect.DeepEqual(w.Required, []string{"id"}) {
		t.Errorf("WithEmbedded required = %v, want [id]", w.Required)
	}
	for _, p := range []string{"id", "here", "there", "raw", "inline", "optional", "dive"} {
		if _, ok := w.Properties[p]; !ok {
			t.Errorf("WithEmbedded lacks property %s: %v", p, keys(w.Properties))
		}
	}
	if string(w.Properties["raw"]) != "true" && string(w.Properties["raw"]) != "{}" {
		t.Errorf("raw JSON's schema = %s, want any value", w.Properties["raw"])
	}
	if !strings.Contains(string(w.Properties["inline"]), `"required":["n"]`) {
		t.Errorf("anonymous struct's schema = %s, want n required", w.Properties["inline"])
	}
	// Two types named Point, from two packages, are two schemas.
	here, there := string(w.Properties["here"]), string(w.Properties["there"])
	if here == there {
		t.Fatalf("both Points refer to %s", here)
	}
	for _, ref := range []string{here, there} {
		name := strings.TrimSuffix(strings.TrimPrefix(ref, `{"$ref":"#/components/schemas/`), `"}`)
		if _, ok := schemas[name]; !ok {
			t.Errorf("reference %s names no schema (have %v)", ref, keys(schemas))
		}
	}
	if req := schemas["Point"].Required; !reflect.DeepEqual(req, []string{"x"}) {
		t.Errorf("Point required = %v", req)
	}
	if req := schemas["other.Point"].Required; !reflect.DeepEqual(req, []string{"lat", "lng"}) {
		t.Errorf("other.Point required = %v (schemas %v)", req, keys(schemas))
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
