package origin

import "github.com/gofiber/fiber/v2"

// Config configures the origin check.
type Config struct {
	// Next skips the check for requests it returns true for.
	// Optional. Default: nil
	Next func(c *fiber.Ctx) bool
	// AllowOrigins lists the allowed origins, as browsers send them
	// ("https://example.com", "http://localhost:3000"); "*" allows any.
	// Empty means same host: the Origin header's host:port must equal the
	// request's Host header. The scheme is not compared, so the check works
	// behind a proxy that terminates TLS (Origin https://…, request http).
	// Optional. Default: nil (same host)
	AllowOrigins []string
	// AllowOriginsFunc, when set, allows an origin AllowOrigins does not
	// list when it returns true, as in Fiber's CORS middleware. With it
	// set and AllowOrigins empty, only what it allows passes (the
	// same-host default no longer applies).
	// Optional. Default: nil
	AllowOriginsFunc func(origin string) bool
	// RequireOrigin refuses requests without an Origin header. Browsers
	// always send Origin on WebSocket upgrades; other clients usually
	// don't, and cross-site hijacking needs a browser, so they pass by
	// default.
	// Optional. Default: false
	RequireOrigin bool
}

// ConfigDefault is the default configuration: same-origin, requests
// without an Origin header allowed.
var ConfigDefault = Config{}

func configDefault(config ...Config) Config {
	if len(config) == 0 {
		return ConfigDefault
	}
	return config[0]
}
