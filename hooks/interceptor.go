package hooks

import "context"

// Interceptor wraps every message of a connection.
//
// Pre runs before the handler for each incoming message (and once for the
// on-connect trigger, with Message.Connect set). It may rewrite m in place,
// return ErrDrop to skip the message silently, or return another error to
// reject it: the error goes to the catchers, which decide whether the
// connection closes.
//
// Post runs for each outgoing message — replies, stream elements and sends
// from other goroutines — in reverse scope order, on the goroutine that
// sends. It may rewrite m, return ErrDrop to discard it, or return an error
// for the catchers.
type Interceptor interface {
	Pre(ctx context.Context, p Peer, m *Message) error
	Post(ctx context.Context, p Peer, m *Message) error
}

// PreFunc is an Interceptor with only a Pre step.
type PreFunc func(ctx context.Context, p Peer, m *Message) error

// Pre calls f.
func (f PreFunc) Pre(ctx context.Context, p Peer, m *Message) error { return f(ctx, p, m) }

// Post does nothing.
func (PreFunc) Post(context.Context, Peer, *Message) error { return nil }

// PostFunc is an Interceptor with only a Post step.
type PostFunc func(ctx context.Context, p Peer, m *Message) error

// Pre does nothing.
func (PostFunc) Pre(context.Context, Peer, *Message) error { return nil }

// Post calls f.
func (f PostFunc) Post(ctx context.Context, p Peer, m *Message) error { return f(ctx, p, m) }
