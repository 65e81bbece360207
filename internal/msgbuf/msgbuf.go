// Package msgbuf holds the pooled buffers received messages are read into,
// between the socket and the handler.
package msgbuf

import (
	"errors"
	"io"
	"sync"
)

// Buf holds one received message; B is its payload.
type Buf struct{ B []byte }

const (
	// Initial is the capacity of a new buffer.
	Initial = 512
	// MaxPooled is the largest buffer kept for reuse. A reader that grows a
	// message past it accounts for the rest itself (fiberws takes it from
	// the Server's partial-message budget), so what a connection holds
	// unaccounted is at most this.
	MaxPooled = 16 << 10
)

// ErrTooBig is what Read returns for a message longer than its limit.
var ErrTooBig = errors.New("fiberws: message exceeds the read limit")

var pool = sync.Pool{New: func() any { return &Buf{B: make([]byte, 0, Initial)} }}

// Get takes an empty buffer from the pool.
func Get() *Buf { return pool.Get().(*Buf) }

// Put returns b to the pool, unless it grew past MaxPooled.
func Put(b *Buf) {
	if cap(b.B) > MaxPooled {
		return
	}
	b.B = b.B[:0]
	pool.Put(b)
}

// Read reads r to EOF into the buffer, growing it as needed with grow
// (which may refuse: its error ends the read), and stops with ErrTooBig
// once it holds more than limit bytes. Unlike bytebufferpool's, whose size
// calibration drops a buffer that had to grow past its class (every
// 64-byte message did), buffers here stay pooled.
func (b *Buf) Read(r io.Reader, limit int64, grow func(b *Buf) error) error {
	for {
		if int64(len(b.B)) > limit {
			return ErrTooBig // before growing for bytes it will not keep
		}
		if len(b.B) == cap(b.B) {
			if err := grow(b); err != nil {
				return err
			}
		}
		n, err := r.Read(b.B[len(b.B):cap(b.B)])
		b.B = b.B[:len(b.B)+n]
		// io.Reader returns io.EOF itself, never wrapped: == keeps
		// errors.Is off the per-message path.
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// GrowTo makes room for at least c bytes, keeping the contents.
func (b *Buf) GrowTo(c int) {
	nb := make([]byte, len(b.B), c)
	copy(nb, b.B)
	b.B = nb
}
