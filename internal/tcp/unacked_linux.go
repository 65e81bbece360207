package tcp

import (
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// BindUnacked makes the kernel drop the TCP connection when data we wrote
// stays unacknowledged, or unsent because the peer's receive window is
// closed, for d (TCP_USER_TIMEOUT). A client that stops reading closes its
// window once its receive buffer is full; without this, our own send
// buffer (which Linux grows to megabytes) would keep accepting writes for
// a long while before one blocks long enough to hit the write timeout.
func BindUnacked(c net.Conn, d time.Duration) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT, int(d/time.Millisecond))
	})
}
