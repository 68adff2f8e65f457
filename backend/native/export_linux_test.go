package native

// SetHandoverHook sets testHookHandover for a test and returns the undo.
func SetHandoverHook(f func(initPid int)) func() {
	testHookHandover = f
	return func() { testHookHandover = nil }
}
