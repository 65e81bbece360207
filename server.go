package fiberws

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// Server mounts controllers and owns the connections they accept: the
// configuration, the app-scope lifecycle components and graceful shutdown.
// Create one with New; most apps need only one.
type Server struct {
	cfg      Config
	upgrader websocket.FastHTTPUpgrader

	mu       sync.Mutex
	paths    map[string]string // full path -> controller that owns it
	conns    map[*Session]struct{}
	shutdown bool
	// drained, while a Shutdown waits, is closed when the last tracked
	// connection has wound down (a channel, not a WaitGroup: connections
	// may still arrive while Shutdown waits).
	drained chan struct{}
	// counted is the connections counted against Config.MaxConnections
	// (limits.go): upgraded and not yet finished.
	counted atomic.Int64
}

// New creates a Server. Zero fields of config take ConfigDefault's values.
func New(config ...Config) *Server {
	cfg := configDefault(config...)
	return &Server{
		cfg: cfg,
		upgrader: websocket.FastHTTPUpgrader{
			HandshakeTimeout:  cfg.HandshakeTimeout,
			ReadBufferSize:    cfg.ReadBufferSize,
			WriteBufferSize:   cfg.WriteBufferSize,
			EnableCompression: cfg.EnableCompression,
			// Origins are checked by the origin middleware before the
			// upgrade, where a rejection can be a proper HTTP response.
			CheckOrigin: func(*fasthttp.RequestCtx) bool { return true },
		},
		paths: map[string]string{},
		conns: map[*Session]struct{}{},
	}
}

func (srv *Server) logger() *slog.Logger {
	if srv.cfg.Logger != nil {
		return srv.cfg.Logger
	}
	return slog.Default()
}

// track registers a new connection; it reports false once the server is
// shutting down (the caller then closes the connection with 1001).
func (srv *Server) track(s *Session) bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	srv.conns[s] = struct{}{}
	return !srv.shutdown
}

func (srv *Server) untrack(s *Session) {
	srv.mu.Lock()
	delete(srv.conns, s)
	if len(srv.conns) == 0 && srv.drained != nil {
		close(srv.drained)
		srv.drained = nil
	}
	srv.mu.Unlock()
}

// Connections returns how many connections are open now.
func (srv *Server) Connections() int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.conns)
}

// Shutdown closes every connection with 1001 "server shutting down" and
// refuses new upgrades (503). It waits until each connection's handler has
// returned and its cleanups and observers have run, or until ctx is done;
// then it drops the sockets that have not finished and returns ctx.Err().
//
// A Server registered on a *fiber.App shuts down by itself when the app
// does, bounded by Config.ShutdownTimeout; call Shutdown when you mounted
// on a group or use Handler.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.shutdown = true
	open := make([]*Session, 0, len(srv.conns))
	for s := range srv.conns {
		open = append(open, s)
	}
	if len(open) > 0 && srv.drained == nil {
		srv.drained = make(chan struct{})
	}
	drained := srv.drained
	srv.mu.Unlock()
	if drained == nil {
		return nil
	}

	for _, s := range open {
		go s.closeWith(CloseGoingAway, "server shutting down", hooks.ByShutdown, nil)
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
	}
	srv.mu.Lock()
	for s := range srv.conns {
		// Still tracked, so serve has not returned: the socket is theirs.
		s.dropTCP()
	}
	srv.mu.Unlock()
	return ctx.Err()
}

func (srv *Server) shutdownOnAppShutdown(app *fiber.App) {
	app.Hooks().OnShutdown(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), srv.cfg.ShutdownTimeout)
		defer cancel()
		return srv.Shutdown(ctx)
	})
}

func (srv *Server) shuttingDown() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.shutdown
}
