package fiberws

import (
	"slices"
	"time"

	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/drain"
)

// The sweeper is one goroutine per Server, running while it has
// connections (track and untrack start and stop it). A few times a second
// it keeps the coarse clock that readers stamp messages with, and closes
// with 1008 "message timeout" the connections whose message has been
// arriving for longer than the message timeout (partial.go).
type sweeper struct {
	stop chan struct{}
}

// sweepTick is how often the sweeper looks: a quarter of the message
// timeout, within 10ms and 1s.
func sweepTick(timeout time.Duration) time.Duration {
	if timeout <= 0 {
		return time.Second
	}
	return min(max(timeout/4, 10*time.Millisecond), time.Second)
}

func (srv *Server) startSweeper() *sweeper {
	sw := &sweeper{stop: make(chan struct{})}
	srv.clock.Store(time.Now().UnixNano())
	go srv.sweep(sw.stop)
	return sw
}

func (srv *Server) sweep(stop chan struct{}) {
	tick := sweepTick(srv.cfg.MessageTimeout)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var late []*Session
	for {
		select {
		case <-stop:
			return
		case now := <-ticker.C:
			t := now.UnixNano()
			srv.clock.Store(t)
			late = late[:0]
			srv.mu.Lock()
			for _, s := range srv.conns {
				since := s.msgSince.Load()
				// since is coarse (a tick old at most): one tick more, so a
				// message is never closed before its timeout.
				if mt := s.route.messageTimeout; mt > 0 && since != 0 && t-since > int64(mt+tick) && s.state.Load() == stateOpen {
					late = append(late, s)
				}
			}
			srv.mu.Unlock()
			drain.Start(slices.Clone(late), time.Millisecond, func(s *Session) {
				_ = s.closeWith(ClosePolicyViolation, ReasonMessageTimeout, hooks.ByTimeout, nil)
			}, nil)
		}
	}
}
