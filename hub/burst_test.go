package hub_test

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
	"github.com/fiberws/fiberws/hub"
)

// seq is the k-th message of a burst.
func seq(k int) string { return "message " + strconv.Itoa(k) }

// readAll reads n messages on each client concurrently and reports the
// first client that got anything else than seq(0)…seq(n-1) in order, or
// was closed.
func readAll(t *testing.T, clients map[string]*fiberwstest.Client, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for who, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range n {
				_, data, err := c.Read()
				if err != nil {
					errs <- fmt.Errorf("%s after %d of %d messages: %w", who, k, n, err)
					return
				}
				if got := string(data); got != seq(k) {
					errs <- fmt.Errorf("%s: message %d is %q, want %q", who, k, got, seq(k))
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// quickReaders dials n members of room r that read as fast as they can.
func quickReaders(t *testing.T, s *setup, n int) map[string]*fiberwstest.Client {
	t.Helper()
	clients := map[string]*fiberwstest.Client{}
	for i := range n {
		who := fmt.Sprintf("reader%d", i)
		clients[who] = s.srv.Dial(t, "/rooms/r/"+who)
	}
	return clients
}

// notClosed fails the test for every member in whos that the server has
// closed.
func notClosed(t *testing.T, s *setup, whos ...string) {
	t.Helper()
	for _, who := range whos {
		if sum, ok := s.obs.find(who); ok {
			t.Errorf("%s was closed: %d %q by %s", who, sum.CloseCode, sum.CloseReason, sum.ClosedBy)
		}
	}
}

// TestBurstKicksNobody: one member sends 2,000, then 20,000 messages as
// fast as it can into a room of 20 readers that keep up. The publisher
// outruns the fan-out (21 writes per message read); the hub must hold
// the publisher back, not drop the readers, and every reader gets every
// message in the same order.
func TestBurstKicksNobody(t *testing.T) {
	for _, n := range []int{2000, 20000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			s := start(t, hub.Config{}, fiberws.Config{})
			readers := quickReaders(t, s, 20)
			sender := s.srv.Dial(t, "/rooms/r/sender")
			waitMembers(t, s.h, "r", 21)

			sent := make(chan error, 1)
			go func() {
				conn := sender.Conn()
				// Generous: the sender's own TCP is what the hub pushes back on.
				_ = conn.SetWriteDeadline(time.Now().Add(time.Minute))
				for k := range n {
					if err := conn.WriteMessage(websocket.TextMessage, []byte(seq(k))); err != nil {
						sent <- fmt.Errorf("send %d: %w", k, err)
						return
					}
				}
				sent <- nil
			}()
			began := time.Now()
			readAll(t, readers, n)
			if err := recvErr(t, sent); err != nil {
				t.Fatal(err)
			}
			t.Logf("%d messages to 20 readers in %v", n, time.Since(began).Round(time.Millisecond))
			notClosed(t, s, append(keys(readers), "sender")...)
		})
	}
}

// TestBatchPublishKicksNobody: a batch published from outside any handler
// (a replay, presence events in a reconnect storm) is held back by the
// room too: Broadcast waits, the readers are not dropped.
func TestBatchPublishKicksNobody(t *testing.T) {
	const n = 20000
	s := start(t, hub.Config{}, fiberws.Config{})
	readers := quickReaders(t, s, 20)
	waitMembers(t, s.h, "r", 20)
	published := make(chan error, 1)
	go func() {
		for k := range n {
			if err := hub.Broadcast(ctx, s.h, "r", seq(k)); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	readAll(t, readers, n)
	if err := recvErr(t, published); err != nil {
		t.Fatal(err)
	}
	notClosed(t, s, keys(readers)...)
}

// TestStuckReaderDropped: in a room under a burst, a member that stops
// reading is dropped with 1008 "slow consumer" once its queue would exceed
// the hub's byte budget, and the members that keep reading get every
// message in order.
func TestStuckReaderDropped(t *testing.T) {
	const n = 20000
	s := start(t, hub.Config{}, fiberws.Config{})
	readers := quickReaders(t, s, 5)
	s.srv.Dial(t, "/rooms/r/stuck") // never reads
	waitMembers(t, s.h, "r", 6)

	published := make(chan error, 1)
	go func() {
		for k := range n {
			if err := hub.Broadcast(ctx, s.h, "r", padded(k)); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	var wg sync.WaitGroup
	errs := make(chan error, len(readers))
	for who, c := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range n {
				_, data, err := c.Read()
				if err != nil {
					errs <- fmt.Errorf("%s after %d messages: %w", who, k, err)
					return
				}
				if got := string(data); got != padded(k) {
					errs <- fmt.Errorf("%s: message %d is %q…", who, k, got[:min(len(got), 20)])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := recvErr(t, published); err != nil {
		t.Fatal(err)
	}
	// The drop itself is immediate: its write in progress cannot finish,
	// so TCP is dropped rather than a close frame queued behind it.
	var sum hooks.Summary
	fiberwstest.Eventually(t, func() bool {
		var ok bool
		sum, ok = s.obs.find("stuck")
		return ok
	}, "the stuck reader was not dropped; members %d", fiberwstest.Later(func() any { return s.h.Members("r") }))
	if sum.CloseCode != fiberws.ClosePolicyViolation || sum.CloseReason != fiberws.ReasonSlowConsumer {
		t.Errorf("stuck reader closed with %d %q, want 1008 %q", sum.CloseCode, sum.CloseReason, fiberws.ReasonSlowConsumer)
	}
	notClosed(t, s, keys(readers)...)
}

// TestStuckReaderMemoryWithinBudget: while a member that does not read is
// sent to until it is dropped, the live heap grows by about its budget,
// not by what is published. The stuck member is alone in the room, so
// nothing else holds messages; the heap is measured after a collection
// every 50 messages, the publisher waiting.
func TestStuckReaderMemoryWithinBudget(t *testing.T) {
	const budget = 1 << 20
	s := start(t, hub.Config{QueueBytes: budget}, fiberws.Config{})
	s.srv.Dial(t, "/rooms/r/stuck") // never reads
	waitMembers(t, s.h, "r", 1)
	stuck := s.ctrl.session(t, "stuck")

	runtime.GC()
	var base, ms runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak uint64
	deadline := time.Now().Add(time.Minute)
	k := 0
	for ; !stuck.Closed(); k++ {
		if time.Now().After(deadline) {
			t.Fatalf("the stuck reader was not dropped after %d messages", k)
		}
		if err := hub.Broadcast(ctx, s.h, "r", padded(k)); err != nil {
			t.Fatal(err)
		}
		if k%50 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
	grew := int64(peak) - int64(base.HeapAlloc)
	t.Logf("dropped after %d messages of %d bytes; live heap grew by at most %d KiB (budget %d KiB)", k, len(padded(0)), grew>>10, budget>>10)
	if grew > 2*budget {
		t.Errorf("live heap grew by %d KiB, over twice the budget of %d KiB", grew>>10, budget>>10)
	}
	sum := func() (hooks.Summary, bool) { return s.obs.find("stuck") }
	fiberwstest.Eventually(t, func() bool { _, ok := sum(); return ok }, "no summary for the stuck reader")
	if got, _ := sum(); got.CloseCode != fiberws.ClosePolicyViolation {
		t.Errorf("stuck reader closed with %d %q, want 1008", got.CloseCode, got.CloseReason)
	}
}

// padded is the k-th message of a burst, 1,000 bytes long: 20,000 of them
// are enough to fill a stuck reader's kernel buffers (about 4 MB on
// loopback) and then its queue.
func padded(k int) string {
	m := seq(k)
	return m + strings.Repeat(".", 1000-len(m))
}

func keys(m map[string]*fiberwstest.Client) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func recvErr(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(time.Minute):
		t.Fatal("timed out after a minute")
		return nil
	}
}

// TestConcurrentPublishersKickNobody: 2,000 goroutines each broadcast one
// message at the same moment (presence events in a reconnect storm): they
// take turns at the room, so the readers' queues never overflow.
func TestConcurrentPublishersKickNobody(t *testing.T) {
	const n = 2000
	s := start(t, hub.Config{}, fiberws.Config{})
	readers := quickReaders(t, s, 3)
	waitMembers(t, s.h, "r", 3)
	got := map[string]map[string]bool{}
	for who := range readers {
		got[who] = map[string]bool{}
	}
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for k := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- hub.Broadcast(ctx, s.h, "r", seq(k)+strings.Repeat(".", 90))
		}()
	}
	var read sync.WaitGroup
	var mu sync.Mutex
	for who, c := range readers {
		read.Add(1)
		go func() {
			defer read.Done()
			for range n {
				_, data, err := c.Read()
				if err != nil {
					t.Errorf("%s: %v", who, err)
					return
				}
				mu.Lock()
				got[who][string(data)] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	read.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for who, msgs := range got {
		if len(msgs) != n {
			t.Errorf("%s got %d distinct messages, want %d", who, len(msgs), n)
		}
	}
	notClosed(t, s, keys(readers)...)
}

// TestSlowReaderThatKeepsReadingIsKept: a member that takes 256 KiB
// messages at about 1 MB/s, slower than they are published, holds the
// publisher back; it is not dropped although each write to it takes a
// good part of a second.
func TestSlowReaderThatKeepsReadingIsKept(t *testing.T) {
	const (
		n    = 16
		size = 256 << 10
	)
	s := start(t, hub.Config{}, fiberws.Config{})
	slow := s.srv.Dial(t, "/rooms/r/slow")
	waitMembers(t, s.h, "r", 1)
	payload := strings.Repeat("x", size)
	published := make(chan error, 1)
	go func() {
		for range n {
			if err := hub.Broadcast(ctx, s.h, "r", payload); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	nc := slow.Conn().NetConn()
	buf := make([]byte, 32<<10)
	deadline := time.Now().Add(time.Minute)
	total := 0
	for total < n*(size+10) && time.Now().Before(deadline) { // reads raw bytes, 32 KiB every 30ms
		_ = nc.SetReadDeadline(time.Now().Add(fiberwstest.DefaultTimeout))
		k, err := nc.Read(buf)
		if err != nil {
			t.Fatalf("after %d KiB: %v", total>>10, err)
		}
		total += k
		time.Sleep(30 * time.Millisecond)
	}
	if err := recvErr(t, published); err != nil {
		t.Fatal(err)
	}
	notClosed(t, s, "slow")
}

// TestBurstAcrossHubsKicksNobody: the readers of a second hub on the same
// in-process broker hold the first hub's publisher back too.
func TestBurstAcrossHubsKicksNobody(t *testing.T) {
	const n = 20000
	broker := hub.NewMemoryBroker()
	s1 := start(t, hub.Config{Broker: broker}, fiberws.Config{})
	s2 := start(t, hub.Config{Broker: broker}, fiberws.Config{})
	s1.srv.Dial(t, "/rooms/r/local")
	readers := quickReaders(t, s2, 5)
	waitMembers(t, s1.h, "r", 1)
	waitMembers(t, s2.h, "r", 5)
	local := s1.ctrl.session(t, "local")
	published := make(chan error, 1)
	go func() {
		for k := range n {
			if err := hub.Broadcast(ctx, s1.h, "r", seq(k), local); err != nil {
				published <- err
				return
			}
		}
		published <- nil
	}()
	readAll(t, readers, n)
	if err := recvErr(t, published); err != nil {
		t.Fatal(err)
	}
	notClosed(t, s2, keys(readers)...)
}

// TestReplayWithSendKicksNobody: replaying a long history to one member
// with Send in a loop holds the replay back, not the member.
func TestReplayWithSendKicksNobody(t *testing.T) {
	const n = 10000
	s := start(t, hub.Config{}, fiberws.Config{})
	c := s.srv.Dial(t, "/rooms/r/a")
	waitMembers(t, s.h, "r", 1)
	sa := s.ctrl.session(t, "a")
	sent := make(chan error, 1)
	go func() {
		for k := range n {
			if err := hub.Send(ctx, s.h, sa, padded(k)); err != nil {
				sent <- fmt.Errorf("send %d: %w", k, err)
				return
			}
		}
		sent <- nil
	}()
	for k := range n {
		if got := c.ReadText(); got != padded(k) {
			t.Fatalf("message %d is %q…", k, got[:min(20, len(got))])
		}
	}
	if err := recvErr(t, sent); err != nil {
		t.Fatal(err)
	}
	notClosed(t, s, "a")
}

// TestStuckReceiversDroppedWithinWriteTimeout: members that never read, in
// a room that gets a 4 KB message every 50 ms, are dropped a write timeout
// after their receive window closed, not once the server's kernel send
// buffer (megabytes on Linux) has filled too. Linux only: elsewhere the
// write timeout alone finds them, once a write blocks.
func TestStuckReceiversDroppedWithinWriteTimeout(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_USER_TIMEOUT is Linux's")
	}
	const writeTimeout = time.Second
	s := start(t, hub.Config{}, fiberws.Config{WriteTimeout: writeTimeout})
	reader := quickReaders(t, s, 1)["reader0"]
	for i := range 3 {
		s.srv.Dial(t, fmt.Sprintf("/rooms/r/stuck%d", i)) // never read
	}
	waitMembers(t, s.h, "r", 4)
	msg := strings.Repeat("m", 4000)
	start := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = hub.Broadcast(ctx, s.h, "r", msg)
			}
		}
	}()
	defer func() { close(stop); <-done }()
	go func() { // the reader keeps up
		for {
			if _, _, err := reader.Read(); err != nil {
				return
			}
		}
	}()
	deadline := start.Add(20 * time.Second)
	for i := range 3 {
		who := fmt.Sprintf("stuck%d", i)
		for {
			if _, ok := s.obs.find(who); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still connected %v after the sends started", who, time.Since(start).Round(time.Millisecond))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	elapsed := time.Since(start)
	t.Logf("stuck receivers dropped %v after the sends started", elapsed.Round(time.Millisecond))
	if elapsed > 8*writeTimeout {
		t.Fatalf("stuck receivers dropped %v after the sends started, write timeout %v", elapsed, writeTimeout)
	}
	notClosed(t, s, "reader0")
}
