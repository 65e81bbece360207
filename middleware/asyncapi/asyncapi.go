package asyncapi

import (
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// New returns a middleware that serves the AsyncAPI document of
// cfg.Server's routes: the page at Path (default /asyncapi), the document
// as JSON at Path+".json" and as YAML at Path+".yaml", all below the
// prefix it is used at (app.Use: the root; group.Use: the group's
// prefix). Other requests go on with c.Next(). The document follows the
// routes: one registered after New is in the next response. New panics
// without cfg.Server, like Fiber's middleware on a configuration it cannot
// serve.
//
//	app.Use(asyncapi.New(asyncapi.Config{Server: srv, Info: asyncapi.Info{Title: "Chat", Version: "1.2.0"}}))
func New(config ...Config) fiber.Handler {
	cfg := configDefault(config...)
	if cfg.Server == nil {
		panic("asyncapi: Config.Server is required")
	}
	docs := &cachedDocument{cfg: cfg}
	return func(c *fiber.Ctx) error {
		if cfg.Next != nil && cfg.Next(c) {
			return c.Next()
		}
		if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
			return c.Next()
		}
		base := usePrefix(c) + cfg.Path
		path := c.Path()
		if path != base && path != base+"/" && path != base+".json" && path != base+".yaml" {
			return c.Next()
		}
		doc, err := docs.forRequest(c)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderCacheControl, cfg.Cache)
		switch path {
		case base + ".json":
			b, err := doc.JSON()
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
			return c.Send(b)
		case base + ".yaml":
			b, err := doc.YAML()
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, "application/yaml; charset=utf-8")
			return c.Send(b)
		}
		b, err := page(doc, base)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		// The page is self-contained: nothing may load from elsewhere.
		c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
		return c.Send(b)
	}
}

// usePrefix is the prefix of the app.Use or group.Use the middleware runs
// under ("" at the root, and on a route with parameters or wildcards).
func usePrefix(c *fiber.Ctx) string {
	p := c.Route().Path
	if strings.ContainsAny(p, ":*+") {
		return ""
	}
	return strings.TrimRight(p, "/")
}

// cachedDocument is the document, generated again only when the Server's
// routes have changed.
type cachedDocument struct {
	cfg    Config
	mu     sync.Mutex
	routes int
	doc    *Document
}

// forRequest is the document for c: the cached one, with the server c
// came to when Config.Servers names none.
func (cd *cachedDocument) forRequest(c *fiber.Ctx) (*Document, error) {
	cd.mu.Lock()
	defer cd.mu.Unlock()
	if n := len(cd.cfg.Server.Routes()); cd.doc == nil || n != cd.routes {
		doc, err := Generate(cd.cfg)
		if err != nil {
			return nil, err
		}
		cd.doc, cd.routes = doc, n
	}
	doc := *cd.doc
	if len(doc.Servers) == 0 {
		protocol := "ws"
		if c.Protocol() == "https" {
			protocol = "wss"
		}
		doc.Servers = map[string]Server{"default": {Host: c.Hostname(), Protocol: protocol, Description: "The server this document was served from."}}
	}
	return &doc, nil
}
