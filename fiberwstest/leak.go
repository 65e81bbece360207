package fiberwstest

import "go.uber.org/goleak"

// LeakOptions are the goleak options for tests of fiberws applications:
// they ignore the goroutines that outlive a test on purpose, all of them
// fasthttp's rather than fiberws's, followed by extra (for example
// goleak.IgnoreCurrent() to check only what a test starts). Pass them to
// goleak.VerifyTestMain in a package's TestMain, or to goleak.VerifyNone
// or goleak.Find in one test:
//
//	func TestMain(m *testing.M) {
//		goleak.VerifyTestMain(m, fiberwstest.LeakOptions()...)
//	}
//
// The goroutines ignored:
//
//   - fasthttp.updateServerDate.func1: fasthttp refreshes its cached Date
//     header from one process-wide goroutine, started with the first server
//     and never stopped.
//   - fasthttp.(*workerPool).Start.func2: each fasthttp server's
//     worker-pool cleaner sleeps up to 10s (MaxIdleWorkerDuration, which
//     Fiber does not expose) before it notices its server stopped; one per
//     server, not per connection.
//
// Anything else still running when the tests end, a connection's reader, a
// keep-alive scheduler, a server that was never shut down, is a leak.
func LeakOptions(extra ...goleak.Option) []goleak.Option {
	return append([]goleak.Option{
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	}, extra...)
}
