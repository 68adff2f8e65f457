// Package local names moat's own places and runs on this host: the per-user
// cache directory and the random ids of runs and their private directories.
package local

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
)

// CacheDir is moat's directory in the user's cache ($XDG_CACHE_HOME/moat or
// ~/.cache/moat), or "" when the user has none: callers then cache nothing.
func CacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "moat")
}

// NewID is 16 hex digits from the system's random source: the name of a
// run's directory, cgroup or container, never guessable by another run.
func NewID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails on Linux ≥ 3.17 (getrandom); crypto/rand panics itself otherwise
	return hex.EncodeToString(b[:])
}
