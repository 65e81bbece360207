// Package tcp reaches the TCP socket under a WebSocket connection: to drop
// it at once, and to bound how long written data may stay unacknowledged.
package tcp

import (
	"crypto/tls"
	"net"
)

// Underlying returns the real socket under nc, a connection fasthttp
// hijacked (possibly TLS). fasthttp's wrapper's Close does nothing
// (fasthttp closes the socket once the hijack handler has returned) and
// fasthttp reuses the wrapper for another client afterwards, so take the
// socket out of it once, at upgrade. A tls.Conn's Close first writes
// close_notify, which can block on a full socket: the TCP connection under
// it is returned instead.
func Underlying(nc net.Conn) net.Conn {
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		nc = u.UnsafeConn()
	}
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	return nc
}
