package fiberws

import (
	"runtime"
	"strings"
	"sync"
	"testing"
)

type gcMsg struct {
	Seq  int    `json:"seq"`
	Text string `json:"text"`
}

// grow uses stack so that goroutine stacks grow and move between calls.
func grow(n int) byte {
	var buf [256]byte
	buf[n%256] = byte(n)
	if n == 0 {
		return buf[0]
	}
	return grow(n-1) + buf[n%256]
}

// TestCodecSurvivesGC decodes and re-encodes JSON bodies on several
// goroutines while the GC runs non-stop and stacks grow. With go-json's
// NoEscape variants the value being encoded was freed mid-call and the
// process died with "unexpected fault address" (found by the soak); a
// regression crashes this test binary.
func TestCodecSurvivesGC(t *testing.T) {
	decP, encP := newDecoder[*gcMsg](), newEncoder[*gcMsg]()
	decV, encV := newDecoder[gcMsg](), newEncoder[gcMsg]()
	stop := make(chan struct{})
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text := "hello " + strings.Repeat("x", 8*g)
			in := []byte(`{"seq":1,"text":"` + text + `"}`)
			for i := range 60000 {
				p, err := decP(in)
				if err != nil {
					t.Error(err)
					return
				}
				v, err := decV(in)
				if err != nil {
					t.Error(err)
					return
				}
				grow(i % 48)
				_, a, _, errA := encP(p)
				_, b, _, errB := encV(v)
				if errA != nil || errB != nil || !strings.Contains(string(a), text) || string(a) != string(b) {
					t.Errorf("round trip: %q %q %v %v", a, b, errA, errB)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-gcDone
}
