// Package origin is a Fiber middleware that rejects WebSocket upgrade
// requests (or any request) from browser origins that are not allowed,
// with 403 Forbidden. It guards against cross-site WebSocket hijacking:
// browsers send cookies with cross-site upgrade requests, so without this
// check any page could talk to your socket as your logged-in user.
//
//	app.Use("/ws", origin.New(origin.Config{AllowOrigins: []string{"https://example.com"}}))
//
// fiberws applies it to every route (Config.Origins); use it directly for
// routes fiberws does not serve.
package origin

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// New returns the origin-check middleware.
func New(config ...Config) fiber.Handler {
	cfg := configDefault(config...)
	anyOrigin := false
	allowed := make(map[string]struct{}, len(cfg.AllowOrigins))
	for _, o := range cfg.AllowOrigins {
		if o == "*" {
			anyOrigin = true
		}
		allowed[strings.ToLower(strings.TrimRight(o, "/"))] = struct{}{}
	}
	return func(c *fiber.Ctx) error {
		if cfg.Next != nil && cfg.Next(c) {
			return c.Next()
		}
		o := c.Get(fiber.HeaderOrigin)
		switch {
		case o == "":
			if cfg.RequireOrigin {
				return fiber.ErrForbidden
			}
		case anyOrigin:
		case len(allowed) > 0 || cfg.AllowOriginsFunc != nil:
			if _, ok := allowed[strings.ToLower(o)]; !ok && (cfg.AllowOriginsFunc == nil || !cfg.AllowOriginsFunc(o)) {
				return fiber.ErrForbidden
			}
		default:
			if !SameOrigin(o, string(c.Request().Host())) {
				return fiber.ErrForbidden
			}
		}
		return c.Next()
	}
}

// SameOrigin reports whether origin (an Origin header value) names host
// (a Host header value, with port if any).
func SameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}
