package container

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
)

// TestSentryHashes: an exec of the Sentry's trace (gVisor as Docker's
// runtime) is hashed from the init's after walk and data when the file
// and the way to it are unchanged since the exec: a file in a directory
// where only a deeper entry was made since (a suite's next venv) is;
// one whose directory changed (a link in its place), or one renamed onto
// its name, or under a directory renamed into place, gets no hash and says
// so; a link the run made to the image's interpreter gets its hash; a
// file not sent whole, removed, or a link out of the writable places to
// anything else, none.
func TestSentryHashes(t *testing.T) {
	start := time.Unix(1000, 0)
	const ms = 500
	at := start.Add(ms * time.Millisecond).UnixNano()
	old, late := at-int64(time.Millisecond), at+int64(time.Millisecond)
	dir := func(ctime int64) observe.FileState { return observe.FileState{Mode: fs.ModeDir | 0o755, Ctime: ctime} }
	file := func(size, ctime int64) observe.FileState {
		return observe.FileState{Mode: 0o755, Size: size, Ctime: ctime}
	}
	link := func(to string, ctime int64) observe.FileState {
		return observe.FileState{Mode: fs.ModeSymlink | 0o777, Ctime: ctime, Link: to}
	}
	bin := []byte("\x7fELF payload")
	console := []byte("#!/work/.venvs/a/bin/py3\nimport sys\n")
	script := []byte("#!/usr/bin/python3\nprint(1)\n")
	after := observe.Snapshot{
		"/work": dir(old), "/home/u": dir(late), "/home/u/tool": file(int64(len(bin)), old), // the home changed: the link trick
		"/work/.venvs": dir(late), "/work/.venvs/a": dir(old), "/work/.venvs/a/bin": dir(old),
		"/work/.venvs/a/bin/python": file(int64(len(bin)), old), "/work/.venvs/a/bin/py3": link("python", old),
		"/work/.venvs/a/bin/link": link("/usr/bin/python3", old), "/work/.venvs/a/bin/other": link("/usr/bin/perl", old),
		"/work/.venvs/a/bin/script": file(int64(len(script)), old), "/work/.venvs/a/bin/cut": file(100, old),
		"/work/.venvs/a/bin/swapped": file(int64(len(bin)), late), "/work/.venvs/a/bin/pytest": file(int64(len(console)), old), "/work/.venvs/a/bin/holey": file(12, old),
		"/tmp": dir(late), "/tmp/x": dir(late), "/tmp/x/y": dir(old), "/tmp/x/y/tool": file(int64(len(bin)), old),
	}
	s := newSpool(1 << 20)
	defer s.close()
	for p, data := range map[string][]byte{"/home/u/tool": bin, "/work/.venvs/a/bin/python": bin, "/work/.venvs/a/bin/script": script,
		"/work/.venvs/a/bin/swapped": bin, "/tmp/x/y/tool": bin, "/work/.venvs/a/bin/pytest": console, "/work/.venvs/a/bin/cut": bin} {
		s.frame(contentFrame(p, 0, data))
		if !strings.HasSuffix(p, "/cut") {
			s.frame(contentFrame(p, int64(len(data)), nil))
		}
	}
	s.frame(contentFrame("/work/.venvs/a/bin/holey", 0, []byte("ab")))
	s.frame(contentFrame("/work/.venvs/a/bin/holey", 10, []byte("cd")))
	s.frame(contentFrame("/work/.venvs/a/bin/holey", 12, nil))
	sum := func(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }
	interp := strings.Repeat("ab", 32)
	for _, c := range []struct {
		path, sha, script string
		changed           bool
		scriptSHA         string // of what its "#!" names
	}{
		{"/work/.venvs/a/bin/pytest", sum(console), "#!/work/.venvs/a/bin/py3", false, sum(bin)},
		{"/work/.venvs/a/bin/python", sum(bin), "", false, ""},
		{"/work/.venvs/a/bin/py3", sum(bin), "", false, ""},
		{"/work/.venvs/a/bin/script", sum(script), "#!/usr/bin/python3", false, ""},
		{"/work/.venvs/a/bin/link", interp, "", false, ""},
		{"/work/.venvs/a/bin/holey", sum([]byte("ab\x00\x00\x00\x00\x00\x00\x00\x00cd")), "", false, ""},
		{"/home/u/tool", "", "", true, ""},
		{"/work/.venvs/a/bin/swapped", "", "", true, ""},
		{"/tmp/x/y/tool", "", "", true, ""}, // /tmp/x renamed into place: it and /tmp changed
		{"/work/.venvs/a/bin/other", "", "", false, ""},
		{"/work/.venvs/a/bin/cut", "", "", false, ""},
		{"/work/.venvs/a/bin/gone", "", "", false, ""},
		{"/usr/bin/python3", "", "", false, ""}, // no link of the run's: judged by name
	} {
		evs := []moat.Event{{Source: moat.SourceMoat, Kind: moat.KindInterpreter, Path: "/usr/bin/python3.11", SHA256: interp},
			{Source: moat.SourceKernel, Kind: moat.KindExec, Path: c.path, TimeMS: ms}}
		sentryHashes(evs, after, []string{"/work", "/home/u", "/tmp", "/tmp/hook"}, start, s)
		e := evs[1]
		if e.SHA256 != c.sha || e.Script != c.script || strings.Contains(e.Detail, Replaced) != c.changed || e.ScriptSHA256 != c.scriptSHA {
			t.Errorf("%s: sha256 %q script %q detail %q; want %q %q changed %v", c.path, e.SHA256, e.Script, e.Detail, c.sha, c.script, c.changed)
		}
	}
}
