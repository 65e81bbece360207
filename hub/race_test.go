package hub_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/hub"
)

// raceGap is how long the leave hook holds leave in the gap after it let
// go of the hub's lock: ample time for the Join it started to run there.
const raceGap = 50 * time.Millisecond

// TestLeaveRacingJoinOfAnotherRoom: a connection leaves its last room and,
// in the gap right after, joins another one. The leave must not then mute
// the member the Join restarted: it receives the new room's broadcasts.
func TestLeaveRacingJoinOfAnotherRoom(t *testing.T) {
	s := start(t, hub.Config{}, fiberws.Config{})
	a := s.srv.Dial(t, "/rooms/x/a")
	waitMembers(t, s.h, "x", 1)
	sa := s.ctrl.session(t, "a")
	joined := make(chan error, 1)
	var once sync.Once
	defer hub.SetLeaveHook(func() {
		once.Do(func() {
			go func() {
				_, err := s.h.Join(ctx, "y", sa)
				joined <- err
			}()
			time.Sleep(raceGap)
		})
	})()
	a.SendText("leave") // leaves x, its last room; the hook joins y
	if err := recvErr(t, joined); err != nil {
		t.Fatal(err)
	}
	a.SendText("ping") // answered once the leave has returned
	if got := a.ReadText(); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}
	waitMembers(t, s.h, "y", 1)
	if err := hub.Broadcast(ctx, s.h, "y", "hello y"); err != nil {
		t.Fatal(err)
	}
	if got := a.ReadText(); got != "hello y" {
		t.Fatalf("got %q", got)
	}
}

// roomKeyedBroker keeps one handler per room and drops it on any Cancel of
// that room, as a naive Redis broker (one SUBSCRIBE per channel) would: it
// works only if the hub never overlaps two subscriptions of one room.
type roomKeyedBroker struct {
	mu      sync.Mutex
	deliver map[string]func(hub.Envelope)
}

type roomKeyedSub struct {
	b    *roomKeyedBroker
	room string
}

func (b *roomKeyedBroker) Publish(_ context.Context, room string, env hub.Envelope) error {
	b.mu.Lock()
	deliver := b.deliver[room]
	b.mu.Unlock()
	if deliver != nil {
		deliver(env)
	}
	return nil
}

func (b *roomKeyedBroker) Subscribe(_ context.Context, room string, deliver func(hub.Envelope)) (hub.Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deliver[room] = deliver
	return roomKeyedSub{b, room}, nil
}

func (s roomKeyedSub) Cancel(context.Context) error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	delete(s.b.deliver, s.room)
	return nil
}

// TestRejoinWhileRoomIsCancelled: the last member leaves a room and, in
// the gap before the hub cancels the room's subscription, joins it again.
// The late Cancel must not end the new subscription: the hub waits for the
// Cancel before it subscribes anew, so even a broker that keys
// subscriptions by room delivers the next broadcast.
func TestRejoinWhileRoomIsCancelled(t *testing.T) {
	s := start(t, hub.Config{Broker: &roomKeyedBroker{deliver: map[string]func(hub.Envelope){}}}, fiberws.Config{})
	a := s.srv.Dial(t, "/rooms/r/a")
	waitMembers(t, s.h, "r", 1)
	sa := s.ctrl.session(t, "a")
	joined := make(chan error, 1)
	var once sync.Once
	defer hub.SetLeaveHook(func() {
		once.Do(func() {
			go func() {
				_, err := s.h.Join(ctx, "r", sa)
				joined <- err
			}()
			time.Sleep(raceGap)
		})
	})()
	a.SendText("leave") // the room empties; the hook joins it again
	if err := recvErr(t, joined); err != nil {
		t.Fatal(err)
	}
	a.SendText("ping") // answered once the leave has returned
	if got := a.ReadText(); got != "pong" {
		t.Fatalf("got %q, want pong", got)
	}
	waitMembers(t, s.h, "r", 1)
	if err := hub.Broadcast(ctx, s.h, "r", "still subscribed"); err != nil {
		t.Fatal(err)
	}
	if got := a.ReadText(); got != "still subscribed" {
		t.Fatalf("got %q", got)
	}
}

// stallingBroker is a MemoryBroker whose Subscribe to one room waits until
// released, like a networked broker waiting on a slow network.
type stallingBroker struct {
	*hub.MemoryBroker
	room    string
	entered chan struct{}
	release chan struct{}
}

func (b *stallingBroker) Subscribe(ctx context.Context, room string, deliver func(hub.Envelope)) (hub.Subscription, error) {
	if room == b.room {
		close(b.entered)
		<-b.release
	}
	return b.MemoryBroker.Subscribe(ctx, room, deliver)
}

// TestSlowSubscribeBlocksNoOne: while the broker takes its time to
// subscribe one room, the hub keeps serving the others: broadcasts are
// delivered, members counted, other rooms joined. (Subscribe under the
// hub-wide lock would stall them all.)
func TestSlowSubscribeBlocksNoOne(t *testing.T) {
	broker := &stallingBroker{MemoryBroker: hub.NewMemoryBroker(), room: "slow", entered: make(chan struct{}), release: make(chan struct{})}
	s := start(t, hub.Config{Broker: broker}, fiberws.Config{})
	a := s.srv.Dial(t, "/rooms/fast/a")
	waitMembers(t, s.h, "fast", 1)
	s.srv.Dial(t, "/rooms/slow/b") // its Join waits in Subscribe
	select {
	case <-broker.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the slow room's Subscribe was never called")
	}
	defer close(broker.release)

	done := make(chan error, 1)
	go func() {
		done <- hub.Broadcast(ctx, s.h, "fast", "not held up")
		_ = s.h.Members("fast")
		_ = s.h.Rooms()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Second):
		t.Fatal("Broadcast to another room waited for the slow Subscribe")
	}
	if got := a.ReadText(); got != "not held up" {
		t.Fatalf("got %q", got)
	}
	c := s.srv.Dial(t, "/rooms/fast/c") // joining a subscribed room does not wait either
	_ = c
	waitMembers(t, s.h, "fast", 2)
}
