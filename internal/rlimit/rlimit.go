// Package rlimit reads the process's limit on open files, where the
// system has one: the bound that connection caps must stay under.
package rlimit

// OpenFiles returns the process's soft limit on open file descriptors
// (RLIMIT_NOFILE; Go raises it to the hard limit at start-up), and false
// on systems without one (Windows).
func OpenFiles() (limit uint64, ok bool) { return openFiles() }
