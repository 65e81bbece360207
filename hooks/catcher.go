package hooks

import (
	"context"
	"errors"
)

// Outcome is what a catcher decides to do with an error: close the
// connection with a code and reason, or send a reply and keep it open.
// Build one with CloseWith, Reply or ReplyBinary.
type Outcome struct {
	// Close, when true, closes the connection with Code and Reason.
	Close  bool
	Code   int
	Reason string
	// Reply, when Close is false, is sent to the client as is (the
	// post-interceptors do not see it) and the connection stays open.
	// A nil Reply keeps the connection open and sends nothing.
	Reply *Message
}

// CloseWith closes the connection with code and reason.
func CloseWith(code int, reason string) Outcome {
	return Outcome{Close: true, Code: code, Reason: reason}
}

// Reply sends text to the client and keeps the connection open.
func Reply(text string) Outcome {
	return Outcome{Reply: &Message{Type: Text, Data: []byte(text)}}
}

// ReplyBinary sends data as a binary frame and keeps the connection open.
func ReplyBinary(data []byte) Outcome {
	return Outcome{Reply: &Message{Type: Binary, Data: data}}
}

// Ignore keeps the connection open and sends nothing.
func Ignore() Outcome { return Outcome{} }

// Catcher turns an error raised while handling a connection (decoding,
// a pre- or post-interceptor, the handler) into an Outcome. It returns
// handled=false to pass the error on to the next catcher.
type Catcher interface {
	Catch(ctx context.Context, p Peer, err error) (out Outcome, handled bool)
}

// CatcherFunc turns a function into a Catcher.
type CatcherFunc func(ctx context.Context, p Peer, err error) (Outcome, bool)

// Catch calls f.
func (f CatcherFunc) Catch(ctx context.Context, p Peer, err error) (Outcome, bool) {
	return f(ctx, p, err)
}

// CatchAs builds a catcher for one error type: it handles every error that
// errors.As can turn into E and passes the others on.
//
//	hooks.CatchAs(func(ctx context.Context, p hooks.Peer, err *json.SyntaxError) hooks.Outcome {
//		return hooks.Reply("bad JSON")
//	})
func CatchAs[E error](f func(ctx context.Context, p Peer, err E) Outcome) Catcher {
	return CatcherFunc(func(ctx context.Context, p Peer, err error) (Outcome, bool) {
		var target E
		if errors.As(err, &target) {
			return f(ctx, p, target), true
		}
		return Outcome{}, false
	})
}

// CatchIs builds a catcher that handles errors matching target with
// errors.Is and passes the others on.
func CatchIs(target error, f func(ctx context.Context, p Peer, err error) Outcome) Catcher {
	return CatcherFunc(func(ctx context.Context, p Peer, err error) (Outcome, bool) {
		if errors.Is(err, target) {
			return f(ctx, p, err), true
		}
		return Outcome{}, false
	})
}
