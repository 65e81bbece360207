package fiberws

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by Send and Close once the connection is closing or
// closed.
var ErrClosed = errors.New("fiberws: connection closed")

// ErrInvalidCloseCode is returned by Close for a code an application may not
// send (allowed: 1000–1003, 1007–1014, 3000–4999).
var ErrInvalidCloseCode = errors.New("fiberws: invalid close code")

// DecodeError reports an incoming message that did not decode into the
// handler's body type. Unless a catcher handles it, the connection closes
// with 1007 "invalid message payload".
type DecodeError struct {
	// Err is the underlying decoding error.
	Err error
}

// Error describes the failure for logs; it is never sent to the client.
func (e *DecodeError) Error() string { return "fiberws: invalid message payload: " + e.Err.Error() }

// Unwrap returns the underlying decoding error.
func (e *DecodeError) Unwrap() error { return e.Err }

// PanicError wraps a value recovered from a panicking handler, interceptor
// or catcher. The connection closes with 1011 "internal error"; the value
// and stack are logged, never sent.
type PanicError struct {
	Value any
	Stack []byte
}

// Error describes the panic for logs.
func (e *PanicError) Error() string { return fmt.Sprintf("fiberws: panic: %v", e.Value) }
