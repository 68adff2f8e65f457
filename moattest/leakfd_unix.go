//go:build unix

package moattest

import (
	"os"
	"syscall"
)

// leakFD opens path and returns a duplicate descriptor of it without
// close-on-exec: what a careless caller of moat leaves open, and what every
// child of this process inherits unless the sandbox closes it.
func leakFD(path string) (int, func(), error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return 0, nil, err
	}
	return fd, func() { syscall.Close(fd) }, nil
}
