package hub_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hub"
)

// failingBroker is the in-memory broker, but for the calls it is told to
// fail.
type failingBroker struct {
	*hub.MemoryBroker
	failPublish, failSubscribe atomic.Bool
}

var errBroker = errors.New("broker down")

func (b *failingBroker) Publish(ctx context.Context, room string, env hub.Envelope) error {
	if b.failPublish.Load() {
		return errBroker
	}
	return b.MemoryBroker.Publish(ctx, room, env)
}

func (b *failingBroker) Subscribe(ctx context.Context, room string, deliver func(hub.Envelope)) (hub.Subscription, error) {
	if b.failSubscribe.Load() {
		return nil, errBroker
	}
	return b.MemoryBroker.Subscribe(ctx, room, deliver)
}

// Stats counts rooms and their members now, and broadcasts and broker
// errors since New.
func TestStats(t *testing.T) {
	broker := &failingBroker{MemoryBroker: hub.NewMemoryBroker()}
	s := start(t, hub.Config{Broker: broker}, fiberws.Config{})
	if st := s.h.Stats(); st != (hub.Stats{}) {
		t.Fatalf("a new hub: %+v", st)
	}
	a := s.srv.Dial(t, "/rooms/r1/a")
	b := s.srv.Dial(t, "/rooms/r1/b")
	c := s.srv.Dial(t, "/rooms/r2/c")
	waitMembers(t, s.h, "r1", 2)
	waitMembers(t, s.h, "r2", 1)
	if st := s.h.Stats(); st.Rooms != 2 || st.Members != 3 {
		t.Errorf("3 members in 2 rooms: %+v", st)
	}
	a.SendText("all:hello")
	for _, cl := range []*fiberwstest.Client{a, b} {
		if got := cl.ReadText(); got != "hello" {
			t.Fatalf("got %q", got)
		}
	}
	// A member that left its room but is still connected is not counted.
	c.SendText("leave")
	waitMembers(t, s.h, "r2", 0)
	broker.failPublish.Store(true)
	a.SendText("all:only here") // reaches this node's members; the broker error is counted
	if got := b.ReadText(); got != "only here" {
		t.Fatalf("got %q", got)
	}
	broker.failPublish.Store(false)
	broker.failSubscribe.Store(true)
	d, res, err := s.srv.TryDial("/rooms/r3/d") // its join fails: closed 1011
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, res)
	}
	d.Conn().Close()
	fiberwstest.Eventually(t, func() bool {
		st := s.h.Stats()
		return st.Rooms == 1 && st.Members == 2 && st.Broadcasts == 2 && st.BrokerErrors == 2 && st.SlowConsumers == 0
	}, "stats %+v, want 1 room, 2 members, 2 broadcasts, 2 broker errors", fiberwstest.Later(func() any { return s.h.Stats() }))
	a.Close(1000, "")
	b.Close(1000, "")
	c.Close(1000, "")
}
