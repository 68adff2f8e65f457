package container

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	moatseccomp "github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	moatreport "github.com/moat-sandbox/moat/report"
)

// Under gVisor as the engine's runtime the files an exec of the Sentry's
// trace ran are in the Sentry's own tmpfs: the host cannot read them while
// the program runs, and the init sees no exec (its listener is refused).
// What the run wrote is read at its end instead: the init's after walk
// (each entry's change time) and the data it sends of every file the run
// wrote ('c' frames, read for the diff anyway). An exec is hashed from
// them when the file it names (through at most maxSentryLinks links the
// run made, never followed on the host) is unchanged since the exec, and
// so is the way to it (resolveExec): a write or a rename onto its name
// moves its change time, a link or a removal there that of the directory
// it is in (the Sentry's tmpfs moves no change time of a file linked,
// measured), and a directory renamed into place on its way moves its own
// and that of the directory it went into; a writable place itself is a
// mount point, never renamed. A file that changed gets no hash and says so
// (Replaced); one not sent whole, none. A link that ends at the runtime's
// interpreter, or a python beside it, in the read-only image ran the
// interpreter: it gets the interpreter's hash (the init's interpreter
// frame). What this cannot see (SECURITY.md): a write through a shared
// mapping moves no change time in the Sentry's tmpfs (runsc 20221219,
// measured), so a program that rewrites a file it ran through a mapping
// shows moat the rewritten data.

// maxSentryLinks bounds the links followed from an exec's path (a venv's
// bin/python is one or two: python -> python3 -> the interpreter).
const maxSentryLinks = 8

// maxSentryHash bounds a file hashed (seccomp.MaxExecHash); the spool
// holds observe.MaxScanTotal of data in all.
const maxSentryHash = 64 << 20

// Replaced ends the detail of an exec whose file, or a directory on its
// way, changed after the exec: what ran is not known.
const Replaced = "[the file, or a directory on its way, changed after this exec, before the end of the run: what ran is not known]"

// sentryHashes hashes each unhashed exec of the Sentry's trace among evs
// (their times counted from start) from the after walk (after, of roots,
// the writable places) and the data the init sent (c), as above.
func sentryHashes(evs []moat.Event, after observe.Snapshot, roots []string, start time.Time, c *spool) {
	var interp moat.Event
	for _, e := range evs {
		if e.Source == moat.SourceMoat && e.Kind == moat.KindInterpreter && e.SHA256 != "" && path.IsAbs(e.Path) {
			interp = e
			break
		}
	}
	for i, e := range evs {
		if e.Source != moat.SourceKernel || e.Kind != moat.KindExec || e.SHA256 != "" || e.TimeMS <= 0 {
			continue
		}
		// The exec's entry was logged no earlier than this (the trace's
		// times are cut to the millisecond, from start).
		at := start.Add(time.Duration(e.TimeMS) * time.Millisecond).UnixNano()
		p, how := resolveExec(e.Path, interp.Path, after, roots, at)
		switch how {
		case execInterpreter:
			if interp.SHA256 != "" {
				evs[i].SHA256 = interp.SHA256
			}
		case execFile:
			evs[i].SHA256, evs[i].Script = spoolHash(c, p, after[p].Size)
			// What its "#!" names, by the same reading (a venv's console
			// script: its bin/python, the run's).
			if name := moatseccomp.ScriptInterpreter(evs[i].Script); name != "" && evs[i].SHA256 != "" {
				switch q, how := resolveExec(name, interp.Path, after, roots, at); how {
				case execInterpreter:
					evs[i].ScriptSHA256 = interp.SHA256
				case execFile:
					evs[i].ScriptSHA256, _ = spoolHash(c, q, after[q].Size)
				}
			}
		case execChanged:
			evs[i].Detail = audit.Clean(evs[i].Detail+" "+Replaced, 2600)
		}
	}
}

// What resolveExec found.
const (
	execUnknown     = iota // not in a writable place, or not read: no hash
	execFile               // a regular file the walk has, unchanged since the exec
	execInterpreter        // links, unchanged, to the image's interpreter
	execChanged            // the file or a link or directory on its way changed since
)

