package origin_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/fiberws/fiberws/middleware/origin"
	"github.com/gofiber/fiber/v2"
)

// Same-origin by default: a page on another host gets 403.
func ExampleNew() {
	app := fiber.New()
	app.Use(origin.New())
	app.Get("/ws", func(c *fiber.Ctx) error { return c.SendString("ok") })

	req := httptest.NewRequest("GET", "http://example.com/ws", nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, _ := app.Test(req)
	fmt.Println(resp.StatusCode)

	req = httptest.NewRequest("GET", "http://example.com/ws", nil)
	req.Header.Set("Origin", "http://example.com")
	resp, _ = app.Test(req)
	fmt.Println(resp.StatusCode)
	// Output:
	// 403
	// 200
}

// An allow-list of origins, for a front end served from another host.
func ExampleConfig() {
	app := fiber.New()
	app.Use(origin.New(origin.Config{AllowOrigins: []string{"https://app.example.com"}}))
	app.Get("/ws", func(c *fiber.Ctx) error { return c.SendString("ok") })

	req := httptest.NewRequest("GET", "http://api.example.com/ws", nil)
	req.Header.Set("Origin", "https://app.example.com")
	resp, _ := app.Test(req)
	fmt.Println(resp.StatusCode)
	// Output: 200
}

// A callback for origins that follow a pattern (preview deployments),
// and requests without an Origin header refused.
func ExampleConfig_allowOriginsFunc() {
	app := fiber.New()
	app.Use(origin.New(origin.Config{
		AllowOriginsFunc: func(o string) bool { return strings.HasSuffix(o, ".preview.example.com") },
		RequireOrigin:    true,
	}))
	app.Get("/ws", func(c *fiber.Ctx) error { return c.SendString("ok") })
	for _, o := range []string{"https://pr-7.preview.example.com", "https://evil.example", ""} {
		req := httptest.NewRequest("GET", "http://api.example.com/ws", nil)
		if o != "" {
			req.Header.Set("Origin", o)
		}
		resp, _ := app.Test(req)
		fmt.Println(resp.StatusCode)
	}
	// Output:
	// 200
	// 403
	// 403
}
