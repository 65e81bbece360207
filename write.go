package fiberws

import (
	"errors"
	"net"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
)

// emit runs an outgoing message through the post-interceptors (route,
// controller, app: reverse scope order) and writes it. event is its event
// name on an event route; fanout marks a prepared message of a fan-out
// (see write).
func (s *Session) emit(mt hooks.MessageType, data []byte, event string, fanout bool) error {
	if s.state.Load() != stateOpen {
		return ErrClosed
	}
	if post := s.route.post; len(post) > 0 {
		// Interceptors may rewrite Data in place; data may alias a string.
		m := hooks.Message{Type: mt, Data: append([]byte(nil), data...), Event: event}
		for _, in := range post {
			if err := s.callPost(in, &m); err != nil {
				if errors.Is(err, hooks.ErrDrop) {
					return nil
				}
				return err
			}
		}
		mt, data = m.Type, m.Data
	}
	return s.write(mt, data, nil, fanout)
}

func (s *Session) callPost(in hooks.Interceptor, m *hooks.Message) (err error) {
	defer recoverAs(&err)
	return in.Post(s.ctx, s, m)
}

// write sends one data frame: data as an mt frame, or pm when it is not
// nil. Writes of a connection are serialized here, each bounded by the
// write timeout; a failed write means the client cannot take data, so the
// connection is dropped. A fan-out write (SendPrepared) that times out
// records the close as 1008 "slow consumer": a receiver that takes no
// frame for the write timeout does not keep up with its fan-out.
func (s *Session) write(mt hooks.MessageType, data []byte, pm *websocket.PreparedMessage, fanout bool) error {
	if s.contrib {
		return errContribWrites
	}
	asked, ok := s.lockSocket()
	if !ok {
		return ErrClosed
	}
	defer s.writeMu.Unlock()
	if s.state.Load() != stateOpen {
		return ErrClosed
	}
	s.armWriteDeadline(asked)
	var err error
	if pm != nil {
		err = s.ws.WritePreparedMessage(pm)
	} else {
		err = s.ws.WriteMessage(int(mt), data)
	}
	if err != nil {
		switch {
		case errors.Is(err, websocket.ErrCloseSent):
		case fanout && isTimeout(err):
			s.markClosing(ClosePolicyViolation, ReasonSlowConsumer, hooks.ByServer, errSlowConsumer)
			s.dropTCP()
		default:
			s.abort(err)
		}
		// ErrCloseSent: the reader has just answered the client's close
		// frame and is about to record the client's code; nothing failed.
		return ErrClosed
	}
	s.msgsOut.Add(1)
	s.bytesOut.Add(int64(len(data)))
	for _, ro := range s.route.live {
		ro.Sent(len(data))
	}
	return nil
}

// armWriteDeadline bounds the next write by the write timeout, counted
// from asked, when the write was asked for (zero: now): time spent waiting
// for another writer counts, so a Send never blocks much past the timeout
// (the mutex hands over in arrival order once waiters queue up). The
// library hands the deadline to the socket on every frame; while it is the
// same value the runtime leaves its timer alone, so it is only moved
// forward once an eighth of the timeout has passed: a write is then never
// allowed more than WriteTimeout, and at least 7/8 of it. Called with
// writeMu held.
func (s *Session) armWriteDeadline(asked time.Time) {
	timeout := s.route.srv.cfg.WriteTimeout
	if asked.IsZero() {
		asked = time.Now()
	}
	limit := asked.Add(timeout)
	if d := s.writeDeadline; d.After(limit) || limit.Sub(d) > timeout/8 {
		s.writeDeadline = limit
		_ = s.ws.SetWriteDeadline(limit)
	}
}

// abort ends a connection whose socket failed: no close frame can get
// through, so TCP is dropped at once and the reader winds the session down.
func (s *Session) abort(err error) {
	by := hooks.ByClient
	if isTimeout(err) {
		by = hooks.ByTimeout
	}
	s.markClosing(CloseAbnormalClosure, "", by, err)
	s.dropTCP()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// dropTCP closes the connection's TCP socket at once: the reader and any
// write in progress return with an error and the session winds down. It is
// safe from any goroutine at any time: s.tcp is this connection's own
// socket, and closing a closed one does nothing.
func (s *Session) dropTCP() { _ = s.tcp.Close() }
