//go:build linux

package ctrinit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRefusesOutsidePidNamespace: the init kills every process it can
// signal when the program ends, so it must not run anywhere but as pid 1.
func TestRefusesOutsidePidNamespace(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, Arg)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 125 || !strings.Contains(string(out), "not pid 1") {
		t.Fatalf("err %v, output %q; want exit 125 and a refusal", err, out)
	}
}

func frame(payload []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

func TestReadHeader(t *testing.T) {
	good, _ := json.Marshal(Header{Argv: []string{"python3", "-c", "pass"}, Env: []string{"A=1"}})
	h, err := readHeader(bytes.NewReader(frame(good)))
	if err != nil || h.Argv[2] != "pass" || h.Env[0] != "A=1" {
		t.Fatalf("readHeader = %+v, %v", h, err)
	}
	empty, _ := json.Marshal(Header{})
	huge := binary.BigEndian.AppendUint32(nil, maxHeader+1)
	for name, in := range map[string][]byte{
		"no program": frame(empty),
		"too big":    huge,
		"truncated":  frame(good)[:10],
		"not JSON":   frame([]byte("{")),
		"nothing":    nil,
	} {
		if _, err := readHeader(bytes.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestChunksStopAtTheEnd: the workspace reader never reads past its end
// chunk: what follows is the program's stdin.
func TestChunksStopAtTheEnd(t *testing.T) {
	var in bytes.Buffer
	in.Write(frame([]byte("abc")))
	in.Write(frame([]byte("defg")))
	in.Write([]byte{0, 0, 0, 0})
	in.WriteString("program's stdin")
	c := &chunks{r: &in}
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "abcdefg" {
		t.Fatalf("chunks = %q, %v", got, err)
	}
	if in.String() != "program's stdin" {
		t.Fatalf("left %q", in.String())
	}
	c = &chunks{r: bytes.NewReader(frame([]byte("abc"))[:5])}
	if _, err := io.ReadAll(c); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated chunk: %v", err)
	}
}

func TestWalk(t *testing.T) {
	root := t.TempDir()
	hook := filepath.Join(root, ".moat")
	for _, d := range []string{"a/b", ".moat/py"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "a/b/f"), []byte("12345"), 0o600); err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "link")); err != nil {
		t.Fatal(err)
	}
	rep := &Report{Dir: hook, Roots: []string{hook, root}, MaxEntries: 100, BudgetS: 60}
	got := map[string]entry{}
	entries, cut := walk(rep, time.Now().Add(time.Minute))
	for _, e := range entries {
		got[strings.TrimPrefix(e.path, root)] = e
	}
	if cut != "" || len(got) != 7 || got["/a/b/f"].size != 5 || got["/a/b/f"].mode&syscall.S_IFMT != syscall.S_IFREG ||
		got["/link"].mode&syscall.S_IFMT != syscall.S_IFLNK || got["/a"].mode&syscall.S_IFMT != syscall.S_IFDIR ||
		got[""].mode&syscall.S_IFMT != syscall.S_IFDIR || got["/.moat/py"].mode == 0 {
		t.Fatalf("walk = %+v, %q; want both roots, /a, /a/b, /a/b/f, /link (not followed) and the hook's dir once, as a root", got, cut)
	}
	if entries[0].path != hook || entries[1].path != hook+"/py" {
		t.Fatalf("walk starts with %v; want the hook's dir first", entries[:2])
	}
	rep.MaxEntries = 2
	if e, cut := walk(rep, time.Now().Add(time.Minute)); len(e) != 2 || !strings.Contains(cut, "2 entries") {
		t.Fatalf("walk past MaxEntries: %d entries, cut %q", len(e), cut)
	}
	rep.MaxEntries, rep.MaxWalkBytes = 100, 10
	if e, cut := walk(rep, time.Now().Add(time.Minute)); len(e) != 1 || !strings.Contains(cut, "10 bytes") {
		t.Fatalf("walk past MaxWalkBytes: %d entries, cut %q", len(e), cut)
	}
	if _, cut := walk(rep, time.Now().Add(-time.Second)); !strings.Contains(cut, "time budget") {
		t.Fatalf("walk past its deadline: cut %q", cut)
	}
	// A tree deeper than MaxDepth: walked down to there, and said.
	rep.MaxWalkBytes, rep.MaxDepth = 0, 2
	if err := os.MkdirAll(filepath.Join(root, "a/b/c/d"), 0o755); err != nil {
		t.Fatal(err)
	}
	e, cut := walk(rep, time.Now().Add(time.Minute))
	names := map[string]bool{}
	for _, x := range e {
		names[strings.TrimPrefix(x.path, root)] = true
	}
	if !names["/a/b"] || names["/a/b/c"] || names["/a/b/f"] || !strings.Contains(cut, "deeper than 2 levels was not walked below "+root+"/a/b") {
		t.Fatalf("walk past MaxDepth: %v, cut %q", names, cut)
	}
	b, err := json.Marshal([]entry{{path: "/w/\"x\"", size: 1, mode: 0o100644, ino: 7, ctime: 9}})
	if err != nil || string(b) != `[["/w/\"x\"",1,33188,7,9]]` {
		t.Fatalf("entry JSON = %s, %v", b, err)
	}
}

