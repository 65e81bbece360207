package fiberwstest

import (
	"bytes"
	"log/slog"
	"sync"
	"testing"
)

// Log collects what a server logs, for tests that check what was logged
// rather than sent (a panic's stack, a dropped reply). It is safe for the
// concurrent writes of a server's goroutines.
type Log struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// NewLog returns a debug-level text logger that writes into a new Log;
// pass it as fiberws.Config.Logger. If the test fails, the end of the log
// is printed with it.
func NewLog(t testing.TB) (*slog.Logger, *Log) {
	l := &Log{}
	t.Cleanup(func() {
		if t.Failed() {
			s := l.String()
			if len(s) > 8<<10 {
				s = "…" + s[len(s)-8<<10:]
			}
			t.Logf("server log:\n%s", s)
		}
	})
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

// Write appends p to the log.
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
