//go:build !linux

package timens

import "time"

// Ahead is Linux's only.
func Ahead(time.Duration) error { return ErrUnsupported }

// AheadForking is Linux's only.
func AheadForking(time.Duration) error { return ErrUnsupported }
