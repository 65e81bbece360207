package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
)

// ioTimeout bounds every single read, write and dial of the client.
const ioTimeout = 10 * time.Second

var dialer = websocket.Dialer{
	HandshakeTimeout: ioTimeout,
	ReadBufferSize:   4096,
	WriteBufferSize:  4096,
	NetDial: func(network, addr string) (net.Conn, error) {
		return net.DialTimeout(network, addr, ioTimeout)
	},
}

// dialAll opens n connections to url, at most par at a time, and calls
// each (if not nil) on every connection as soon as it is open.
func dialAll(url string, n, par int, each func(*websocket.Conn)) ([]*websocket.Conn, error) {
	conns := make([]*websocket.Conn, n)
	var firstErr error
	var mu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < par && w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				c, resp, err := dialer.Dial(url, nil)
				if resp != nil && resp.Body != nil {
					_ = resp.Body.Close()
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("dial %s: %w", url, err)
					}
					mu.Unlock()
					return
				}
				conns[i] = c
				if each != nil {
					each(c)
				}
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		closeAll(conns)
		return nil, firstErr
	}
	return conns, nil
}

func closeAll(conns []*websocket.Conn) {
	for _, c := range conns {
		if c != nil {
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, ""), time.Now().Add(time.Second))
			_ = c.Close()
		}
	}
}

// readInto reads one message into buf (grown if needed), returning it.
func readInto(c *websocket.Conn, buf []byte) ([]byte, error) {
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	_, r, err := c.NextReader()
	if err != nil {
		return buf, err
	}
	return readAll(r, buf[:0])
}

func write(c *websocket.Conn, msg []byte) error {
	_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
	return c.WriteMessage(websocket.TextMessage, msg)
}

// echoLoad is what an echo load sends and expects back: msg, echoed as it
// is (a reply of its length), or, for the event kinds, event frames
// {"event":"echo","data":…,"id":N} numbering the messages of a connection
// from 1, each acknowledged with the same frame: the same data, its id.
type echoLoad struct {
	msg  []byte // the message of the other kinds
	head []byte // event kinds: the frame up to its id, `{"event":"echo","data":…,"id":`
}

// frame is message j (from 0) of a connection: msg, or an event frame
// built in buf.
func (l echoLoad) frame(buf []byte, j int) []byte {
	if l.head == nil {
		return l.msg
	}
	buf = append(buf[:0], l.head...)
	buf = strconv.AppendInt(buf, int64(j)+1, 10)
	return append(buf, '}')
}

// check reports what is wrong with the reply to sent.
func (l echoLoad) check(reply, sent []byte) error {
	if l.head == nil {
		if len(reply) != len(sent) {
			return fmt.Errorf("reply of %d bytes, want %d", len(reply), len(sent))
		}
		return nil
	}
	if !bytes.Equal(reply, sent) {
		return fmt.Errorf("acknowledgement %.200q, want %.200q", reply, sent)
	}
	return nil
}

// loadResult is what one echo load measured on the client side.
type loadResult struct {
	msgs    int64
	elapsed time.Duration
	lat     []time.Duration // one per message (ping-pong) or per reply (pipelined)
	// perConn is each connection's messages per second over its own run,
	// sorted: a fair server has them close together.
	perConn []float64
	err     error
}

// connRates is each connection's replies per second, from its start to
// its last reply, sorted.
func connRates(lats [][]time.Duration, finished []time.Duration) []float64 {
	out := make([]float64, 0, len(lats))
	for i, l := range lats {
		if finished[i] > 0 {
			out = append(out, float64(len(l))/finished[i].Seconds())
		}
	}
	sort.Float64s(out)
	return out
}

// pingPong sends m messages on each connection, each after the previous
// reply arrived, until done or until limit has passed.
func pingPong(conns []*websocket.Conn, m int, load echoLoad, limit time.Duration) loadResult {
	lats := make([][]time.Duration, len(conns))
	finished := make([]time.Duration, len(conns)) // when each connection was done
	var total atomic.Int64
	var errOnce sync.Once
	var firstErr error
	deadline := time.Now().Add(limit)
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0, (len(load.msg)+len(load.head))*2+64)
			var out []byte
			l := make([]time.Duration, 0, m)
			var err error
			for j := 0; j < m; j++ {
				if j%64 == 0 && time.Now().After(deadline) {
					break
				}
				t0 := time.Now()
				out = load.frame(out, j)
				if err = write(c, out); err != nil {
					break
				}
				if buf, err = readInto(c, buf); err != nil {
					break
				}
				if err = load.check(buf, out); err != nil {
					break
				}
				l = append(l, time.Since(t0))
			}
			if err != nil {
				errOnce.Do(func() { firstErr = err })
			}
			lats[i] = l
			finished[i] = time.Since(start)
			total.Add(int64(len(l)))
		}()
	}
	wg.Wait()
	return loadResult{msgs: total.Load(), elapsed: time.Since(start), lat: flatten(lats), perConn: connRates(lats, finished), err: firstErr}
}

