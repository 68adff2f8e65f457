//go:build !linux && !darwin && !freebsd && !netbsd && !openbsd && !dragonfly

package main

import "os"

// isTerminal, where moat cannot ask for a terminal's attributes, fails
// closed: any character device may be one, and the program's output to it
// is escaped (a pipe or a file still gets it raw).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err != nil || fi.Mode()&os.ModeCharDevice != 0
}
