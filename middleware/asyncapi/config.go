package asyncapi

import (
	"github.com/fiberws/fiberws"
	"github.com/gofiber/fiber/v2"
)

// Config configures the documents and where New serves them.
type Config struct {
	// Next skips the middleware for requests it returns true for.
	// Optional. Default: nil
	Next func(c *fiber.Ctx) bool
	// Server is the fiberws Server whose routes are documented: every
	// route registered on it, also after New, is in the document.
	// Required.
	Server *fiberws.Server
	// Path is where the page is served, below the prefix the middleware is
	// used at; the document is served at Path+".json" and Path+".yaml".
	// Optional. Default: "/asyncapi"
	Path string
	// Info is the API's title, version and description.
	// Optional. Default: Title "WebSocket API", Version "1.0.0"
	Info Info
	// Servers names where clients connect ("production":
	// {Host: "api.example.com", Protocol: "wss"}). When empty, New
	// describes the server the document was asked from (the request's
	// host; wss behind TLS), and Generate lists none.
	// Optional. Default: nil
	Servers map[string]Server
	// Cache is the Cache-Control header of the responses.
	// Optional. Default: "no-cache" (documents follow routes registered
	// later)
	Cache string
}

// ConfigDefault is the default configuration, but for Server, which has no
// default.
var ConfigDefault = Config{
	Path:  "/asyncapi",
	Info:  Info{Title: "WebSocket API", Version: "1.0.0"},
	Cache: "no-cache",
}

func configDefault(config ...Config) Config {
	if len(config) == 0 {
		return ConfigDefault
	}
	cfg := config[0]
	if cfg.Path == "" {
		cfg.Path = ConfigDefault.Path
	}
	if cfg.Path[0] != '/' {
		cfg.Path = "/" + cfg.Path
	}
	if cfg.Info.Title == "" {
		cfg.Info.Title = ConfigDefault.Info.Title
	}
	if cfg.Info.Version == "" {
		cfg.Info.Version = ConfigDefault.Info.Version
	}
	if cfg.Cache == "" {
		cfg.Cache = ConfigDefault.Cache
	}
	return cfg
}