// pipelined keeps up to window messages in flight on each connection: a
// writer sends while fewer than window replies are outstanding, a reader
// takes the replies (which come back in order) and checks them.
func pipelined(conns []*websocket.Conn, m, window int, load echoLoad, limit time.Duration) loadResult {
	lats := make([][]time.Duration, len(conns))
	finished := make([]time.Duration, len(conns)) // when each connection was done
	var total atomic.Int64
	var errOnce sync.Once
	var firstErr error
	fail := func(err error) { errOnce.Do(func() { firstErr = err }) }
	deadline := time.Now().Add(limit)
	start := time.Now()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := make([]time.Time, m)
			credits := make(chan struct{}, window)
			for k := 0; k < window; k++ {
				credits <- struct{}{}
			}
			stop := make(chan struct{})
			var nsent atomic.Int64
			writerDone := make(chan struct{})
			go func() {
				defer close(writerDone)
				var out []byte
				for j := 0; j < m; j++ {
					select {
					case <-credits:
					case <-stop:
						return
					}
					if j%64 == 0 && time.Now().After(deadline) {
						return
					}
					out = load.frame(out, j)
					sent[j] = time.Now()
					nsent.Store(int64(j + 1))
					if err := write(c, out); err != nil {
						fail(err)
						return
					}
				}
			}()
			buf := make([]byte, 0, (len(load.msg)+len(load.head))*2+64)
			var want []byte
			l := make([]time.Duration, 0, m)
			var err error
			for j := 0; j < m; j++ {
				if int64(j) >= nsent.Load() {
					// The writer stopped early (deadline or error)?
					select {
					case <-writerDone:
						if int64(j) >= nsent.Load() {
							j = m
							continue
						}
					default:
					}
				}
				if buf, err = readInto(c, buf); err != nil {
					fail(err)
					break
				}
				at := time.Since(sent[j])
				want = load.frame(want, j)
				if err = load.check(buf, want); err != nil {
					fail(err)
					break
				}
				l = append(l, at)
				credits <- struct{}{}
			}
			close(stop)
			<-writerDone
			lats[i] = l
			finished[i] = time.Since(start)
			total.Add(int64(len(l)))
		}()
	}
	wg.Wait()
	return loadResult{msgs: total.Load(), elapsed: time.Since(start), lat: flatten(lats), perConn: connRates(lats, finished), err: firstErr}
}

func flatten(parts [][]time.Duration) []time.Duration {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]time.Duration, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// percentile returns the q-quantile (0..1) of d, sorting it in place.
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	if !sort.SliceIsSorted(d, func(i, j int) bool { return d[i] < d[j] }) {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	}
	i := int(q * float64(len(d)-1))
	return d[i]
}

// idleHolder keeps connections open, each with a reader that answers
// pings, started as soon as the connection is (so that no ping goes
// unanswered while the others are still dialing).
type idleHolder struct {
	stop   chan struct{}
	failed atomic.Int64
	wg     sync.WaitGroup
}

func newIdleHolder() *idleHolder { return &idleHolder{stop: make(chan struct{})} }

func (h *idleHolder) hold(c *websocket.Conn) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			// No deadline: the reader ends when the socket is closed.
			if _, _, err := c.NextReader(); err != nil {
				select {
				case <-h.stop:
				default:
					h.failed.Add(1)
				}
				return
			}
		}
	}()
}

// release closes conns and waits for their readers.
func (h *idleHolder) release(conns []*websocket.Conn) {
	close(h.stop)
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	h.wg.Wait()
}

// receiveBroadcast waits on every connection for one message and returns
// when the last arrived (or the timeout passed).
func receiveBroadcast(conns []*websocket.Conn, timeout time.Duration) (last time.Time, got int64, err error) {
	last, got, _, err = receiveMessages(conns, 1, timeout, nil)
	return last, got, err
}

// receiveMessages waits on every connection for k messages, each within
// timeout of the previous one, and passes each to check (if not nil) with
// its index on that connection. It returns when the last message arrived
// on the last connection, how many arrived in all, and on how many
// connections reading or check failed (with the first such error).
func receiveMessages(conns []*websocket.Conn, k int, timeout time.Duration, check func(i int, msg []byte) error) (last time.Time, got int64, failed int, err error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var n atomic.Int64
	var firstErr error
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			var rerr error
			for i := 0; i < k && rerr == nil; i++ {
				_ = c.SetReadDeadline(time.Now().Add(timeout))
				var r io.Reader
				if _, r, rerr = c.NextReader(); rerr == nil {
					buf = buf[:0]
					if buf, rerr = readAll(r, buf); rerr == nil && check != nil {
						rerr = check(i, buf)
					}
				}
				if rerr == nil {
					n.Add(1)
				}
			}
			t := time.Now()
			mu.Lock()
			defer mu.Unlock()
			if rerr != nil {
				failed++
				if firstErr == nil {
					firstErr = rerr
				}
				return
			}
			if t.After(last) {
				last = t
			}
		}()
	}
	wg.Wait()
	if failed > 0 {
		err = errors.Join(fmt.Errorf("%d of %d connections failed, %d of %d messages received", failed, len(conns), n.Load(), int64(k)*int64(len(conns))), firstErr)
	}
	return last, n.Load(), failed, err
}

// readAll appends what r holds to buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
