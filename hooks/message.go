package hooks

import "errors"

// MessageType tells whether a WebSocket data frame is text or binary. The
// values are those of RFC 6455 (and of fasthttp/websocket).
type MessageType int

const (
	// Text is a UTF-8 text frame.
	Text MessageType = 1
	// Binary is a binary frame.
	Binary MessageType = 2
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case Text:
		return "text"
	case Binary:
		return "binary"
	}
	return "unknown"
}

// Message is one incoming or outgoing WebSocket message as the interceptors
// see it: the raw frame, before decoding (incoming) or after encoding
// (outgoing). An interceptor may replace Type and Data to rewrite it.
//
// Data is only valid during the call; keep a copy to retain it.
type Message struct {
	// Type is Text or Binary.
	Type MessageType
	// Data is the frame payload.
	Data []byte
	// Connect is true for the on-connect trigger, which has no payload:
	// the handler then runs with the zero body (nil for pointer bodies).
	Connect bool
	// Event is the event name of a message of an event route
	// (fiberws.Events): incoming, the name the frame carries ("" when it
	// is no event envelope); outgoing, the event sent (an acknowledgement
	// carries its request's name, an error reply "error"). Like Data, it
	// is only valid during the call. Other routes leave it empty.
	Event string
}

// ErrDrop, returned by an interceptor, silently discards the message: an
// incoming message is not handed to the handler, an outgoing one is not
// sent. No catcher runs and the connection stays open.
var ErrDrop = errors.New("fiberws: message dropped")
