package main

import (
	"context"
	"testing"
	"time"

	"github.com/fiberws/fiberws/internal/attack"
	"github.com/fiberws/fiberws/internal/testproc"
)

// TestPartialMessagesKeepMemoryBounded: 1,000 connections each send all
// but the last byte of a 1 MiB frame to a route with the default 1 MiB
// read limit, and stall. The tour (built and run as its own process) must
// keep its peak resident memory under 256 MB: the partial-message budget
// (32 MiB by default) bounds what they hold together, where each used to
// pin about a read limit and a half.
func TestPartialMessagesKeepMemoryBounded(t *testing.T) {
	const limit = 256 << 20
	bin := testproc.Build(t, ".")
	p := testproc.Start(t, bin, testproc.Options{}, "-addr", "127.0.0.1:0")
	if _, ok := p.PeakRSS(); !ok {
		t.Skip("no /proc/<pid>/status on this system")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := attack.Partial(ctx, attack.Config{Addr: p.Addr, Path: "/chat/messages", N: 1000, Size: 1 << 20, Hold: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("partial: %s", res)
	if res.Upgraded < 900 {
		t.Fatalf("only %d of 1,000 connections upgraded", res.Upgraded)
	}
	peak, _ := p.PeakRSS()
	t.Logf("peak RSS %d MB", peak>>20)
	if peak > limit {
		t.Fatalf("peak RSS %d MB, want under %d MB", peak>>20, limit>>20)
	}
	if !p.Alive() {
		t.Fatal("the tour exited")
	}
}
