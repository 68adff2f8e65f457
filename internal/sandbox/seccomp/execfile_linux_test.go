//go:build linux

package seccomp

import "testing"

// TestSelfFD: only the caller's descriptors are opened through the
// supervisor's /proc; a path that climbs or goes through the sandbox's
// root or cwd is resolved in the sandbox's root as any other.
func TestSelfFD(t *testing.T) {
	for p, want := range map[string]string{
		"/proc/self/fd/3":           "3",
		"/proc/thread-self/fd/12":   "12",
		"/proc/self/fd/3/../x":      "",
		"/proc/self/../1/fd/3":      "",
		"/proc/self/root/etc/x":     "",
		"/proc/self/cwd/x":          "",
		"/proc/self/fd/":            "",
		"/proc/self/exe":            "",
		"/proc/self/fd/99999999999": "",
		"/usr/bin/true":             "",
	} {
		got, ok := selfFD(p)
		if got != want || ok != (want != "") {
			t.Errorf("selfFD(%q) = %q, %v; want %q", p, got, ok, want)
		}
	}
}
