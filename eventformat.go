package fiberws

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/goccy/go-json"
)

// EventFrame is one message of an event route as its EventFormat reads and
// writes it: the event's name, its data as JSON (nil when there is none),
// and the request id the client may attach (HasID) to get an
// acknowledgement. The names AckEvent and ErrorEvent are reserved: a
// format maps its own way of saying "acknowledgement" and "error" to them.
type EventFrame struct {
	Event string
	Data  []byte
	ID    uint64
	HasID bool
}

// EventFormat is the framing of an event route (Events, WithEventFormat):
// how a frame names its event, carries its data and its id. The default,
// JSONEvents, is {"event": NAME, "data": …, "id": N}; implement it for
// apps with their own framing. Data stays JSON either way: the handlers'
// types are decoded and encoded with go-json.
type EventFormat interface {
	// Parse reads a text frame. Event and Data may alias frame: they are
	// used while the message is handled, never kept. A frame that is not
	// an event at all is an error (the connection closes with 1007).
	Parse(frame []byte) (EventFrame, error)
	// Append appends f, framed, to dst.
	Append(dst []byte, f EventFrame) []byte
}

// AckEvent is the event a client answers an Ask with, carrying the ask's
// id; ErrorEvent is the event of error replies.
const (
	AckEvent   = "ack"
	ErrorEvent = "error"
)

// JSONEvents is the default EventFormat: a JSON object with "event" (a
// string), optional "data" (any JSON value) and optional "id" (a
// non-negative integer below 2^64); other keys are ignored.
//
//	{"event":"add","data":{"a":2,"b":40},"id":1}
var JSONEvents EventFormat = jsonEvents{}

type jsonEvents struct{}

// errNotEvent is a frame that is not an event envelope.
var errNotEvent = errors.New("not an event envelope")

// Parse scans the envelope without decoding data: data is skipped over
// (strings and brackets matched, nothing more) and handed on as it is, for
// the event's handler to decode, strictly, into its type. Values of other
// keys are skipped the same way.
func (jsonEvents) Parse(frame []byte) (EventFrame, error) {
	var f EventFrame
	i := skipSpace(frame, 0)
	if i >= len(frame) || frame[i] != '{' {
		return f, errNotEvent
	}
	haveEvent := false
	for {
		i = skipSpace(frame, i+1)
		if i >= len(frame) || frame[i] != '"' {
			return f, errNotEvent
		}
		end, esc := stringEnd(frame, i+1)
		if end < 0 {
			return f, errNotEvent
		}
		key := frame[i+1 : end]
		if esc {
			key = unescape(key)
		}
		i = skipSpace(frame, end+1)
		if i >= len(frame) || frame[i] != ':' {
			return f, errNotEvent
		}
		i = skipSpace(frame, i+1)
		if i >= len(frame) {
			return f, errNotEvent
		}
		switch string(key) {
		case "event":
			if frame[i] != '"' {
				return f, errNotEvent
			}
			end, esc := stringEnd(frame, i+1)
			if end < 0 {
				return f, errNotEvent
			}
			name := frame[i+1 : end]
			if esc {
				name = unescape(name)
			}
			if !validName(name) {
				return f, errNotEvent
			}
			f.Event, haveEvent = unsafe.String(unsafe.SliceData(name), len(name)), true
			i = end + 1
		case "id":
			if end := i + 4; end <= len(frame) && string(frame[i:end]) == "null" {
				f.ID, f.HasID, i = 0, false, end
				break
			}
			id, end, ok := parseUint(frame, i)
			if !ok {
				return f, errNotEvent
			}
			f.ID, f.HasID, i = id, true, end
		default:
			end := skipValue(frame, i)
			if end < 0 {
				return f, errNotEvent
			}
			if string(key) == "data" {
				f.Data = frame[i:end]
			}
			i = end
		}
		i = skipSpace(frame, i)
		if i >= len(frame) {
			return f, errNotEvent
		}
		if frame[i] == ',' {
			continue
		}
		if frame[i] != '}' {
			return f, errNotEvent
		}
		break
	}
	if skipSpace(frame, i+1) != len(frame) || !haveEvent {
		return f, errNotEvent
	}
	return f, nil
}

