package report

import "testing"

// TestFDPath: the names of an open descriptor, and nothing else.
func TestFDPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/proc/self/fd/3": true, "/proc/thread-self/fd/12": true, "/dev/fd/4": true, "/proc/42/fd/5": true,
		"/proc/self/fd/": false, "/proc/self/fd/x": false, "/proc/self/exe": false, "/usr/bin/3": false,
		"/proc/4a/fd/3": false, "/tmp/fd/3": false, "/proc//fd/3": false,
	} {
		if got := fdPath(p); got != want {
			t.Errorf("fdPath(%q) = %v, want %v", p, got, want)
		}
	}
}
