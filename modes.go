package fiberws

// Mode is the direction of a WebSocket route, the Go form of revali's
// WebSocketMode. A route's mode follows from the constructor that built it,
// so a receive-only handler has no way to send and a send-only handler has
// no body parameter: mismatches are compile errors.
type Mode uint8

const (
	// ModeTwoWay routes (WebSocket, WebSocketStream, Ping) run their handler for
	// every message and send its result back. The connection stays open
	// until one side closes it.
	ModeTwoWay Mode = iota
	// ModeReceiveOnly routes (ReceiveOnly) run their handler for every message
	// and never send anything.
	ModeReceiveOnly
	// ModeSendOnly routes (SendOnly, SendOnlyStream) run their handler once, at
	// connect, send its result and close with 1000. Incoming data frames are
	// read and discarded.
	ModeSendOnly
)

// String returns "two-way", "receive-only" or "send-only".
func (m Mode) String() string {
	switch m {
	case ModeTwoWay:
		return "two-way"
	case ModeReceiveOnly:
		return "receive-only"
	case ModeSendOnly:
		return "send-only"
	}
	return "unknown"
}