func TestErrnoOf(t *testing.T) {
	_, notFound := exec.LookPath("moat-no-such-program")
	for err, want := range map[error]int{
		notFound:                              2,
		&fs.PathError{Err: syscall.EACCES}:    13,
		&fs.PathError{Err: syscall.ENOEXEC}:   8,
		&exec.Error{Err: fs.ErrPermission}:    13,
		errors.New("something else entirely"): 0,
	} {
		if got := errnoOf(err); got != want {
			t.Errorf("errnoOf(%v) = %d, want %d", err, got, want)
		}
	}
}

// TestExecShimUnderLimit: the shim is a Go program whose own address space
// is over the limit it sets (the runtime reserves far more than 64 MiB), and
// it must still execute the program: nothing may be allocated after the
// limit. A large environment makes an allocation after it certain.
func TestExecShimUnderLimit(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	const limit = 64 << 20
	cmd := exec.Command(exe, ExecArg, "67108864", "0", shimPlain, "/bin/sh", "sh", "-c", "ulimit -v")
	cmd.Env = os.Environ()
	pad := strings.Repeat("x", 4000)
	for i := range 400 {
		cmd.Env = append(cmd.Env, "MOAT_PAD_"+strings.Repeat("y", i%7)+string(rune('a'+i%26))+"_"+strconv.Itoa(i)+"="+pad)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != strconv.Itoa(limit>>10) {
		t.Fatalf("err %v, output %.300q; want ulimit -v %d", err, out, limit>>10)
	}
}

// TestExecShimNproc: the shim sets RLIMIT_NPROC, alone or with RLIMIT_AS.
func TestExecShimNproc(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, as := range []string{"0", "1073741824"} {
		out, err := exec.Command(exe, ExecArg, as, "4321", shimPlain, "/bin/sh", "sh", "-c", "ulimit -p; ulimit -v").CombinedOutput()
		want := "4321\nunlimited"
		if as != "0" {
			want = "4321\n1048576"
		}
		if err != nil || strings.TrimSpace(string(out)) != want {
			t.Errorf("RLIMIT_AS %s: err %v, output %q; want %q", as, err, out, want)
		}
	}
}

// TestIsPythonName: only an interpreter's names make the init send its
// hash as the run's interpreter (a shell of `moat test --command` is no
// interpreter: a copy of it the run wrote must stay a finding).
func TestIsPythonName(t *testing.T) {
	for name, want := range map[string]bool{"python": true, "python3": true, "python3.11": true, "pypy3": true,
		"sh": false, "bash": false, "python3-config": false, "pythonx": false, "ipython": false} {
		if got := isPythonName(name); got != want {
			t.Errorf("isPythonName(%q) = %v, want %v", name, got, want)
		}
	}
}
