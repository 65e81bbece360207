package main

import (
	"context"
	"iter"
	"sync/atomic"
	"time"

	"github.com/fiberws/fiberws"
)

// NotificationsController mirrors "Sending Messages Without Client Input"
// (/notifications/periodic) and "Real-World Examples: Real-Time
// Notifications" (/notifications/stream).
type NotificationsController struct {
	every   time.Duration
	service *notificationService
}

// Prefix puts the routes under /notifications.
func (NotificationsController) Prefix() string { return "/notifications" }

// Routes lists /notifications/periodic and /notifications/stream.
func (c NotificationsController) Routes() []fiberws.Route {
	return []fiberws.Route{
		// OnConnect: the handler runs once right after the upgrade (with
		// a nil body), which is when the reference starts its timer.
		fiberws.WebSocket("/periodic", c.sendNotifications, fiberws.OnConnect()),
		fiberws.SendOnlyStream("/stream", c.streamNotifications),
	}
}

// runningTickers counts the periodic notification goroutines alive now;
// the tests check that it drops back to 0 when clients leave.
var runningTickers atomic.Int64

// sendNotifications mirrors "Sending Messages Without Client Input": the
// *fiberws.Conn[string] is revali's AsyncWebSocketSender<String>, typed
// like the handler's result, and Send may be called from any goroutine.
//
// Unlike the reference's Timer.periodic, which outlives the connection,
// the ticker goroutine stops when the connection closes: ctx is cancelled
// as soon as either side starts closing, and the cleanup waits for the
// goroutine to be gone, so nothing of the connection is left running once
// its cleanups have run.
func (c NotificationsController) sendNotifications(ctx context.Context, conn *fiberws.Conn[string], message *string) (string, error) {
	if message != nil {
		// A client message, not the on-connect trigger: the notifications
		// already run, do not start a second ticker.
		return "Notifications already started", nil
	}
	done := make(chan struct{})
	ticker := time.NewTicker(c.every)
	runningTickers.Add(1)
	go func() {
		defer close(done)
		defer runningTickers.Add(-1)
		defer ticker.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-ticker.C:
				if conn.Send("Notification "+now.Format(time.RFC3339)) != nil {
					return // closed meanwhile
				}
			}
		}
	}()
	conn.Cleanup(func() { <-done })
	// The result is sent as soon as the handler returns; the first
	// notification follows one interval later.
	return "Notifications started", nil
}

// streamNotifications mirrors "Real-Time Notifications". Instead of a
// sender and a listener that is never cancelled, a send-only stream route
// returns an iter.Seq: fiberws sends each element as JSON, in order, and
// the sequence ends (and its subscription with it) when the client leaves.
// There is no greeting: every message on this route is a notification.
func (c NotificationsController) streamNotifications(ctx context.Context, conn *fiberws.Conn[Notification]) (iter.Seq[Notification], error) {
	// Subscribe now, not when iteration starts, so the client gets every
	// notification published from the moment its handler ran.
	sub := c.service.Subscribe()
	return func(yield func(Notification) bool) {
		defer sub.Cancel()
		for {
			select {
			case <-ctx.Done():
				return
			case n, ok := <-sub.C:
				if !ok {
					if sub.Lagged() {
						// Too slow to keep up: say so (1008) instead of
						// the normal closure that ending the stream means.
						_ = conn.CloseSlowConsumer()
					}
					return // cut off, or the service stopped
				}
				if !yield(n) {
					return
				}
			}
		}
	}, nil
}
