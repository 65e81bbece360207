package fiberws

import (
	"context"
	"errors"
	"iter"

	"github.com/fiberws/fiberws/hooks"
)

// The typed message handlers, one per route shape. Each is made once per
// connection by Route.bind and called by the message loop; generics keep
// the body and result types concrete, so nothing here reflects.

// decodeBody is the body a handler of In gets for m: none for the
// on-connect trigger; otherwise the decoded payload, validated when the
// route validates.
func decodeBody[In any](s *Session, dec decoder[In], m *hooks.Message) (In, error) {
	var in In
	if m.Connect {
		return in, nil
	}
	in, err := dec(m.Data)
	if err == nil && s.route.validator != nil {
		err = validateBody(s, in)
	}
	return in, err
}

type twoWay[In, Out any] struct {
	c   *Conn[Out]
	h   func(context.Context, *Conn[Out], In) (Out, error)
	dec decoder[In]
}

func (t *twoWay[In, Out]) handle(ctx context.Context, m *hooks.Message) error {
	in, err := decodeBody(t.c.Session, t.dec, m)
	if err != nil {
		return err
	}
	out, err := t.h(ctx, t.c, in)
	if err != nil {
		return err
	}
	return ignoreClosed(t.c.Send(out))
}

func (t *twoWay[In, Out]) conn() any { return t.c }

type twoWayStream[In, Out any] struct {
	c   *Conn[Out]
	h   func(context.Context, *Conn[Out], In) (iter.Seq[Out], error)
	dec decoder[In]
}

func (t *twoWayStream[In, Out]) handle(ctx context.Context, m *hooks.Message) error {
	in, err := decodeBody(t.c.Session, t.dec, m)
	if err != nil {
		return err
	}
	seq, err := t.h(ctx, t.c, in)
	if err != nil || seq == nil {
		return err
	}
	return sendAll(t.c, seq)
}

func (t *twoWayStream[In, Out]) conn() any { return t.c }

type receiveOnly[In any] struct {
	s   *Session
	h   func(context.Context, *Session, In) error
	dec decoder[In]
}

func (r *receiveOnly[In]) handle(ctx context.Context, m *hooks.Message) error {
	in, err := decodeBody(r.s, r.dec, m)
	if err != nil {
		return err
	}
	return r.h(ctx, r.s, in)
}

func (r *receiveOnly[In]) conn() any { return nil }

type sendOnly[Out any] struct {
	c *Conn[Out]
	h func(context.Context, *Conn[Out]) (Out, error)
}

func (s *sendOnly[Out]) handle(ctx context.Context, _ *hooks.Message) error {
	out, err := s.h(ctx, s.c)
	if err != nil {
		return err
	}
	return ignoreClosed(s.c.Send(out))
}

func (s *sendOnly[Out]) conn() any { return s.c }

type sendOnlyStream[Out any] struct {
	c *Conn[Out]
	h func(context.Context, *Conn[Out]) (iter.Seq[Out], error)
}

func (s *sendOnlyStream[Out]) handle(ctx context.Context, _ *hooks.Message) error {
	seq, err := s.h(ctx, s.c)
	if err != nil || seq == nil {
		return err
	}
	return sendAll(s.c, seq)
}

func (s *sendOnlyStream[Out]) conn() any { return s.c }

// sendAll sends each element of seq in order and stops iterating as soon as
// the connection closes or a send fails.
func sendAll[Out any](c *Conn[Out], seq iter.Seq[Out]) error {
	var err error
	seq(func(v Out) bool {
		if c.state.Load() != stateOpen {
			return false
		}
		err = c.Send(v)
		return err == nil
	})
	return ignoreClosed(err)
}

// ignoreClosed drops ErrClosed: a handler that closed the connection (or
// whose client left) and then returned a result did nothing wrong.
func ignoreClosed(err error) error {
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}
