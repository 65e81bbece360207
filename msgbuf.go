package fiberws

import (
	"io"
	"sync"
)

// msgBuf holds one received message between the socket and the handler.
type msgBuf struct{ b []byte }

const (
	msgBufInitial = 512 // capacity of a new buffer
	// msgBufMaxPooled is the largest buffer kept for reuse. Growing a
	// message past it takes from the Server's partial-message budget
	// (partial.go), so what a connection holds unaccounted is at most this.
	msgBufMaxPooled = 16 << 10
)

var msgBufPool = sync.Pool{New: func() any { return &msgBuf{b: make([]byte, 0, msgBufInitial)} }}

func getMsgBuf() *msgBuf { return msgBufPool.Get().(*msgBuf) }

func putMsgBuf(m *msgBuf) {
	if cap(m.b) > msgBufMaxPooled {
		return
	}
	m.b = m.b[:0]
	msgBufPool.Put(m)
}

// readFrom reads r to EOF into the buffer, growing it as needed with grow
// (which may refuse: its error ends the read), and stops with
// errMessageTooBig once it holds more than limit bytes. Unlike bytebufferpool's,
// whose size calibration drops a buffer that had to grow past its class
// (every 64-byte message did), buffers here stay pooled.
func (m *msgBuf) readFrom(r io.Reader, limit int64, grow func(m *msgBuf) error) error {
	for {
		if int64(len(m.b)) > limit {
			return errMessageTooBig // before growing for bytes it will not keep
		}
		if len(m.b) == cap(m.b) {
			if err := grow(m); err != nil {
				return err
			}
		}
		n, err := r.Read(m.b[len(m.b):cap(m.b)])
		m.b = m.b[:len(m.b)+n]
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// growTo makes room for at least c bytes, keeping the contents.
func (m *msgBuf) growTo(c int) {
	b := make([]byte, len(m.b), c)
	copy(b, m.b)
	m.b = b
}
