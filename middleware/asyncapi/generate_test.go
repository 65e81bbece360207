package asyncapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/middleware/asyncapi"
	"github.com/gofiber/fiber/v2"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// The types of the small controller: nesting, recursion, pointers, slices,
// maps, time.Time, omitempty and validate:"required".
type Point struct {
	X int `json:"x" validate:"required"`
	Y int `json:"y,omitempty"`
}

type Shape struct {
	Name     string            `json:"name" validate:"required,min=1"`
	Points   []Point           `json:"points"`
	Labels   map[string]string `json:"labels,omitempty"`
	Created  time.Time         `json:"created"`
	Parent   *Shape            `json:"parent,omitempty"`
	Children []*Shape          `json:"children,omitempty"`
	internal int
	Skipped  string `json:"-"`
}

type AddIn struct {
	A *int `json:"a" validate:"required"`
	B *int `json:"b" validate:"required"`
}

type drawing struct{}

func (drawing) Prefix() string { return "/draw" }

func (drawing) Doc() fiberws.Doc {
	return fiberws.Doc{Title: "Drawing", Summary: "Shapes, live.", Headers: []string{"X-Client-Version"}}
}

func (drawing) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/shapes/:board", func(_ context.Context, _ *fiberws.Conn[Shape], s Shape) (Shape, error) { return s, nil },
			fiberws.WithDoc(fiberws.Doc{Summary: "Edit the shapes of a board.", Description: "Each shape sent is echoed to its sender.", Query: []string{"token"}}),
			fiberws.WithPing(15*time.Second), fiberws.WithReadLimit(64<<10), fiberws.WithMaxConnectionsPerIP(4)),
		fiberws.ReceiveOnly("/log", func(context.Context, *fiberws.Session, string) error { return nil }),
		fiberws.SendOnly("/tiles/*", func(context.Context, *fiberws.Conn[[]byte]) ([]byte, error) { return nil, nil }),
		fiberws.Events("/calc", fiberws.On("add", func(_ context.Context, _ *fiberws.EventConn, in AddIn) (int, error) { return *in.A + *in.B, nil }),
			fiberws.On("reset", func(context.Context, *fiberws.EventConn, fiberws.None) (fiberws.None, error) {
				return fiberws.None{}, nil
			})),
		fiberws.WebSocket("/hello", func(context.Context, *fiberws.Conn[string], fiberws.None) (string, error) { return "hello", nil }, fiberws.OnConnect()),
	}
}

func newServer(t *testing.T) *fiberws.Server {
	t.Helper()
	srv := fiberws.New(fiberws.Config{MaxConnectionsPerIP: 0})
	if err := srv.Register(fiber.New(), drawing{}); err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestGolden pins the document of the small controller (go test
// ./middleware/asyncapi -run Golden -update rewrites it).
func TestGolden(t *testing.T) {
	doc, err := asyncapi.Generate(asyncapi.Config{
		Server:  newServer(t),
		Info:    asyncapi.Info{Title: "Drawing API", Version: "2.1.0"},
		Servers: map[string]asyncapi.Server{"local": {Host: "localhost:8080", Protocol: "ws"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := doc.JSON()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "drawing.asyncapi.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("document differs from %s (run with -update after checking the change):\n%s", golden, got)
	}
	var v map[string]any
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatal(err)
	}
}
