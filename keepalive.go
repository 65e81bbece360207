package fiberws

import (
	"errors"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
)

// pinged is a Session as the route's keep-alive scheduler sees it
// (internal/keepalive): the same memory, its own method set, so the
// scheduler's methods stay off Session's API.
type pinged Session

func (p *pinged) Open() bool        { return p.state.Load() == stateOpen }
func (p *pinged) LastPing() int64   { return p.lastPing.Load() }
func (p *pinged) Unanswered() int64 { return p.unanswered.Load() }
func (p *pinged) Paused() bool      { return p.pausedSince.Load() != 0 }
func (p *pinged) Ping()             { (*Session)(p).ping() }
func (p *pinged) Expire() {
	_ = (*Session)(p).closeWith(CloseGoingAway, "ping timeout", hooks.ByTimeout, nil)
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
