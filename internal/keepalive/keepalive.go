// Package keepalive pings the connections of one route from a single
// scheduler goroutine, instead of a timer per connection.
package keepalive

import (
	"sync"
	"time"

	"github.com/fiberws/fiberws/internal/drain"
)

// Peer is a connection as the scheduler sees it.
type Peer interface {
	comparable
	// Open reports whether the connection is still open.
	Open() bool
	// LastPing is when the last ping went out, Unanswered when the oldest
	// ping still waiting for a pong did (0: none waiting), both UnixNano.
	LastPing() int64
	Unanswered() int64
	// Paused reports whether the reader waits on our own back-pressure:
	// its pongs may be unread behind the messages it has not read yet.
	Paused() bool
	// Ping writes a ping, or skips it when a data write holds the socket;
	// it must not block for long.
	Ping()
	// Expire closes a connection whose ping went unanswered too long.
	Expire()
}

// Scheduler runs only while its route has connections. It wakes a few
// times per interval, pings the connections whose interval has passed and
// expires those whose oldest ping went unanswered for the timeout.
//
// The pings of one tick are written one after the other by one goroutine
// (package drain): a stuck socket hands the rest of the list to another
// goroutine after pingBudget, so it delays no other connection's ping.
type Scheduler[P Peer] struct {
	interval, timeout, step time.Duration

	mu    sync.Mutex
	conns map[P]struct{}
	stop  chan struct{}
	done  chan struct{}
	// pinging counts the tick drains still writing; the scheduler waits
	// for them when it stops, so no ping outlives the route's last
	// connection.
	pinging sync.WaitGroup
}

// pingBudget is how long one ping write may hold up the pings after it.
const pingBudget = time.Millisecond

// New is a scheduler that pings every interval and expires a connection
// whose ping is unanswered after timeout.
func New[P Peer](interval, timeout time.Duration) *Scheduler[P] {
	step := min(interval, timeout) / 4
	step = max(step, time.Millisecond)
	return &Scheduler[P]{interval: interval, timeout: timeout, step: step, conns: map[P]struct{}{}}
}

// Add starts pinging p, and the scheduler if p is its first connection.
func (k *Scheduler[P]) Add(p P) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.conns[p] = struct{}{}
	if k.stop == nil {
		k.stop, k.done = make(chan struct{}), make(chan struct{})
		go k.run(k.stop, k.done)
	}
}

// Remove stops pinging p; after the last connection it stops the scheduler
// and waits until its goroutines are gone.
func (k *Scheduler[P]) Remove(p P) {
	k.mu.Lock()
	delete(k.conns, p)
	var done chan struct{}
	if len(k.conns) == 0 && k.stop != nil {
		close(k.stop)
		done = k.done
		k.stop, k.done = nil, nil
	}
	k.mu.Unlock()
	if done != nil {
		<-done
	}
}

func (k *Scheduler[P]) run(stop, done chan struct{}) {
	defer close(done)
	defer k.pinging.Wait()
	ticker := time.NewTicker(k.step)
	defer ticker.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-ticker.C:
			due, late := k.scan(now)
			for _, p := range late {
				// Expiring may wait for a stuck write; it must not hold up
				// the scheduler. Late connections are rare (dead peers).
				go p.Expire()
			}
			if len(due) > 0 {
				k.pinging.Add(1)
				drain.Start(due, pingBudget, P.Ping, k.pinging.Done)
			}
		}
	}
}

// scan lists the connections due for a ping and those whose oldest ping
// went unanswered for the timeout. A paused connection is never late.
func (k *Scheduler[P]) scan(now time.Time) (due, late []P) {
	t := now.UnixNano()
	k.mu.Lock()
	defer k.mu.Unlock()
	for p := range k.conns {
		if !p.Open() {
			continue
		}
		if u := p.Unanswered(); u != 0 && t-u >= int64(k.timeout) {
			if !p.Paused() {
				late = append(late, p)
			}
			continue
		}
		if t-p.LastPing() >= int64(k.interval) {
			due = append(due, p)
		}
	}
	return due, late
}
