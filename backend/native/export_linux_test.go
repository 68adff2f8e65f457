package native

import "github.com/moat-sandbox/moat"

// SetHandoverHook sets testHookHandover for a test and returns the undo.
func SetHandoverHook(f func(initPid int)) func() {
	testHookHandover = f
	return func() { testHookHandover = nil }
}

// ZygoteChild returns the host pid of a zygote child's pid 1 and the name
// of its cgroup.
func ZygoteChild(p moat.Prepared) (pid1 int, group string) {
	c := p.(*zygoteChild)
	return c.pid1, c.groupName
}
