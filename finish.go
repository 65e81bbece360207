package fiberws

import (
	"time"

	"github.com/fiberws/fiberws/hooks"
)

// finish winds the connection down once reading has stopped (and the
// socket has been released): wait for the handler, run cleanups, tell the
// observers. It runs on the goroutine serve was called on.
func (s *Session) finish() {
	if s.workerDone != nil {
		<-s.workerDone
	}
	if s.budget != nil {
		s.budget.Stop()
	}
	if s.route.keepalive != nil {
		s.route.keepalive.Remove((*pinged)(s))
	}
	s.runCloses()
	s.runCleanups()
	s.route.leave(s.req.ip)
	s.route.srv.untrack(s)
	sum := s.summary()
	for _, ro := range s.route.live {
		ro.Closed(sum)
	}
	s.route.observeSummary(sum)
}

func (s *Session) runCleanups() {
	s.cleanupMu.Lock()
	list := s.cleanups
	s.cleanups = nil
	s.cleanupMu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		s.runCleanup(list[i])
	}
}

func (s *Session) runCleanup(f func()) {
	var err error
	func() {
		defer recoverAs(&err)
		f()
	}()
	if err != nil {
		s.logError("cleanup panicked", err)
	}
}

func (s *Session) summary() hooks.Summary {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	return hooks.Summary{
		Route:       s.req.pattern,
		Path:        s.req.path,
		Params:      s.req.paramMap(),
		IP:          s.req.ip,
		Start:       s.req.start,
		Duration:    time.Since(s.req.start),
		CloseCode:   s.closeCode,
		CloseReason: s.closeReason,
		ClosedBy:    s.closedBy,
		MessagesIn:  s.msgsIn.Load(),
		MessagesOut: s.msgsOut.Load(),
		BytesIn:     s.bytesIn.Load(),
		BytesOut:    s.bytesOut.Load(),
		Events:      s.eventCounts(),
		Err:         s.closeErr,
	}
}
