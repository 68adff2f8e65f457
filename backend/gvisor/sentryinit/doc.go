// Package sentryinit is pid 1 of a gVisor sandbox when the report is on:
// this binary (moat's, or a test's), bound read-only in the sandbox and
// started by runsc with Env naming the walk file (init_linux.go says what
// it does and what the program cannot do to it). The gvisor backend
// imports it for the names below and to link the init in.
//
// The init is a package of its own, with few imports, so that it runs
// early: Go initializes a binary's packages in import path order as each
// one's imports are done, and this package's init function starts the
// init (and never returns) as soon as its own imports are ready. Inside
// the backend's package it ran after some 200 packages (Docker's and
// Kubernetes' clients, protobuf, regexps compiled): every page of their
// code and data faulted in through the Sentry, in every run, before the
// program started. Keep its imports to the standard library, x/sys and
// the small packages of moat it needs; TestInitEarly checks the order.
package sentryinit

import "github.com/moat-sandbox/moat/internal/sandbox/survivors"

const (
	// Env, in pid 1's environment, names the walk file (inside the
	// sandbox) and makes this binary, as pid 1, the init. Its name says
	// nothing of moat: the Sentry (unlike Linux) lets the program read a
	// non-dumpable pid 1's /proc/1/environ, the environment it started
	// with (corpus tells.py found MOAT_... there). The init unsets it for
	// the program.
	Env = "INIT_WALK"
	// ShmDir is the directory the init walks: the Sentry's tmpfs.
	ShmDir = "/dev/shm"
	// UID is the uid and gid the init starts the program as: never root.
	UID = 1000
	// Files bounds the entries of /dev/shm the init packs (the host walks
	// at most observe.MaxFSEntries of all roots).
	Files = 100000
	// NonceLen is the length of the walk file's nonce (hex).
	NonceLen = 32
	// Trailer ends a complete walk stream: the nonce after it.
	Trailer = "\nMOAT-SHM-WALK-END "
	// Before the trailer, the JSON of how the run ended ([Ended]), at
	// most MaxOutlivedJSON bytes, and its length in OutlivedDigits
	// decimal digits.
	MaxOutlivedJSON = 64 << 10
	OutlivedDigits  = 8
	// PidsDigits: the host writes the walk file's nonce, then, if the run
	// has a pids limit, a space and the limit in PidsDigits decimal
	// digits, which the init keeps (the host's cgroup counts the
	// Sentry's threads, not the program's tasks).
	PidsDigits = 8
)

// Ended is what the init tells the host of the run's end, in the walk.
type Ended struct {
	// Outlived: the processes left when the program ended, or at moat's
	// stop, which the init killed.
	Outlived []survivors.Process `json:"outlived"`
	// PidsHit: the program's tasks reached the pids limit, and the init
	// ended the run there.
	PidsHit bool `json:"pids_hit,omitempty"`
}
