package report

import "testing"

// TestCanonical: another spelling of a path names the same file (red
// team, session 22), and ".." is never taken lexically (past a link the
// run made it names another directory).
func TestCanonical(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/proc/self/root/tmp/.c/a":                        "/tmp/.c/a",
		"//tmp/./.c/b":                                    "/tmp/.c/b",
		"/proc/12/root/proc/self/root/work/x":             "/work/x",
		"/proc/thread-self/root//home/u/.aws/credentials": "/home/u/.aws/credentials",
		"/tmp/l/../../usr/bin/python3":                    "/tmp/l/../../usr/bin/python3",
		"/proc/self/fd/3":                                 "/proc/self/fd/3",
		"/proc/self/root/proc/self/fd/3":                  "/proc/self/fd/3",
		"/proc/self/rootx/a":                              "/proc/self/rootx/a",
		"relative/./x":                                    "relative/./x",
		"/usr/bin/python3":                                "/usr/bin/python3",
	} {
		if got := canonical(in); got != want {
			t.Errorf("canonical(%q) = %q, want %q", in, got, want)
		}
	}
}
