package fiberws

import (
	"io"
	"sync"
)

// msgBuf holds one received message between the socket and the handler.
type msgBuf struct{ b []byte }

const (
	msgBufInitial   = 512      // capacity of a new buffer
	msgBufMaxPooled = 64 << 10 // larger buffers are left to the GC
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

// ReadFrom reads r to EOF into the buffer, growing it as needed. Unlike
// bytebufferpool's, whose size calibration drops a buffer that had to grow
// past its class (every 64-byte message did), buffers here stay pooled.
func (m *msgBuf) ReadFrom(r io.Reader) (int64, error) {
	start := len(m.b)
	for {
		if len(m.b) == cap(m.b) {
			m.b = append(m.b, 0)[:len(m.b)]
		}
		n, err := r.Read(m.b[len(m.b):cap(m.b)])
		m.b = m.b[:len(m.b)+n]
		if err == io.EOF {
			return int64(len(m.b) - start), nil
		}
		if err != nil {
			return int64(len(m.b) - start), err
		}
	}
}
