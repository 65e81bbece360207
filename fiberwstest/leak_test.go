package fiberwstest_test

import (
	"testing"

	"github.com/fiberws/fiberws/fiberwstest"
	"go.uber.org/goleak"
)

// TestMain checks that nothing of the package's servers and clients
// outlives its tests, with the package's own ignore list.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
}

// TestLeakOptions: once a served app has shut down, LeakOptions finds no
// leak (fasthttp's lingering goroutines are ignored), but a goroutine the
// test leaves running is still found. Not parallel: it counts goroutines.
func TestLeakOptions(t *testing.T) {
	baseline := goleak.IgnoreCurrent()
	srv := fiberwstest.Serve(t, silentApp(t))
	c := srv.Dial(t, "/silent")
	c.SendText("hi")
	if code := c.Close(1000, "bye"); code != 1000 {
		t.Fatalf("close answered %d, want 1000", code)
	}
	if err := srv.Shutdown(srv.Timeout); err != nil {
		t.Fatal(err)
	}
	if err := goleak.Find(fiberwstest.LeakOptions(baseline)...); err != nil {
		t.Fatalf("after shutdown: %v", err)
	}

	stop := make(chan struct{})
	defer close(stop)
	go func() { <-stop }()
	if err := goleak.Find(fiberwstest.LeakOptions(baseline)...); err == nil {
		t.Fatal("a goroutine left running was not found")
	}
}
