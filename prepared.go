package fiberws

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws/hooks"
)

// PreparedMessage is a message encoded and framed once, to be sent to many
// connections: what a broadcast uses so that N receivers cost one encode.
// Make one with Prepare and send it with Conn.SendPrepared.
//
// Framing is lazy: the first receiver gets a plain write, and the frame is
// built once when a second one is sent to, so a message for one member
// (hub.Send) costs what Conn.Send does, not a broadcast's preparation.
type PreparedMessage struct {
	mt    hooks.MessageType
	data  []byte
	event string // the Event's name, for a prepared Event

	sends atomic.Int64 // receivers written to so far (see framed)
	once  sync.Once
	pm    *websocket.PreparedMessage
}

// Prepare encodes v as a handler result would be (string: text, []byte:
// binary, others: JSON text; an Event framed in JSONEvents). A nil pointer
// gives a nil PreparedMessage, which SendPrepared ignores.
func Prepare[T any](v T) (*PreparedMessage, error) {
	mt, data, skip, err := newEncoder[T]()(v)
	if err != nil {
		return nil, &encodeError{err}
	}
	if skip {
		return nil, nil
	}
	p := &PreparedMessage{mt: mt, data: append([]byte(nil), data...)}
	if ev, ok := any(v).(Event); ok {
		p.event = ev.Name
	}
	return p, nil
}

// Type is Text or Binary.
func (p *PreparedMessage) Type() hooks.MessageType { return p.mt }

// Data is the encoded payload; do not modify it.
func (p *PreparedMessage) Data() []byte { return p.data }

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
	// Fail hands an error of a delivery to the connection's catchers
	// (Session.Fail).
	Fail(err error)
	// CloseSlowConsumer drops a connection that does not keep up.
	CloseSlowConsumer() error
	// WriteTimeout bounds each write to the connection: a fan-out whose
	// writes to it make no progress for that long gives up on it.
	WriteTimeout() time.Duration
	// Closed reports whether the connection is closing or closed.
	Closed() bool
}

var _ Receiver = (*Conn[string])(nil)

func (s *Session) sendPrepared(p *PreparedMessage) error {
	if p == nil {
		return nil
	}
	if len(s.route.post) > 0 {
		return s.emit(p.mt, p.data, p.event, true)
	}
	return s.write(p.mt, p.data, p.framed(), true)
}

// framed is the frame to write, built at the second receiver (nil: write
// the data plainly, as for the first receiver, or should framing fail).
func (p *PreparedMessage) framed() *websocket.PreparedMessage {
	if p.sends.Add(1) == 1 {
		return nil
	}
	p.once.Do(func() {
		p.pm, _ = websocket.NewPreparedMessage(int(p.mt), p.data)
	})
	return p.pm
}

// NewPreparedMessage frames data, already encoded, as an mt message (Text
// or Binary), for payloads that arrive encoded, such as a broadcast
// received from another node. Text must be valid UTF-8. data is kept, not
// copied: do not modify it afterwards.
func NewPreparedMessage(mt hooks.MessageType, data []byte) (*PreparedMessage, error) {
	switch {
	case mt != hooks.Text && mt != hooks.Binary:
		return nil, fmt.Errorf("fiberws: prepared message type %d: want Text or Binary", mt)
	case mt == hooks.Text && !utf8.Valid(data):
		return nil, errors.New("fiberws: prepared text message is not valid UTF-8")
	}
	return &PreparedMessage{mt: mt, data: data}, nil
}
