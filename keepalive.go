package fiberws

import (
	"errors"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
)

// keepalive pings the connections of one route from a single goroutine,
// instead of a timer per connection. The goroutine runs only while the
// route has connections. It wakes a few times per interval, pings the
// connections whose interval has passed and closes (1001) those whose
// oldest ping went unanswered for the timeout.
type keepalive struct {
	interval, timeout, step time.Duration

	mu    sync.Mutex
	conns map[*Session]struct{}
	stop  chan struct{}
	done  chan struct{}
}

func newKeepalive(interval, timeout time.Duration) *keepalive {
	step := min(interval, timeout) / 4
	step = max(step, time.Millisecond)
	return &keepalive{interval: interval, timeout: timeout, step: step, conns: map[*Session]struct{}{}}
}

func (k *keepalive) add(s *Session) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conns[s] = struct{}{}
	if k.stop == nil {
		k.stop, k.done = make(chan struct{}), make(chan struct{})
		go k.run(k.stop, k.done)
	}
}

func (k *keepalive) remove(s *Session) {
	k.mu.Lock()
	delete(k.conns, s)
	var done chan struct{}
	if len(k.conns) == 0 && k.stop != nil {
		close(k.stop)
		done = k.done
		k.stop, k.done = nil, nil
	}
	k.mu.Unlock()
	if done != nil {
		<-done
	}
}

func (k *keepalive) run(stop, done chan struct{}) {
	defer close(done)
	ticker := time.NewTicker(k.step)
	defer ticker.Stop()
	var due, late []*Session
	for {
		select {
		case <-stop:
			return
		case now := <-ticker.C:
			due, late = k.scan(now, due[:0], late[:0])
			for _, s := range late {
				go s.closeWith(CloseGoingAway, "ping timeout", hooks.ByTimeout, nil)
			}
			for _, s := range due {
				// A goroutine per ping keeps one stuck client from delaying
				// the pings of the others; it lives as long as one write.
				go s.ping(now.UnixNano())
			}
		}
	}
}

func (k *keepalive) scan(now time.Time, due, late []*Session) ([]*Session, []*Session) {
	t := now.UnixNano()
	k.mu.Lock()
	defer k.mu.Unlock()
	for s := range k.conns {
		if s.state.Load() != stateOpen {
			continue
		}
		if u := s.unanswered.Load(); u != 0 && t-u >= int64(k.timeout) {
			late = append(late, s)
			continue
		}
		if t-s.lastPing.Load() >= int64(k.interval) {
			s.lastPing.Store(t)
			s.unanswered.CompareAndSwap(0, t)
			due = append(due, s)
		}
	}
	return due, late
}

// ping writes one ping, scheduled at the UnixNano time scheduled. If it had
// to wait for a long data write to a slow (but live) client, the pong
// timeout starts when the ping goes out, not when it was scheduled.
func (s *Session) ping(scheduled int64) {
	if _, ok := s.lockSocket(); !ok {
		return
	}
	defer s.writeMu.Unlock()
	if s.state.Load() != stateOpen {
		return
	}
	now := time.Now()
	s.unanswered.CompareAndSwap(scheduled, now.UnixNano())
	deadline := now.Add(s.route.srv.cfg.WriteTimeout)
	if err := s.ws.WriteControl(websocket.PingMessage, nil, deadline); err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		s.abort(err)
	}
}
