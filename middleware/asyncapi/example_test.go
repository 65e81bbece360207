package asyncapi_test

import (
	"context"
	"fmt"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/middleware/asyncapi"
	"github.com/gofiber/fiber/v2"
)

type Greeting struct {
	Name string `json:"name" validate:"required"`
}

type greeter struct{}

func (greeter) Prefix() string { return "/greet" }

func (greeter) Routes() []fiberws.Route {
	return []fiberws.Route{
		fiberws.WebSocket("/:lang", func(_ context.Context, _ *fiberws.Conn[string], g Greeting) (string, error) {
			return "hello, " + g.Name, nil
		}, fiberws.WithDoc(fiberws.Doc{Summary: "Greets whoever says their name."})),
	}
}

// Serve the page and the document of a Server's routes beside them.
func ExampleNew() {
	app := fiber.New()
	srv := fiberws.New()
	if err := srv.Register(app, greeter{}); err != nil {
		panic(err)
	}
	// GET /asyncapi, /asyncapi.json, /asyncapi.yaml
	app.Use(asyncapi.New(asyncapi.Config{
		Server: srv,
		Info:   asyncapi.Info{Title: "Greeter", Version: "1.0.0"},
	}))
}

// Generate gives the document itself, for tests or go generate.
func ExampleGenerate() {
	srv := fiberws.New()
	if err := srv.Register(fiber.New(), greeter{}); err != nil {
		panic(err)
	}
	doc, err := asyncapi.Generate(asyncapi.Config{Server: srv, Info: asyncapi.Info{Title: "Greeter"}})
	if err != nil {
		panic(err)
	}
	ch := doc.Channels["greet_lang"]
	fmt.Println(ch.Address, ch.Summary)
	fmt.Println(doc.Operations["greet_lang.receive"].Action, ch.Messages["fromClient"].ContentType, string(ch.Messages["fromClient"].Payload))
	fmt.Println(string(doc.Components.Schemas["Greeting"]))
	// Output:
	// /greet/{lang} Greets whoever says their name.
	// receive application/json {"$ref":"#/components/schemas/Greeting"}
	// {"properties":{"name":{"type":"string"}},"type":"object","required":["name"]}
}
