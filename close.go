package fiberws

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fasthttp/websocket"

	"github.com/fiberws/fiberws/hooks"
)

// Close codes of RFC 6455, section 7.4.1, that applications send or see.
const (
	CloseNormalClosure    = 1000
	CloseGoingAway        = 1001
	CloseProtocolError    = 1002
	CloseUnsupportedData  = 1003
	CloseNoStatusReceived = 1005 // seen only: the peer sent no code
	CloseAbnormalClosure  = 1006 // seen only: the TCP connection dropped
	CloseInvalidPayload   = 1007
	ClosePolicyViolation  = 1008
	CloseMessageTooBig    = 1009
	CloseMandatoryExt     = 1010
	CloseInternalError    = 1011
	CloseServiceRestart   = 1012
	CloseTryAgainLater    = 1013
	CloseBadGateway       = 1014
)

// MaxCloseReason is the longest close reason in bytes: a control frame
// carries at most 125 bytes, two of which are the code.
const MaxCloseReason = 123

// CloseError, returned by a handler (or a catcher's decision), closes the
// connection with Code and Reason. It is the Go form of revali's
// CloseWebSocketException.
//
//	return "", &fiberws.CloseError{Code: 4000, Reason: "quota exceeded"}
type CloseError struct {
	Code   int
	Reason string
}

// Error describes the close for logs.
func (e *CloseError) Error() string {
	return "fiberws: close " + strconv.Itoa(e.Code) + " " + strconv.Quote(e.Reason)
}

// ValidCloseCode reports whether an application may send code in a close
// frame: 1000–1003, 1007–1014 and 3000–4999. 1004–1006 and 1015 are
// reserved, 1016–2999 belong to future RFCs and 5000+ do not exist.
func ValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// truncateReason cuts reason to at most MaxCloseReason bytes without
// splitting a UTF-8 character, and drops invalid UTF-8 that would make the
// peer fail the close frame.
func truncateReason(reason string) string {
	if !utf8.ValidString(reason) {
		reason = toValidUTF8(reason)
	}
	if len(reason) <= MaxCloseReason {
		return reason
	}
	cut := MaxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

func toValidUTF8(s string) string {
	out := make([]byte, 0, len(s))
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		if r != utf8.RuneError || size != 1 {
			out = append(out, s[:size]...)
		}
		s = s[size:]
	}
	return string(out)
}

// closeWith is the one way a connection starts closing from this side:
// Close, catchers, send-only completion, ping timeouts and shutdown all
// come here. The first close wins.
func (s *Session) closeWith(code int, reason string, by hooks.ClosedBy, cause error) error {
	if !ValidCloseCode(code) {
		return ErrInvalidCloseCode
	}
	reason = truncateReason(reason)
	if !s.markClosing(code, reason, by, cause) {
		return ErrClosed
	}
	if _, ok := s.lockSocket(); !ok {
		return nil
	}
	defer s.writeMu.Unlock()
	deadline := time.Now().Add(s.route.srv.cfg.WriteTimeout)
	if err := s.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), deadline); err != nil {
		// The peer cannot even take a close frame: do not wait for its answer.
		s.dropTCP()
		return nil
	}
	// The reader goroutine waits for the peer's close frame; this bounds it.
	_ = s.ws.SetReadDeadline(time.Now().Add(s.route.srv.cfg.CloseTimeout))
	return nil
}

// lockSocket takes the write lock for a goroutine other than the reader
// that wants to touch the socket, and reports false (lock not held) once
// the connection has been released: after serve returns, fasthttp recycles
// the underlying connection object for another client, so a late ping or
// close frame must never reach it. asked is when the caller started to
// wait if the lock was busy (zero if it was free at once), so that the
// wait counts toward the write timeout.
func (s *Session) lockSocket() (asked time.Time, ok bool) {
	if !s.writeMu.TryLock() {
		asked = time.Now()
		s.writeMu.Lock()
	}
	if s.released {
		s.writeMu.Unlock()
		return asked, false
	}
	return asked, true
}

// release drops TCP and bars every other goroutine from the socket; the
// reader goroutine calls it once, when it stops reading. TCP is dropped
// before the write lock is taken, so a write stuck on a client that does
// not read fails at once instead of holding the drop up to its timeout.
func (s *Session) release() {
	s.dropTCP()
	s.writeMu.Lock()
	s.released = true
	s.writeMu.Unlock()
}

// markClosing moves the connection out of the open state, records why and
// cancels its context. It reports false if it was already closing.
func (s *Session) markClosing(code int, reason string, by hooks.ClosedBy, cause error) bool {
	if !s.state.CompareAndSwap(stateOpen, stateClosing) {
		return false
	}
	s.closeMu.Lock()
	s.closeCode, s.closeReason, s.closedBy, s.closeErr = code, reason, by, cause
	s.closeMu.Unlock()
	s.cancel()
	return true
}
