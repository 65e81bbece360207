package fiberws

import (
	"errors"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/drain"
)

// keepalive pings the connections of one route from a single scheduler
// goroutine, instead of a timer per connection. The goroutine runs only
// while the route has connections. It wakes a few times per interval,
// pings the connections whose interval has passed and closes (1001) those
// whose oldest ping went unanswered for the timeout.
//
// The pings of one tick are written one after the other by one goroutine
// (package drain): a stuck socket hands the rest of the list to another
// goroutine after pingBudget, so it delays no other connection's ping.
// A connection whose write lock is busy (a data write in progress) is not
// waited for: it is pinged on a later tick.
type keepalive struct {
	interval, timeout, step time.Duration

	mu    sync.Mutex
	conns map[*Session]struct{}
	stop  chan struct{}
	done  chan struct{}
	// pinging counts the tick drains still writing; the scheduler waits
	// for them when it stops, so no ping outlives the route's last
	// connection.
	pinging sync.WaitGroup
}

// pingBudget is how long one ping write may hold up the pings after it.
const pingBudget = time.Millisecond

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
	defer k.pinging.Wait()
	ticker := time.NewTicker(k.step)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-ticker.C:
			due, late := k.scan(now)
			for _, s := range late {
				// closeWith may wait for a stuck write; it must not hold up
				// the scheduler. Late connections are rare (dead peers).
				go s.closeWith(CloseGoingAway, "ping timeout", hooks.ByTimeout, nil)
			}
			if len(due) > 0 {
				k.pinging.Add(1)
				drain.Start(due, pingBudget, (*Session).ping, k.pinging.Done)
			}
		}
	}
}

// scan lists the connections due for a ping and those whose oldest ping
// went unanswered for the timeout. A connection whose reader is paused by
// our own back-pressure (a slow handler's full queue) is never late: its
// pong may be waiting, unread, behind the messages we have not read yet.
func (k *keepalive) scan(now time.Time) (due, late []*Session) {
	t := now.UnixNano()
	k.mu.Lock()
	defer k.mu.Unlock()
	for s := range k.conns {
		if s.state.Load() != stateOpen {
			continue
		}
		if u := s.unanswered.Load(); u != 0 && t-u >= int64(k.timeout) {
			if s.pausedSince.Load() == 0 {
				late = append(late, s)
			}
			continue
		}
		if t-s.lastPing.Load() >= int64(k.interval) {
			due = append(due, s)
		}
	}
	return due, late
}

// ping writes one ping if the write lock is free; a connection busy with a
// data write is pinged on a later tick instead of being waited for. The
// pong timeout starts when the ping goes out. A ping that cannot be
// written drops the connection, like any failed write.
func (s *Session) ping() {
	if !s.writeMu.TryLock() {
		return
	}
	defer s.writeMu.Unlock()
	if s.released || s.state.Load() != stateOpen {
		return
	}
	now := time.Now()
	s.lastPing.Store(now.UnixNano())
	s.unanswered.CompareAndSwap(0, now.UnixNano())
	deadline := now.Add(s.route.srv.cfg.WriteTimeout)
	if err := s.ws.WriteControl(websocket.PingMessage, nil, deadline); err != nil && !errors.Is(err, websocket.ErrCloseSent) {
		s.abort(err)
	}
}

// pauseReading and resumeReading bracket a wait of the reader for room in
// the receive queue. While it waits, pongs are not read, so the pong
// timeout stands still: the paused time is added to the unanswered ping's
// start when reading resumes.
func (s *Session) pauseReading() {
	s.pausedSince.Store(time.Now().UnixNano())
}

func (s *Session) resumeReading() {
	since := s.pausedSince.Load()
	if since == 0 {
		return
	}
	// The unanswered ping's timeout is moved first, then the pause ends:
	// a scan in between still sees the pause. A ping sent during the
	// pause is credited only the part of the pause after it went out.
	now := time.Now().UnixNano()
	for {
		u := s.unanswered.Load()
		if u == 0 || s.unanswered.CompareAndSwap(u, u+now-max(u, since)) {
			break
		}
	}
	s.pausedSince.Store(0)
}

// setupControlHandlers answers the client's pings and takes its pongs, on
// the reader goroutine. A ping re-arms the idle deadline, counts against
// the message rate, and is answered with a pong bounded by the write
// timeout, like every frame we write: a pong that cannot be written (a
// client that floods pings and never reads) drops the connection, where
// the library's own handler would ignore the failure and keep a
// connection whose write side is dead. A pong re-arms the idle deadline
// and answers the keep-alive's ping.
func (s *Session) setupControlHandlers() {
	s.ws.SetPingHandler(func(data string) error {
		s.armIdle()
		if !s.allowMessage() {
			return nil
		}
		deadline := time.Now().Add(s.route.srv.cfg.WriteTimeout)
		err := s.ws.WriteControl(websocket.PongMessage, []byte(data), deadline)
		if err == nil || errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		s.abort(err)
		return err
	})
	s.ws.SetPongHandler(func(string) error {
		s.armIdle()
		s.unanswered.Store(0)
		return nil
	})
}
