//go:build !linux

package server

import "errors"

// getPeerUID is Linux only (SO_PEERCRED); elsewhere socket peers have
// no identity and so no access.
func getPeerUID(fd int) (int, error) { return -1, errors.New("peer credentials: Linux only") }
