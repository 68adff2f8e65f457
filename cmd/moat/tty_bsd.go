//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// isTerminal on the BSDs and macOS, where the jail, Docker, Podman, SSH and
// Kubernetes backends run programs whose output reaches this terminal: it
// must be escaped there as on Linux (an OSC 52 sequence writes the
// user's clipboard, others retitle or answer into the terminal's input).
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TIOCGETA)
	return err == nil
}
