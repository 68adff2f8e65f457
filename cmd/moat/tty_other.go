//go:build !linux

package main

import "os"

// isTerminal says false off Linux: output is then escaped never, and moat
// runs nothing there anyway.
func isTerminal(f *os.File) bool { return false }
