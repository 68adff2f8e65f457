//go:build !linux

package container

import "errors"

// SeccompProfile needs Docker's default profile, which exists for Linux only.
func SeccompProfile() ([]byte, error) {
	return nil, errors.New("container: seccomp profile: Linux only")
}

// SeccompOCI needs SeccompProfile: Linux only.
func SeccompOCI() ([]byte, error) { return SeccompProfile() }

// SeccompName needs SeccompProfile: Linux only.
func SeccompName() (string, error) {
	_, err := SeccompProfile()
	return "", err
}

// GuardedProfile needs SeccompProfile: Linux only.
func GuardedProfile() ([]byte, error) { return SeccompProfile() }

// Guardable is false: no guard but on Linux.
func Guardable() bool { return false }
