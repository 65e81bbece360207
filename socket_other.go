//go:build !linux

package fiberws

import (
	"net"
	"time"
)

// bindUnacked is Linux's TCP_USER_TIMEOUT (socket_linux.go); elsewhere a
// client that stops reading is found by the write timeout alone.
func bindUnacked(net.Conn, time.Duration) {}
