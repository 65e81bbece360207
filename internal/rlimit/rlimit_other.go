//go:build !unix

package rlimit

func openFiles() (uint64, bool) { return 0, false }
