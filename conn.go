package fiberws

// Conn is a connection that sends messages of type T: the handler's result
// type, checked by the compiler. It is the Go form of revali's
// AsyncWebSocketSender<T>, and embeds *Session for everything but sending.
type Conn[T any] struct {
	*Session
	enc encoder[T]
	// events is set on an event route's Conn[Event]: Send tells the
	// post-interceptors each Event's name.
	events bool
}

// Send encodes v like a handler result (string: text frame, []byte: binary
// frame, nil pointer: nothing, anything else: JSON text) and writes it after
// the post-interceptors. It may be called from any goroutine while the
// connection lives; writes are serialized. It returns ErrClosed once the
// connection is closing, and never blocks longer than Config.WriteTimeout:
// a client that does not take the frame in time is dropped.
//
// Errors (encoding, a post-interceptor's rejection) are returned, not
// handed to the catchers: return them from the handler, as a handler's
// own errors, for the catchers to decide; from another goroutine, pass
// them to Fail.
func (c *Conn[T]) Send(v T) error {
	mt, data, skip, err := c.enc(v)
	if err != nil {
		return &encodeError{err}
	}
	if skip {
		return nil
	}
	event := ""
	if c.events {
		event = any(v).(Event).Name
	}
	return c.emit(mt, data, event, false)
}

// SendPrepared writes p like Send writes a value: through the route's
// post-interceptors (which then see a copy and the prepared frame is not
// reused), serialized with the connection's other writes, bounded by the
// write timeout. It returns ErrClosed once the connection is closing, and
// a post-interceptor's error as Send does (Fail hands it to the catchers).
// A write that times out closes the connection as a slow consumer (1008,
// TCP dropped).
//
// It takes any prepared message, whatever T: a fan-out mixes routes.
func (c *Conn[T]) SendPrepared(p *PreparedMessage) error {
	return c.sendPrepared(p)
}

type encodeError struct{ err error }

// Error describes the failure for logs.
func (e *encodeError) Error() string { return "fiberws: encode result: " + e.err.Error() }

// Unwrap returns the encoder's error.
func (e *encodeError) Unwrap() error { return e.err }