// resolveExec follows p, in one of roots, through at most maxSentryLinks
// links to a regular file in a root, or to interp or a python beside it
// outside every root (n > 0 links on: the read-only image), with every
// link, file and directory from its root down in after, and none changed
// (change times) since at (ns) as a replacement would change it: each
// link or file and the directory it is in not at all; a directory above
// that not together with the directory it is in (a rename into place
// changes both; an entry made in it, as a suite's next venv, only the
// former).
func resolveExec(p, interp string, after observe.Snapshot, roots []string, at int64) (string, int) {
	for n := 0; n <= maxSentryLinks; n++ {
		if !path.IsAbs(p) || path.Clean(p) != p || strings.Contains(p, audit.CutMark) {
			return "", execUnknown
		}
		root := "" // the outermost: a mount point (the hook's directory is in /tmp)
		for _, r := range roots {
			if r != "" && strings.HasPrefix(p, r+"/") && (root == "" || len(r) < len(root)) {
				root = r
			}
		}
		if root == "" {
			if n > 0 && interp != "" && (p == interp || path.Dir(p) == path.Dir(interp) && moatreport.PythonName(path.Base(p))) {
				return p, execInterpreter
			}
			return "", execUnknown
		}
		for d := path.Dir(p); ; d = path.Dir(d) {
			st, ok := after[d]
			if !ok || !st.Mode.IsDir() {
				return "", execUnknown
			}
			if st.Ctime > at {
				up, ok := after[path.Dir(d)]
				if d == path.Dir(p) || d != root && (!ok || up.Ctime > at) {
					return "", execChanged
				}
			}
			if d == root {
				break
			}
		}
		st, ok := after[p]
		switch {
		case !ok:
			return "", execUnknown // removed since (a venv removed): read nothing
		case st.Ctime > at:
			return "", execChanged
		case st.Mode.IsRegular():
			return p, execFile
		case st.Link == "":
			return "", execUnknown
		}
		t := st.Link
		if !path.IsAbs(t) {
			t = path.Join(path.Dir(p), t)
		}
		p = path.Clean(t)
	}
	return "", execUnknown
}

// spoolHash is the sha256 of the file p as the init sent it (its holes
// zeros), and its "#!" line; "" unless it was sent whole, size bytes, at
// most maxSentryHash.
func spoolHash(c *spool, p string, size int64) (sum, script string) {
	if c == nil || size < 0 || size > maxSentryHash {
		return "", ""
	}
	h := sha256.New()
	var head []byte
	zeros := make([]byte, 32<<10)
	off := int64(0)
	for off < size {
		from, to, err := c.data(p, off)
		if err != nil || from < off || to > size {
			return "", ""
		}
		for off < from { // a hole
			n := min(from-off, int64(len(zeros)))
			h.Write(zeros[:n])
			if len(head) < moatseccomp.MaxScriptLine {
				head = append(head, zeros[:min(n, int64(moatseccomp.MaxScriptLine-len(head)))]...)
			}
			off += n
		}
		if from == to {
			break // the file's end
		}
		for off < to {
			b, err := c.readAt(p, off, min(to-off, 1<<20))
			if err != nil || len(b) == 0 {
				return "", ""
			}
			h.Write(b)
			if len(head) < moatseccomp.MaxScriptLine {
				head = append(head, b[:min(len(b), moatseccomp.MaxScriptLine-len(head))]...)
			}
			off += int64(len(b))
		}
	}
	if off != size {
		return "", ""
	}
	// The init ended the file where the walk says it ends.
	if end, _, err := c.data(p, size); err != nil || end != size {
		return "", ""
	}
	line, _, _ := bytes.Cut(head, []byte("\n"))
	if bytes.HasPrefix(line, []byte("#!")) {
		script = audit.Clean(string(line), 300)
	}
	return hex.EncodeToString(h.Sum(nil)), script
}
