package fiberws

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fiberws/fiberws/internal/drain"
)

// Session returns the open connection with the given ID (Session.ID), or
// false once it has closed or if it was never one of this Server's. Use it
// to push to one connection from outside its handler, such as an HTTP
// handler that notifies a user whose connection ID the app stored at
// OnOpen; ConnOf gives its typed sender.
func (srv *Server) Session(id uint64) (*Session, bool) {
	srv.mu.Lock()
	s := srv.conns[id]
	srv.mu.Unlock()
	if s == nil || s.Closed() {
		return nil, false
	}
	return s, true
}

// ConnOf returns the typed sender of a connection whose route sends T
// messages (its handler takes a *Conn[T]), or false for a route of another
// type, or a receive-only one.
//
//	if s, ok := ws.Session(id); ok {
//		if c, ok := fiberws.ConnOf[Notice](s); ok {
//			err = c.Send(Notice{Text: "your export is ready"})
//		}
//	}
func ConnOf[T any](s *Session) (*Conn[T], bool) {
	if s == nil || s.handler == nil {
		return nil, false
	}
	c, ok := s.handler.conn().(*Conn[T])
	return c, ok && c != nil
}

// ErrUnknownRoute is returned by Server.Broadcast for a route pattern the
// Server has not mounted.
var ErrUnknownRoute = errors.New("fiberws: no such route")

// broadcastBudget is how long one connection's write may take before
// Broadcast goes on with the others on another goroutine.
const broadcastBudget = time.Millisecond

// Broadcast sends p to every open connection of one route, given by its
// full path pattern as registered ("/api/feed/ws", Session.Route), without
// a room: a feed every client of the route gets, a notice before a
// deploy. Receive-only and Contrib routes receive nothing. The writes go out one
// after the other on as few goroutines as they can, so a slow client
// delays the others by about a millisecond, not its WriteTimeout (a
// client that does not take the frame within it is dropped, as for any
// write). Broadcast returns how many connections it wrote to once every
// write is done, or ctx's error if ctx ends first (the writes go on).
//
// For many messages, or rooms, or more than one node, use the hub
// package: it queues per connection and pushes back on fast publishers.
func (srv *Server) Broadcast(ctx context.Context, route string, p *PreparedMessage) (int, error) {
	srv.mu.Lock()
	known := srv.patterns[route] || slices.ContainsFunc(srv.usePatterns, func(p string) bool { return strings.HasSuffix(route, p) })
	var targets []*Session
	for _, s := range srv.conns {
		if s.req.pattern == route && s.route.route.mode != ModeReceiveOnly && !s.contrib && !s.Closed() {
			targets = append(targets, s)
		}
	}
	srv.mu.Unlock()
	if !known && len(targets) == 0 {
		return 0, ErrUnknownRoute
	}
	var sent atomic.Int64
	done := make(chan struct{})
	drain.Start(targets, broadcastBudget, func(s *Session) {
		if s.sendPrepared(p) == nil {
			sent.Add(1)
		}
	}, func() { close(done) })
	select {
	case <-done:
		return int(sent.Load()), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}
