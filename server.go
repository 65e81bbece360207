package fiberws

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/drain"
	"github.com/gofiber/fiber/v2"
)

// Server mounts controllers and owns the connections they accept: the
// configuration, the app-scope lifecycle components and graceful shutdown.
// Create one with New; most apps need only one.
type Server struct {
	cfg Config

	mu    sync.Mutex
	paths map[string]string // full path -> controller that owns it
	// patterns are the full route patterns mounted, as Session.Route
	// reports them (Handler mounts add theirs at first use); usePatterns
	// the patterns of Handler mounts below where they are used.
	patterns    map[string]bool
	usePatterns []string
	// routes are the mounted routes, for Routes (describe.go).
	routes   []RouteInfo
	conns    map[uint64]*Session // by Session.ID
	shutdown bool
	// drained, while a Shutdown waits, is closed when the last tracked
	// connection has wound down (a channel, not a WaitGroup: connections
	// may still arrive while Shutdown waits).
	drained chan struct{}
	// counted is the connections counted against Config.MaxConnections
	// (limits.go): upgraded and not yet finished.
	counted atomic.Int64
	// perIP counts the connections per client address against
	// Config.MaxConnectionsPerIP (nil: no cap).
	perIP *ipCounts
	// partial is the budget of messages still arriving (partial.go);
	// clock the coarse time the sweeper keeps (UnixNano), sweeper the
	// goroutine that closes late messages and stuck readers, running while
	// there are connections (sweep.go).
	partial partialBudget
	clock   atomic.Int64
	sweeper *sweeper
	// fileLimitChecked is set once checkFileLimit has run (limits.go).
	fileLimitChecked atomic.Bool
	// apps are the Fiber apps the Server is attached to (guarded by mu).
	apps map[*fiber.App]bool
	// shutdownStart is when shutdown began (guarded by mu); watched holds
	// the done channels of the fasthttp servers watchShutdown watches,
	// watching the last one, to skip the lock on every upgrade.
	shutdownStart time.Time
	watched       map[<-chan struct{}]struct{}
	watching      atomic.Value
}

// New creates a Server. Zero fields of config take ConfigDefault's values.
func New(config ...Config) *Server {
	cfg := configDefault(config...)
	return &Server{
		cfg:      cfg,
		paths:    map[string]string{},
		patterns: map[string]bool{},
		conns:    map[uint64]*Session{},
		watched:  map[<-chan struct{}]struct{}{},
		apps:     map[*fiber.App]bool{},
		perIP:    newIPCounts(cfg.MaxConnectionsPerIP),
		partial:  partialBudget{limit: cfg.PartialMessageBudget, holders: map[*Session]int64{}},
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
	srv.conns[s.id] = s
	if srv.sweeper == nil {
		srv.sweeper = srv.startSweeper()
	}
	return !srv.shutdown
}

func (srv *Server) untrack(s *Session) {
	srv.mu.Lock()
	delete(srv.conns, s.id)
	if len(srv.conns) == 0 && srv.sweeper != nil {
		close(srv.sweeper.stop)
		srv.sweeper = nil
	}
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
// A Server mounted on a Fiber app shuts down by itself when the app does:
// the close frames go out as soon as the app's shutdown begins, and the
// app's shutdown waits for the connections to finish, within
// Config.ShutdownTimeout counted from that start. So
// app.ShutdownWithTimeout(t) returns within t, unless WebSocket clients
// take longer to answer the close (then within ShutdownTimeout). Call
// Shutdown yourself to shut the WebSocket routes down on their own.
func (srv *Server) Shutdown(ctx context.Context) error {
	drained := srv.beginShutdown()
	if drained == nil {
		return nil
	}
	select {
	case <-drained:
		return nil
	case <-ctx.Done():
	}
	srv.mu.Lock()
	for _, s := range srv.conns {
		// Still tracked, so serve has not returned: the socket is theirs.
		s.dropTCP()
	}
	srv.mu.Unlock()
	return ctx.Err()
}

// beginShutdown refuses new upgrades and, the first time, sends every open
// connection its close frame. It returns a channel closed once the last
// connection has wound down, or nil when none is open.
func (srv *Server) beginShutdown() <-chan struct{} {
	srv.mu.Lock()
	first := !srv.shutdown
	if first {
		srv.shutdown = true
		srv.shutdownStart = time.Now()
	}
	var open []*Session
	if first {
		open = make([]*Session, 0, len(srv.conns))
		for _, s := range srv.conns {
			open = append(open, s)
		}
	}
	if len(srv.conns) > 0 && srv.drained == nil {
		srv.drained = make(chan struct{})
	}
	drained := srv.drained
	srv.mu.Unlock()
	// One goroutine writes the close frames in turn; a client that does not
	// take its frame hands the rest to another goroutine (package drain).
	drain.Start(open, time.Millisecond, func(s *Session) {
		_ = s.closeWith(CloseGoingAway, "server shutting down", hooks.ByShutdown, nil)
	}, nil)
	if drained == nil {
		return nil
	}
	return drained
}

// shutdownOnAppShutdown makes app's shutdown wait for this Server's
// connections. Fiber runs OnShutdown hooks only after its own shutdown has
// returned; the close frames went out when that began (watchShutdown), so
// the hook waits for what is left of ShutdownTimeout since then. When
// fasthttp's shutdown ended at its deadline with HTTP connections still
// open (GetOpenConnectionsCount is then 0 or more; -1 after a complete
// shutdown), the app's time is up: the remaining sockets are dropped.
func (srv *Server) shutdownOnAppShutdown(app *fiber.App) {
	app.Hooks().OnShutdown(func() error {
		appServers.CompareAndDelete(app, srv)
		srv.beginShutdown()
		srv.mu.Lock()
		deadline := srv.shutdownStart.Add(srv.cfg.ShutdownTimeout)
		srv.mu.Unlock()
		appTimeUp := false
		if hs := app.Server(); hs != nil && hs.GetOpenConnectionsCount() >= 0 {
			deadline, appTimeUp = time.Now(), true
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !appTimeUp {
			// Fiber logs it: connections outlived ShutdownTimeout. When the
			// app's own deadline ended the wait, Fiber has reported that.
			return err
		}
		return nil
	})
}

// watchShutdown starts, once per fasthttp server, a goroutine that begins
// this Server's shutdown as soon as that fasthttp server begins its own:
// done is fasthttp's RequestCtx.Done(), closed when Shutdown starts. It
// runs at every upgrade; only the first one per server starts anything.
func (srv *Server) watchShutdown(done <-chan struct{}) {
	if done == nil || srv.watching.Load() == done {
		return
	}
	srv.mu.Lock()
	if _, ok := srv.watched[done]; ok {
		srv.mu.Unlock()
		return
	}
	srv.watched[done] = struct{}{}
	srv.mu.Unlock()
	srv.watching.Store(done)
	go func() {
		<-done
		srv.mu.Lock()
		delete(srv.watched, done)
		srv.mu.Unlock()
		srv.beginShutdown()
	}()
}

func (srv *Server) shuttingDown() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.shutdown
}
