//go:build !linux

package timens

import "time"

// Ahead is Linux's only.
func Ahead(time.Duration) error { return ErrUnsupported }
