package main

import (
	"strconv"
	"sync"
	"time"
)

// Notification is what the notification service publishes; /notifications/stream
// sends each one as JSON: {"id":1,"text":"…","at":"2025-01-02T15:04:05Z"}.
type Notification struct {
	ID   int64  `json:"id"`
	Text string `json:"text"`
	At   string `json:"at"` // RFC 3339
}

// notificationService is the reference's notificationService: one
// goroutine, shared by all clients, publishes a notification every
// interval with ids rising from 1. Subscribers get every notification
// published after they subscribed, in id order, through a buffered
// channel. A subscriber that falls a whole buffer behind is cut off (its
// channel is closed) rather than slowing the service down.
type notificationService struct {
	every time.Duration

	mu     sync.Mutex
	subs   map[*Subscription]struct{}
	nextID int64
	closed bool

	stop, done chan struct{}
}

// subscriptionBuffer is how many notifications may wait for one subscriber.
const subscriptionBuffer = 64

// newNotificationService starts the service.
func newNotificationService(every time.Duration) *notificationService {
	s := &notificationService{
		every: every,
		subs:  map[*Subscription]struct{}{},
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go s.run()
	return s
}

func (s *notificationService) run() {
	defer close(s.done)
	ticker := time.NewTicker(s.every)
	defer ticker.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-ticker.C:
			s.publish(now)
		}
	}
}

func (s *notificationService) publish(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	n := Notification{
		ID:   s.nextID,
		Text: "Notification " + strconv.FormatInt(s.nextID, 10),
		At:   now.Format(time.RFC3339),
	}
	for sub := range s.subs {
		select {
		case sub.ch <- n:
		default: // too far behind: cut it off instead of blocking everyone
			delete(s.subs, sub)
			sub.lagged = true
			close(sub.ch)
		}
	}
}

// Subscription receives the notifications published after Subscribe, on
// C, until Cancel is called or the service stops (C is closed then).
type Subscription struct {
	C       <-chan Notification
	ch      chan Notification
	service *notificationService
	lagged  bool // guarded by service.mu
}

// Subscribe starts a subscription.
func (s *notificationService) Subscribe() *Subscription {
	ch := make(chan Notification, subscriptionBuffer)
	sub := &Subscription{C: ch, ch: ch, service: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		close(ch)
		return sub
	}
	s.subs[sub] = struct{}{}
	return sub
}

// Cancel ends the subscription; it is idempotent.
func (sub *Subscription) Cancel() {
	s := sub.service
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[sub]; ok {
		delete(s.subs, sub)
		close(sub.ch)
	}
}

// Lagged reports whether the subscription was cut off for falling
// subscriptionBuffer notifications behind.
func (sub *Subscription) Lagged() bool {
	sub.service.mu.Lock()
	defer sub.service.mu.Unlock()
	return sub.lagged
}

// Subscribers is how many subscriptions are active.
func (s *notificationService) Subscribers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// Stop stops the publishing goroutine and ends every subscription. It is
// idempotent.
func (s *notificationService) Stop() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for sub := range s.subs {
		delete(s.subs, sub)
		close(sub.ch)
	}
	s.mu.Unlock()
	close(s.stop)
	<-s.done
}
