package fiberws

import (
	"errors"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
)

// PreparedMessage is a message encoded and framed once, to be sent to many
// connections: what a broadcast uses so that N receivers cost one encode.
// Make one with Prepare and send it with Conn.SendPrepared.
type PreparedMessage struct {
	mt   MessageType
	data []byte
	pm   *websocket.PreparedMessage
}

// Prepare encodes v as a handler result would be (string: text, []byte:
// binary, others: JSON text). A nil pointer gives a nil PreparedMessage,
// which SendPrepared ignores.
func Prepare[T any](v T) (*PreparedMessage, error) {
	mt, data, skip, err := newEncoder[T]()(v)
	if err != nil {
		return nil, &encodeError{err}
	}
	if skip {
		return nil, nil
	}
	data = append([]byte(nil), data...)
	pm, err := websocket.NewPreparedMessage(int(mt), data)
	if err != nil {
		return nil, err
	}
	return &PreparedMessage{mt: mt, data: data, pm: pm}, nil
}

// Type is Text or Binary.
func (p *PreparedMessage) Type() MessageType { return p.mt }

// Data is the encoded payload; do not modify it.
func (p *PreparedMessage) Data() []byte { return p.data }

// SendPrepared writes p like Send writes a value: through the route's
// post-interceptors (which then see a copy and the prepared frame is not
// reused), serialized with the connection's other writes, bounded by the
// write timeout. It returns ErrClosed once the connection is closing.
//
// It takes any prepared message, whatever T: a fan-out mixes routes.
func (c *Conn[T]) SendPrepared(p *PreparedMessage) error {
	return c.sendPrepared(p)
}

// Receiver is a connection that a fan-out (package hub, or your own) can
// deliver prepared messages to: any *Conn[T]. A receive-only route's
// *Session is not a Receiver, so it cannot be sent to by mistake.
type Receiver interface {
	// ID identifies the connection (Session.ID).
	ID() uint64
	// SendPrepared writes a prepared message (Conn.SendPrepared).
	SendPrepared(p *PreparedMessage) error
	// Cleanup registers work for when the connection closes.
	Cleanup(f func())
	// CloseSlowConsumer drops a connection that does not keep up.
	CloseSlowConsumer() error
	// Closed reports whether the connection is closing or closed.
	Closed() bool
}

var _ Receiver = (*Conn[string])(nil)

func (s *Session) sendPrepared(p *PreparedMessage) error {
	if p == nil {
		return nil
	}
	var err error
	if len(s.route.post) > 0 {
		err = s.emit(p.mt, p.data)
	} else {
		err = s.write(p.mt, p.data, p.pm)
	}
	if err != nil && err != ErrClosed {
		s.fail(err)
	}
	return err
}

// errSlowConsumer is the cause recorded when a connection is closed for
// not keeping up with what is sent to it.
var errSlowConsumer = errors.New("fiberws: slow consumer")

// CloseSlowConsumer closes the connection with 1008 "slow consumer": the
// code fiberws uses for a client that does not read fast enough (its
// outgoing queue filled up). The hub calls it; so can your own fan-out.
func (s *Session) CloseSlowConsumer() error {
	return s.closeWith(ClosePolicyViolation, "slow consumer", hooks.ByServer, errSlowConsumer)
}

// Closed reports whether the connection is closing or closed.
func (s *Session) Closed() bool { return s.state.Load() != stateOpen }

// WriteTimeout is the bound on each write of this connection.
func (s *Session) WriteTimeout() time.Duration { return s.route.srv.cfg.WriteTimeout }
