package fiberws_test

import (
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/fiberws/fiberws"
	"github.com/fiberws/fiberws/fiberwstest"
	"github.com/fiberws/fiberws/hooks"
)

// Helpers shared by the tests of several files (summaries, connection
// counts, plain GETs); the harness that serves routes is in main_test.go.

// relSummaries is an Observer that keeps every connection summary.
type relSummaries struct {
	mu   sync.Mutex
	list []hooks.Summary
	ch   chan hooks.Summary
}

func newRelSummaries() *relSummaries { return &relSummaries{ch: make(chan hooks.Summary, 1024)} }

func (o *relSummaries) OnRequest(hooks.Request) {}
func (o *relSummaries) OnSummary(s hooks.Summary) {
	o.mu.Lock()
	o.list = append(o.list, s)
	o.mu.Unlock()
	select {
	case o.ch <- s:
	default:
	}
}

func (o *relSummaries) all() []hooks.Summary {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]hooks.Summary(nil), o.list...)
}

// next waits (bounded) for the next summary.
func (o *relSummaries) next(t testing.TB) hooks.Summary {
	t.Helper()
	select {
	case s := <-o.ch:
		return s
	case <-time.After(fiberwstest.DefaultTimeout):
		t.Fatalf("no connection summary within %v", fiberwstest.DefaultTimeout)
	}
	return hooks.Summary{}
}

// relServe serves routes at the root with a Server made from cfg and
// returns the Server too.
func relServe(t *testing.T, cfg fiberws.Config, routes ...fiberws.Route) (*fiberwstest.Server, *fiberws.Server) {
	t.Helper()
	h := serveWith(t, cfg, routes...)
	return h.Server, h.ws
}

// relWaitConns waits until the Server has n open connections.
func relWaitConns(t testing.TB, ws *fiberws.Server, n int) {
	t.Helper()
	fiberwstest.Eventually(t, func() bool { return ws.Connections() == n }, "want %d open connections, have %d", n, fiberwstest.Later(func() any { return ws.Connections() }))
}

// httpGet does a plain (non-upgrade) GET and returns status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: fiberwstest.DefaultTimeout}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}
