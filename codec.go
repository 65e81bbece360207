package fiberws

import (
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/internal/codec"
)

// decoder and encoder are a route's codecs (internal/codec), chosen once
// from the handler's body and result types; None and Event are fiberws's
// own cases.
type decoder[T any] func(data []byte) (T, error)

type encoder[T any] func(v T) (mt hooks.MessageType, data []byte, skip bool, err error)

func newDecoder[T any]() decoder[T] {
	var zero T
	if _, ok := any(&zero).(*None); ok {
		return func([]byte) (T, error) { return zero, nil }
	}
	return decoder[T](codec.NewDecoder[T](func(err error) error { return &DecodeError{Err: err} }))
}

func newEncoder[T any]() encoder[T] {
	var zero T
	switch any(zero).(type) {
	case None:
		return func(T) (hooks.MessageType, []byte, bool, error) { return 0, nil, true, nil }
	case Event:
		return any(eventEncoder(JSONEvents)).(encoder[T])
	}
	return encoder[T](codec.NewEncoder[T]())
}

// None is the body type of a handler that takes no message and the result
// type of one that sends nothing. A None result is never sent.
type None struct{}
