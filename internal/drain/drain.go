// Package drain runs a function over a list of items one after the other,
// on as few goroutines as it can, without letting one slow item hold up
// the rest: the hub writes the queues of the members a broadcast woke up
// this way, and the keep-alive scheduler its pings.
package drain

import (
	"sync/atomic"
	"time"
)

// Start calls f for every item of list, in list order, from a new
// goroutine. When one call is still running after budget, a stall timer
// starts another goroutine that goes on with the items after it, so a
// stuck item delays the others by about budget and a list of N quick
// items costs one goroutine, not N. Each item is taken by exactly one
// goroutine. done, if not nil, runs once after the last call has
// returned. An empty list starts nothing and runs done at once.
func Start[T any](list []T, budget time.Duration, f func(T), done func()) {
	if len(list) == 0 {
		if done != nil {
			done()
		}
		return
	}
	r := &run[T]{list: list, budget: budget, f: f, done: done}
	r.active.Store(1)
	go r.loop()
}

type run[T any] struct {
	list   []T
	budget time.Duration
	f      func(T)
	done   func()
	next   atomic.Int64 // index of the next item to take
	active atomic.Int64 // goroutines of this run; the last one out calls done
}

func (r *run[T]) loop() {
	var stall *time.Timer
	defer func() {
		if stall != nil {
			stall.Stop()
		}
		if r.active.Add(-1) == 0 && r.done != nil {
			r.done()
		}
	}()
	for {
		i := int(r.next.Add(1)) - 1
		if i >= len(r.list) {
			return
		}
		if i+1 < len(r.list) {
			if stall == nil {
				stall = time.AfterFunc(r.budget, r.spawn)
			} else {
				stall.Reset(r.budget)
			}
		}
		r.f(r.list[i])
		if stall != nil {
			stall.Stop()
		}
	}
}

// spawn runs on a stall timer: an item is taking long, so another
// goroutine goes on with the items after it. A late timer finds the run
// finished (or nothing left to take) and does nothing.
func (r *run[T]) spawn() {
	for {
		a := r.active.Load()
		if a == 0 || int(r.next.Load()) >= len(r.list) {
			return
		}
		if r.active.CompareAndSwap(a, a+1) {
			go r.loop()
			return
		}
	}
}
