package main

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/fiberws/fiberws"
	"github.com/gofiber/fiber/v2"
)

// DataController mirrors "Best Practices: Handle Connection Cleanup":
// every connection holds a resource that its cleanup gives back.
type DataController struct {
	resources *resourceService
}

// Prefix "" mounts the route at the root: /data.
func (DataController) Prefix() string { return "" }

// Routes lists /data. OnConnect makes the handler run right after the
// upgrade, so the resource is taken when the client connects rather than
// with its first message.
func (c DataController) Routes() []fiberws.Route {
	return []fiberws.Route{fiberws.WebSocket("/data", c.handleData, fiberws.OnConnect())}
}

// handleData mirrors "Handle Connection Cleanup". conn.Cleanup is revali's
// CleanUp: the function runs once when the connection is over, however it
// ended (close handshake, ping timeout, shutdown, or a client that
// vanished without a close frame).
//
// The result type is *string so the on-connect run can send nothing: a nil
// pointer result is not sent.
func (c DataController) handleData(_ context.Context, conn *fiberws.Conn[*string], message *string) (*string, error) {
	if message == nil { // the on-connect trigger
		res := c.resources.Acquire()
		conn.Cleanup(res.Release)
		return nil, nil
	}
	reply := "Data processed"
	return &reply, nil
}

// resourceService hands out resources and counts those held; it stands in
// for the reference's resourceService (a database handle, a file, a
// subscription…).
type resourceService struct {
	held atomic.Int64
}

// resource is one acquired resource.
type resource struct {
	service *resourceService
	once    sync.Once
}

// Acquire takes a resource.
func (s *resourceService) Acquire() *resource {
	s.held.Add(1)
	return &resource{service: s}
}

// Release gives the resource back; calling it again does nothing.
func (r *resource) Release() {
	r.once.Do(func() { r.service.held.Add(-1) })
}

// Held is how many resources are taken now.
func (s *resourceService) Held() int64 { return s.held.Load() }

// stats serves GET /stats: {"resources": N}.
func (s *resourceService) stats(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"resources": s.Held()})
}
