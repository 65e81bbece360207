package fiberws

import "github.com/fiberws/fiberws/hooks"

// The lifecycle types live in package hooks so that hook libraries need not
// import fiberws; these aliases let application code use one import.
type (
	// MessageType is Text or Binary.
	MessageType = hooks.MessageType
	// Message is a raw frame as interceptors see it.
	Message = hooks.Message
	// Observer watches connection requests and summaries.
	Observer = hooks.Observer
	// Guard decides before the upgrade whether a request may connect.
	Guard = hooks.Guard
	// GuardFunc turns a func(*fiber.Ctx) error into a Guard.
	GuardFunc = hooks.GuardFunc
	// Interceptor runs before the handler for each incoming message and
	// after it for each outgoing one.
	Interceptor = hooks.Interceptor
	// Catcher turns an error into an Outcome.
	Catcher = hooks.Catcher
	// Outcome is a catcher's decision: close, or reply and stay open.
	Outcome = hooks.Outcome
	// Summary is the account of one connection handed to observers.
	Summary = hooks.Summary
	// ClosedBy tells which side ended a connection.
	ClosedBy = hooks.ClosedBy
)

const (
	// Text is a UTF-8 text frame.
	Text = hooks.Text
	// Binary is a binary frame.
	Binary = hooks.Binary
)
