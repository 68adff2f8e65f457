//go:build !linux

package loginuid

import "errors"

// Set is Linux only: elsewhere there is no login uid to set.
func Set(uid int) error { return errors.New("login uid: not supported on this system") }
