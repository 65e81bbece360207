package origin_test

import (
	"fmt"
	"net/http/httptest"

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
