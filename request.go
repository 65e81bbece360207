package fiberws

import (
	"context"
	"net/url"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"
)

// requestData is the part of the upgrade request a connection keeps: copied
// once at upgrade, because fasthttp reuses its request objects.
type requestData struct {
	pattern, path string
	params        []string // key, value, key, value…
	headers       []string
	cookies       map[string]string
	ip            string
	// userCtx is the request's c.UserContext(): the connection's context
	// keeps its values (a trace span, a request ID), not its cancellation.
	userCtx context.Context

	localsMu sync.Mutex
	locals   map[any]any
	rawQuery string
	start    time.Time

	queryOnce sync.Once
	query     url.Values
}

func (r *requestData) queryValues() url.Values {
	r.queryOnce.Do(func() {
		r.query, _ = url.ParseQuery(r.rawQuery)
	})
	return r.query
}

func (r *requestData) paramMap() map[string]string {
	if len(r.params) == 0 {
		return nil
	}
	m := make(map[string]string, len(r.params)/2)
	for i := 0; i+1 < len(r.params); i += 2 {
		m[r.params[i]] = r.params[i+1]
	}
	return m
}

// captureRequest copies what a connection may read of its upgrade request:
// fasthttp recycles the request once the handler returns.
func captureRequest(c *fiber.Ctx) *requestData {
	req := &requestData{
		pattern:  utils.CopyString(c.Route().Path),
		path:     utils.CopyString(c.Path()),
		ip:       utils.CopyString(c.IP()),
		rawQuery: string(c.Context().QueryArgs().QueryString()),
	}
	req.start, _ = c.Locals(localRequest).(time.Time)
	for _, name := range c.Route().Params {
		req.params = append(req.params, utils.CopyString(name), utils.CopyString(c.Params(name)))
	}
	c.Request().Header.VisitAll(func(k, v []byte) {
		req.headers = append(req.headers, string(k), string(v))
	})
	c.Request().Header.VisitAllCookie(func(k, v []byte) {
		if req.cookies == nil {
			req.cookies = map[string]string{}
		}
		req.cookies[string(k)] = string(v)
	})
	req.userCtx = c.UserContext()
	c.Context().VisitUserValuesAll(func(k, v any) {
		if k == localRequest || k == localUpgrade {
			return
		}
		if req.locals == nil {
			req.locals = map[any]any{}
		}
		req.locals[k] = v
	})
	return req
}

func paramMap(c *fiber.Ctx) map[string]string {
	names := c.Route().Params
	if len(names) == 0 {
		return nil
	}
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[n] = c.Params(n)
	}
	return m
}

func first(values []string) string {
	if len(values) > 0 {
		return values[0]
	}
	return ""
}
