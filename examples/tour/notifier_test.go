package main

import (
	"testing"
	"time"

	"github.com/fiberws/fiberws/fiberwstest"
)

// receive waits (bounded) for the next notification of sub.
func receive(t *testing.T, sub *Subscription) (Notification, bool) {
	t.Helper()
	select {
	case n, ok := <-sub.C:
		return n, ok
	case <-time.After(fiberwstest.DefaultTimeout):
		t.Fatal("no notification in time")
		return Notification{}, false
	}
}

func TestNotificationServiceIDsAndStop(t *testing.T) {
	// The first notification is published one interval after the start:
	// long enough that Subscribe, right after, comes first even on a
	// loaded machine, so the ids seen start at 1.
	s := newNotificationService(100 * time.Millisecond)
	defer s.Stop()
	sub := s.Subscribe()
	for want := int64(1); want <= 3; want++ {
		n, ok := receive(t, sub)
		if !ok || n.ID != want || n.Text == "" {
			t.Fatalf("got %+v (open %v), want id %d", n, ok, want)
		}
		if _, err := time.Parse(time.RFC3339, n.At); err != nil {
			t.Fatal(err)
		}
	}
	sub.Cancel()
	sub.Cancel() // idempotent
	if n := s.Subscribers(); n != 0 {
		t.Fatalf("%d subscribers after Cancel", n)
	}

	other := s.Subscribe()
	s.Stop()
	s.Stop() // idempotent
	for {
		if _, ok := receive(t, other); !ok {
			break // closed by Stop, after what was buffered
		}
	}
	if other.Lagged() {
		t.Fatal("a subscription ended by Stop is not lagged")
	}
	if _, ok := receive(t, s.Subscribe()); ok {
		t.Fatal("subscribing to a stopped service gives a closed channel")
	}
}

// A subscriber that does not keep up is cut off; the others are not held up.
func TestNotificationServiceCutsOffLaggards(t *testing.T) {
	s := newNotificationService(time.Millisecond)
	defer s.Stop()
	lazy := s.Subscribe()
	fiberwstest.Eventually(t, lazy.Lagged, "lazy subscriber cut off")
	count := 0
	for range lazy.C {
		count++
	}
	if count != subscriptionBuffer {
		t.Fatalf("lazy subscriber got %d before the cut, want %d", count, subscriptionBuffer)
	}
	busy := s.Subscribe()
	last := int64(0)
	for range 3 * subscriptionBuffer {
		n, ok := receive(t, busy)
		if !ok || (last != 0 && n.ID != last+1) {
			t.Fatalf("got %+v (open %v) after id %d", n, ok, last)
		}
		last = n.ID
	}
}
