//go:build !linux

package tcp

import (
	"net"
	"time"
)

// BindUnacked is Linux's TCP_USER_TIMEOUT (unacked_linux.go); elsewhere a
// client that stops reading is found by the write timeout alone.
func BindUnacked(net.Conn, time.Duration) {}
