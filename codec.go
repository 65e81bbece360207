package fiberws

import (
	"reflect"
	"unsafe"

	"github.com/goccy/go-json"

	"github.com/fiberws/fiberws/hooks"
)

// A decoder turns a frame payload into a handler body. It is chosen once,
// when the route is built, from the body type: string and []byte take the
// payload as it is (copied, so the handler may keep it), pointers to them
// allocate, and every other type is JSON. It returns the body instead of
// filling a pointer so that string and []byte bodies cost one allocation
// (the copy) and nothing escapes to the heap.
type decoder[T any] func(data []byte) (T, error)

// An encoder turns a handler result into a frame. skip is true for a nil
// pointer, which sends nothing. The returned data may alias v (strings) and
// must not be modified or retained.
type encoder[T any] func(v T) (mt hooks.MessageType, data []byte, skip bool, err error)

func newDecoder[T any]() decoder[T] {
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
	case *None:
		return func([]byte) (T, error) { return zero, nil }
	}
	return func(data []byte) (T, error) {
		var v T
		// Not UnmarshalNoEscape/MarshalNoEscape: they hide the value from
		// the compiler and go-json then holds it only as a uintptr, so the
		// GC may free (or a stack move may strand) it mid-call. The soak
		// crashed on it (see TestCodecSurvivesGC).
		if err := json.Unmarshal(data, &v); err != nil {
			return v, &DecodeError{Err: err}
		}
		return v, nil
	}
}

func newEncoder[T any]() encoder[T] {
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
	case None:
		return func(T) (hooks.MessageType, []byte, bool, error) { return 0, nil, true, nil }
	case Event:
		return any(eventEncoder(JSONEvents)).(encoder[T])
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

// None is the body type of a handler that takes no message and the result
// type of one that sends nothing. A None result is never sent.
type None struct{}
