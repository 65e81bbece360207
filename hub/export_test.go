package hub

// SetLeaveHook makes every leave run f right after it released the hub's
// lock, until restore is called: tests use it to run a Join in that gap.
func SetLeaveHook(f func()) (restore func()) {
	leaveHook.Store(&f)
	return func() { leaveHook.Store(nil) }
}
