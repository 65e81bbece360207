package fiberws

import (
	"errors"
	"net"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
)

// emit runs an outgoing message through the post-interceptors (route,
// controller, app: reverse scope order) and writes it.
func (s *Session) emit(mt MessageType, data []byte) error {
	if s.state.Load() != stateOpen {
		return ErrClosed
	}
	if post := s.route.post; len(post) > 0 {
		// Interceptors may rewrite Data in place; data may alias a string.
		m := Message{Type: mt, Data: append([]byte(nil), data...)}
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
	return s.write(mt, data, nil)
}

func (s *Session) callPost(in Interceptor, m *Message) (err error) {
	defer recoverAs(&err)
	return in.Post(s.ctx, s, m)
}

// write sends one data frame: data as an mt frame, or pm when it is not
// nil. Writes of a connection are serialized here, each bounded by the
// write timeout; a failed write means the client cannot take data, so the
// connection is dropped.
func (s *Session) write(mt MessageType, data []byte, pm *websocket.PreparedMessage) error {
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
		if !errors.Is(err, websocket.ErrCloseSent) {
			s.abort(err)
		}
		// ErrCloseSent: the reader has just answered the client's close
		// frame and is about to record the client's code; nothing failed.
		return ErrClosed
	}
	s.msgsOut.Add(1)
	s.bytesOut.Add(int64(len(data)))
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
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		by = hooks.ByTimeout
	}
	s.markClosing(CloseAbnormalClosure, "", by, err)
	s.dropTCP()
}

// dropTCP closes the connection's TCP socket at once. s.ws.NetConn() is
// fasthttp's hijacked connection, whose Close does nothing (fasthttp closes
// the socket itself once the hijack handler, serve, has returned, unless
// the server keeps hijacked connections, which Fiber does not); so a
// "dropped" client that neither reads nor writes kept the reader blocked,
// the session open and its cleanups pending. UnsafeConn is the real
// socket: closing it makes the reader return and the session wind down.
// Call it only while serve runs, as abort and closeWith do: fasthttp reuses
// the hijacked connection object for another client afterwards.
func (s *Session) dropTCP() {
	nc := s.ws.NetConn()
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		nc = u.UnsafeConn()
	}
	_ = nc.Close()
}
