// Package codec turns frame payloads into handler bodies and handler
// results into frames, for the body types every route shape shares:
// string and []byte (text and binary frames, as they are), pointers to
// them, and JSON (go-json) for every other type. The choice is made once
// per type, when a route is built, so nothing reflects per message.
package codec

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/goccy/go-json"

	"github.com/fiberws/fiberws/hooks"
)

// A Decoder turns a frame payload into a handler body. It returns the body
// instead of filling a pointer so that string and []byte bodies cost one
// allocation (the copy, so the handler may keep it) and nothing escapes to
// the heap.
type Decoder[T any] func(data []byte) (T, error)

// An Encoder turns a handler result into a frame. skip is true for a nil
// pointer, which sends nothing. The returned data may alias v (strings) and
// must not be modified or retained.
type Encoder[T any] func(v T) (mt hooks.MessageType, data []byte, skip bool, err error)

// NewDecoder is T's decoder: string and []byte take the payload as it is
// (copied), pointers to them allocate, and every other type is JSON, whose
// errors go through wrap.
func NewDecoder[T any](wrap func(error) error) Decoder[T] {
	var zero T
	switch any(&zero).(type) {
	case *string:
		return func(data []byte) (T, error) {
			return any(string(data)).(T), nil
		}
	case *[]byte:
		return func(data []byte) (T, error) {
			return any(append([]byte(nil), data...)).(T), nil
		}
	case **string:
		return func(data []byte) (T, error) {
			s := string(data)
			return any(&s).(T), nil
		}
	case **[]byte:
		return func(data []byte) (T, error) {
			b := append([]byte(nil), data...)
			return any(&b).(T), nil
		}
	}
	return func(data []byte) (v T, err error) {
		// go-json v0.10.5 walks past the end of its buffer on an object key
		// with a bad or dangling escape (e.g. {"a\ ; goccy/go-json issues
		// 575, 577, 604, open): a panic, a fatal checkptr error under -race,
		// and state left in its pools for the next decode. Valid JSON never
		// gets there, so input with a backslash is first checked by
		// encoding/json; the scan for one is all other messages pay.
		if bytes.IndexByte(data, '\\') >= 0 && !stdjson.Valid(data) {
			return v, wrap(errInvalidJSON)
		}
		defer func() {
			// Any other panic of go-json on client input is bad input too.
			if r := recover(); r != nil {
				var zero T
				v, err = zero, wrap(fmt.Errorf("go-json: %v", r))
			}
		}()
		// Not UnmarshalNoEscape/MarshalNoEscape: they hide the value from
		// the compiler and go-json then holds it only as a uintptr, so the
		// GC may free (or a stack move may strand) it mid-call.
		if err := json.Unmarshal(data, &v); err != nil {
			return v, wrap(err)
		}
		return v, nil
	}
}

// errInvalidJSON is the decode error of input encoding/json refuses.
var errInvalidJSON = errors.New("invalid JSON")

// NewEncoder is T's encoder: string is a text frame, []byte a binary one,
// a nil pointer nothing, every other type JSON text.
func NewEncoder[T any]() Encoder[T] {
	var zero T
	switch any(zero).(type) {
	case string:
		return func(v T) (hooks.MessageType, []byte, bool, error) {
			s := any(v).(string)
			return hooks.Text, unsafe.Slice(unsafe.StringData(s), len(s)), false, nil
		}
	case []byte:
		return func(v T) (hooks.MessageType, []byte, bool, error) {
			return hooks.Binary, any(v).([]byte), false, nil
		}
	case *string:
		return func(v T) (hooks.MessageType, []byte, bool, error) {
			p := any(v).(*string)
			if p == nil {
				return 0, nil, true, nil
			}
			return hooks.Text, unsafe.Slice(unsafe.StringData(*p), len(*p)), false, nil
		}
	case *[]byte:
		return func(v T) (hooks.MessageType, []byte, bool, error) {
			p := any(v).(*[]byte)
			if p == nil {
				return 0, nil, true, nil
			}
			return hooks.Binary, *p, false, nil
		}
	}
	jsonEncode := func(v T) (hooks.MessageType, []byte, bool, error) {
		data, err := json.Marshal(v)
		return hooks.Text, data, false, err
	}
	if reflect.TypeFor[T]().Kind() == reflect.Pointer {
		// T is a pointer type, so its value is one machine word: reading it
		// as unsafe.Pointer tells nil without reflection per message.
		return func(v T) (hooks.MessageType, []byte, bool, error) {
			if *(*unsafe.Pointer)(unsafe.Pointer(&v)) == nil {
				return 0, nil, true, nil
			}
			return jsonEncode(v)
		}
	}
	return jsonEncode
}
