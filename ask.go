package fiberws

import (
	"context"
	"errors"
	"fmt"
	"github.com/fiberws/fiberws/hooks"
	"sync"
	"sync/atomic"
	"time"

	"github.com/goccy/go-json"
)

// ErrAskTimeout is returned by Ask when the client does not answer within
// the timeout; ErrTooManyAsks when the connection already has its
// maximum of Asks waiting (WithMaxPendingAsks).
var (
	ErrAskTimeout  = errors.New("fiberws: ask timeout: the client did not answer")
	ErrTooManyAsks = errors.New("fiberws: too many asks waiting on this connection")
)

// Ask sends the client an event with a request id and waits for its
// answer, an AckEvent carrying that id ({"event":"ack","id":N,"data":…}
// in JSONEvents), whose data it decodes into T. It is the server's side of
// a request/response over the socket: ask a browser to confirm, a device
// for its state. Call it from a handler or any goroutine.
//
// The wait is always bounded: timeout must be positive; Ask returns
// ErrAskTimeout when it passes, ctx's error when ctx ends first, ErrClosed
// when the connection closes, and ErrTooManyAsks at once when the
// connection already has WithMaxPendingAsks Asks waiting. An answer that
// comes too late, or for no Ask, is dropped. Answers are matched as soon
// as they are read, before the pre-interceptors and the queue of the
// connection's messages, so a handler may Ask and wait for the answer.
func Ask[T any](ctx context.Context, c *EventConn, event string, data any, timeout time.Duration) (T, error) {
	var zero T
	if timeout <= 0 {
		return zero, fmt.Errorf("fiberws: Ask needs a positive timeout, got %v", timeout)
	}
	a := c.asks
	if a == nil {
		return zero, errors.New("fiberws: Ask on a connection that is not an event route's")
	}
	id, answer, err := a.open()
	if err != nil {
		return zero, err
	}
	defer a.cancel(id)
	f := EventFrame{Event: event, ID: id, HasID: true}
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return zero, &encodeError{err}
		}
		f.Data = b
	}
	if err := c.emit(hooks.Text, a.format.Append(nil, f), event, false); err != nil {
		return zero, err
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case raw := <-answer:
		var v T
		if raw != nil {
			if err := json.Unmarshal(raw, &v); err != nil {
				return zero, &DecodeError{Err: err}
			}
		}
		return v, nil
	case <-timer.C:
		return zero, ErrAskTimeout
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-c.ctx.Done():
		return zero, ErrClosed
	}
}

// askTable holds a connection's Asks waiting for answers.
type askTable struct {
	format EventFormat
	limit  int
	// waiting is how many Asks wait: while none does, the reader does not
	// look for answers.
	waiting atomic.Int64
	acks    atomic.Int64 // answers received (Summary.Events)
	live    []hooks.RouteObserver

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan []byte
}

func newAskTable(format EventFormat, limit int, live []hooks.RouteObserver) *askTable {
	return &askTable{format: format, limit: limit, live: live}
}

// open registers a new Ask.
func (a *askTable) open() (uint64, chan []byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.pending) >= a.limit {
		return 0, nil, ErrTooManyAsks
	}
	if a.pending == nil {
		a.pending = map[uint64]chan []byte{}
	}
	a.next++
	ch := make(chan []byte, 1)
	a.pending[a.next] = ch
	a.waiting.Add(1)
	return a.next, ch, nil
}

func (a *askTable) cancel(id uint64) {
	a.mu.Lock()
	if _, ok := a.pending[id]; ok {
		delete(a.pending, id)
		a.waiting.Add(-1)
	}
	a.mu.Unlock()
}

// resolve hands an answer to its Ask, if one waits for it; counted says
// the answer is counted already.
func (a *askTable) resolve(f EventFrame, count bool) {
	if count {
		a.acks.Add(1)
		for _, ro := range a.live {
			ro.Event(AckEvent)
		}
	}
	if !f.HasID {
		return
	}
	a.mu.Lock()
	ch, ok := a.pending[f.ID]
	if ok {
		delete(a.pending, f.ID)
		a.waiting.Add(-1)
	}
	a.mu.Unlock()
	if ok {
		var data []byte
		if f.Data != nil {
			data = append([]byte{}, f.Data...) // the frame's buffer is reused
		}
		ch <- data
	}
}

// take is the reader's look at a frame while Asks wait: an answer is
// resolved at once (and reports true), anything else goes on its way.
func (a *askTable) take(frame []byte) bool {
	if a.waiting.Load() == 0 {
		return false
	}
	f, err := a.format.Parse(frame)
	if err != nil || f.Event != AckEvent {
		return false
	}
	a.resolve(f, true)
	return true
}