// parseCommon reads the layouts clients send almost always, compact, in
// this key order: {"event":"NAME","data":DATA,"id":N}, without data or
// id, fast: it takes DATA to be whatever lies between "data": and the
// trailing id (or the closing brace) without looking at it. It reports
// false for any other frame. Its result is only a guess until DATA
// decodes as one JSON value: the decoder, which reads DATA anyway, then
// confirms it (the rest of the frame was read exactly); when it does not,
// Parse must read the frame again (eventHandler does).
func parseCommon(frame []byte) (f EventFrame, ok bool) {
	const head = `{"event":"`
	if len(frame) < len(head)+2 || string(frame[:len(head)]) != head || frame[len(frame)-1] != '}' {
		return f, false
	}
	i := len(head)
	for i < len(frame) && frame[i] != '"' {
		if frame[i] == '\\' || frame[i] < ' ' {
			return f, false
		}
		i++
	}
	if i >= len(frame) || !validName(frame[len(head):i]) {
		return f, false
	}
	name := frame[len(head):i]
	rest := frame[i+1 : len(frame)-1] // between the name's quote and the closing brace
	const dataKey, idKey = `,"data":`, `,"id":`
	if idAt := trailingID(rest); idAt >= 0 {
		id, end, ok := parseUint(rest, idAt+len(idKey))
		if !ok || end != len(rest) {
			return f, false
		}
		f.ID, f.HasID = id, true
		rest = rest[:idAt]
	}
	switch {
	case len(rest) == 0:
	case len(rest) > len(dataKey) && string(rest[:len(dataKey)]) == dataKey:
		f.Data = rest[len(dataKey):]
		if skipSpace(f.Data, 0) != 0 || skipSpace(f.Data, len(f.Data)-1) == len(f.Data) {
			return f, false // not compact: Parse trims the space around DATA
		}
	default:
		return f, false
	}
	f.Event = unsafe.String(unsafe.SliceData(name), len(name))
	return f, true
}

// trailingID returns where b ends with ,"id":DIGITS, or -1.
func trailingID(b []byte) int {
	j := len(b)
	for j > 0 && b[j-1] >= '0' && b[j-1] <= '9' {
		j--
	}
	const idKey = `,"id":`
	if j == len(b) || j < len(idKey) || string(b[j-len(idKey):j]) != idKey {
		return -1
	}
	return j - len(idKey)
}

// Append writes {"event":NAME,"data":DATA,"id":N}, leaving out data and id
// when f has none.
func (jsonEvents) Append(dst []byte, f EventFrame) []byte {
	dst = append(dst, `{"event":`...)
	dst = appendJSONString(dst, f.Event)
	if f.Data != nil {
		dst = append(dst, `,"data":`...)
		dst = append(dst, f.Data...)
	}
	if f.HasID {
		dst = append(dst, `,"id":`...)
		dst = strconv.AppendUint(dst, f.ID, 10)
	}
	return append(dst, '}')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, so the frame stays valid text.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}

// unescape decodes a JSON string's contents that hold escapes; what does
// not decode is left as it is (and then matches no event name).
func unescape(raw []byte) []byte {
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return raw
	}
	return []byte(s)
}

// skipSpace returns the index of the first byte at or after i that is
// not JSON whitespace. Compact JSON has none: one comparison tells.
func skipSpace(b []byte, i int) int {
	for i < len(b) && b[i] <= ' ' && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index of the quote that ends the string whose
// contents start at i (-1 if none), and whether it holds escapes. A plain
// loop: event names, keys and the strings of small data are short, where
// bytes.IndexByte's call costs more than it saves.
func stringEnd(b []byte, i int) (end int, escaped bool) {
	for i < len(b) {
		switch b[i] {
		case '"':
			return i, escaped
		case '\\':
			escaped = true
			i += 2
			continue
		}
		i++
	}
	return -1, false
}

// skipValue returns the index right after the JSON value starting at i,
// or -1: strings end at their closing quote, objects and arrays at their
// matching bracket (strings inside them skipped whole), anything else at
// the next delimiter. It checks no more than that; work is linear.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i+1)
		if end < 0 {
			return -1
		}
		return end + 1
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end := quoteEnd(b, j+1)
				if end < 0 {
					return -1
				}
				j = end
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			if j == i {
				return -1
			}
			return j
		}
		j++
	}
	return -1
}

// quoteEnd is stringEnd for strings of any length inside data: the
// closing quote found with bytes.IndexByte, skipping escaped quotes.
func quoteEnd(b []byte, i int) int {
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		end := i + j
		n := 0 // backslashes right before the quote
		for k := end - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return end
		}
		i = end + 1
	}
}

// parseUint reads a non-negative integer (no sign, fraction, exponent or
// leading zero) below 2^64 at i; it returns the index after it.
func parseUint(b []byte, i int) (n uint64, end int, ok bool) {
	end = i
	for end < len(b) && b[end] >= '0' && b[end] <= '9' {
		d := uint64(b[end] - '0')
		if n > (math.MaxUint64-d)/10 {
			return 0, 0, false // overflows
		}
		n = n*10 + d
		end++
	}
	if end == i || (b[i] == '0' && end-i > 1) {
		return 0, 0, false
	}
	if end < len(b) && (b[end] == '.' || b[end] == 'e' || b[end] == 'E') {
		return 0, 0, false
	}
	return n, end, true
}

// validName reports whether an event name is valid UTF-8, with a quick
// path for ASCII names.
func validName(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return utf8.Valid(b)
		}
	}
	return true
}
