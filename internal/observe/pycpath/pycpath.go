// Package pycpath names the source a cached .pyc belongs to, and bounds
// what of the suspect bytecode of a run is carried out of the sandbox for
// its verification (report.VerifyBytecode). It imports nothing but the
// standard library's path and strings: the containers' init uses it.
package pycpath

import (
	"path"
	"strings"
)

// Bounds of what is kept of the suspect bytecode for its verification: a
// .pyc and its source of up to MaxFile bytes each, at most MaxPairs of
// them and MaxBytes in all. A suspect past them is not verified: its
// finding stays high.
const (
	MaxFile  = 1 << 20
	MaxPairs = 100
	MaxBytes = 16 << 20
)

// Source is the source whose cache the .pyc at p is
// (DIR/__pycache__/NAME.TAG[.opt-N].pyc is DIR/NAME.py's) and its
// optimization level (N, 0 for none); ok is false for any other name.
func Source(p string) (src string, opt int, ok bool) {
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if path.Base(dir) != "__pycache__" || !strings.HasSuffix(base, ".pyc") {
		return "", 0, false
	}
	parts := strings.Split(strings.TrimSuffix(base, ".pyc"), ".")
	switch {
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
	case len(parts) == 3 && parts[0] != "" && parts[1] != "" && (parts[2] == "opt-1" || parts[2] == "opt-2"):
		opt = int(parts[2][4] - '0')
	default:
		return "", 0, false
	}
	return path.Dir(dir) + "/" + parts[0] + ".py", opt, true
}
