package moattest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
)

// conformanceCases check the contract of Backend.Run.
func conformanceCases() []testCase {
	return []testCase{
		{name: "exit-code", fn: testExitCode},
		{name: "stdout-stderr", fn: testStdoutStderr},
		{name: "stdin", fn: testStdin},
		{name: "wait-calls", fn: testWaitCalls},
		{name: "args", fn: testArgs},
		{name: "env", alone: true, fn: testEnv},
		{name: "files", fn: testFiles},
		{name: "workspace", fn: testWorkspace},
		{name: "copy-out-caps", fn: testCopyOutCaps},
		{name: "limit-timeout", fn: testLimitTimeout},
		{name: "limit-memory", alone: true, fn: testLimitMemory},
		{name: "limit-pids", alone: true, fn: testLimitPids},
		{name: "limit-threads", alone: true, fn: testLimitThreads},
		{name: "limit-output", fn: testLimitOutput},
		{name: "limit-disk", fn: testLimitDisk},
		{name: "shm-spawn", fn: testShmSpawn},
		{name: "signaled", fn: testSignaled},
		{name: "interpreter-end", fn: testInterpreterEnd},
		{name: "cancel", fn: testCancel},
		{name: "readonly-runtime", fn: testReadonlyRuntime},
		{name: "userland", fn: testUserland},
		{name: "pty", fn: testPty},
		{name: "user", fn: testUser},
		{name: "network-none", fn: testNetworkNone},
		{name: "cleanup", alone: true, fn: testCleanup}, // its check of no new cgroups sees every parallel case's
		{name: "concurrency", fn: testConcurrency},
		{name: "layers", fn: testLayers},
	}
}

func testExitCode(t *testing.T, s *suite) {
	res := s.run(t, s.py("import sys; sys.exit(3)"))
	wantStatus(t, res, moat.StatusExited, 3)
	if res.ExitCode != 3 {
		t.Errorf("ExitCode = %d, want 3", res.ExitCode)
	}
	if res.Error != "" {
		t.Errorf("Error = %q for a program's own exit", res.Error)
	}
	// An uncaught exception is Python's exit 1, not a sandbox error.
	res = s.run(t, s.py("raise SystemExit(0)"))
	wantStatus(t, res, moat.StatusExited, 0)
	res = s.run(t, s.py("1/0"))
	wantStatus(t, res, moat.StatusExited, 1)
	if !strings.Contains(res.Stderr, "ZeroDivisionError") {
		t.Errorf("stderr %q lacks the traceback", res.Stderr)
	}
}

func testStdoutStderr(t *testing.T, s *suite) {
	code := `import sys
sys.stdout.write("out-1\n"); sys.stdout.flush()
sys.stderr.write("err-1\n"); sys.stderr.flush()
sys.stdout.write("out-2 \u00e9\x00\x1b[0m\n")
sys.stderr.write("err-2")`
	var liveOut, liveErr strings.Builder
	spec := s.py(code)
	spec.Stdout, spec.Stderr = &syncWriter{w: &liveOut}, &syncWriter{w: &liveErr}
	res := s.run(t, spec)
	wantExit0(t, res)
	wantOut, wantErr := "out-1\nout-2 \u00e9\x00\x1b[0m\n", "err-1\nerr-2"
	if res.Stdout != wantOut {
		t.Errorf("Stdout = %q, want %q", res.Stdout, wantOut)
	}
	if res.Stderr != wantErr {
		t.Errorf("Stderr = %q, want %q", res.Stderr, wantErr)
	}
	if res.StdoutTruncated || res.StderrTruncated {
		t.Errorf("truncated flags set on small output: %v %v", res.StdoutTruncated, res.StderrTruncated)
	}
	if liveOut.String() != wantOut || liveErr.String() != wantErr {
		t.Errorf("Spec.Stdout/Stderr got %q / %q, want %q / %q", liveOut.String(), liveErr.String(), wantOut, wantErr)
	}
}

// syncWriter serialises writes from a backend's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func testStdin(t *testing.T, s *suite) {
	in := strings.Repeat("line of input\n", 10000) + "last"
	spec := s.py("import sys; d = sys.stdin.read(); print(len(d), d.count('\\n'), repr(d[-4:]))")
	spec.Stdin = strings.NewReader(in)
	res := s.run(t, spec)
	wantExit0(t, res)
	want := fmt.Sprintf("%d %d 'last'\n", len(in), 10000)
	if res.Stdout != want {
		t.Errorf("Stdout = %q, want %q", res.Stdout, want)
	}
	// No Stdin: the program reads EOF at once rather than hanging.
	res = s.run(t, s.py("import sys; print(repr(sys.stdin.read()))"))
	wantExit0(t, res)
	if res.Stdout != "''\n" {
		t.Errorf("with no Stdin, stdin read %q, want ''", res.Stdout)
	}
}

// testWaitCalls: the calls that wait on descriptors answer as on any
// Linux (select, pselect6, poll, ppoll, epoll): ordinary programs
// (pty.spawn, servers, test runners) use every one. Under runsc
// 20221219's --oci-seccomp an allow-list that named only Linux's
// "pselect6" left glibc's select, which is pselect6, refused: the Sentry
// calls that call "pselect".
func testWaitCalls(t *testing.T, s *suite) {
	res := s.run(t, s.py(`
import os, select, json
r, w = os.pipe(); os.write(w, b"x")
R = {}
def t(name, f):
    try:
        R[name] = f()
    except OSError as e:
        R[name] = "error: " + os.strerror(e.errno)
t("select", lambda: select.select([r], [], [], None)[0] == [r])
t("select-timeout", lambda: select.select([r], [], [], 1.5)[0] == [r])
t("select-empty", lambda: select.select([], [], [], 0) == ([], [], []))
p = select.poll(); p.register(r, select.POLLIN)
t("poll", lambda: p.poll(1000) == [(r, select.POLLIN)])
e = select.epoll(); e.register(r, select.EPOLLIN)
t("epoll", lambda: e.poll(1) == [(r, select.EPOLLIN)])
print(json.dumps(R))`))
	wantExit0(t, res)
	var got map[string]any
	report(t, res, &got)
	for _, k := range []string{"select", "select-timeout", "select-empty", "poll", "epoll"} {
		if got[k] != true {
			t.Errorf("%s: %v, want true", k, got[k])
		}
	}
}

func testArgs(t *testing.T, s *suite) {
	args := []string{"a b", "", "--flag", "ünï", "$HOME", "*"}
	res := s.run(t, s.py("import sys, json; print(json.dumps(sys.argv))", args...))
	var argv []string
	report(t, res, &argv)
	want := append([]string{"-c"}, args...)
	if !slices.Equal(argv, want) {
		t.Errorf("sys.argv = %q, want %q", argv, want)
	}
}

// sandboxEnv is what the Spec allows besides Spec.Env.
var sandboxEnv = moat.SandboxEnv

func testEnv(t *testing.T, s *suite) {
	secret := "moat-secret-" + randomID()
	t.Setenv("MOAT_SECRET_TEST", secret)
	spec := s.py("import os, json; print(json.dumps(dict(os.environ)))")
	spec.Env = []string{"FOO=bar", "EMPTY=", "WITH_EQ=a=b"}
	res := s.run(t, spec)
	var env map[string]string
	report(t, res, &env)
	for k, v := range map[string]string{"FOO": "bar", "EMPTY": "", "WITH_EQ": "a=b"} {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("%s = %q (set %v), want %q", k, got, ok, v)
		}
	}
	for _, k := range sandboxEnv {
		// Set only by backends with the behaviour report (moat.SandboxEnv).
		if slices.Contains([]string{"PYTHONPATH", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"}, k) {
			continue
		}
		if env[k] == "" {
			t.Errorf("the sandbox's %s is not set", k)
		}
	}
	var extra []string
	for k, v := range env {
		if strings.Contains(v, secret) || k == "MOAT_SECRET_TEST" {
			t.Errorf("the host's MOAT_SECRET_TEST reached the program as %s=%q", k, v)
		}
		if !slices.Contains(sandboxEnv, k) && !slices.Contains([]string{"FOO", "EMPTY", "WITH_EQ"}, k) {
			extra = append(extra, k+"="+v)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		t.Errorf("variables neither in Spec.Env nor the sandbox's own %v: %q", sandboxEnv, extra)
	}
}

func testFiles(t *testing.T, s *suite) {
	spec := s.spec("main.py", "arg1")
	spec.Files = map[string][]byte{
		"main.py":   []byte("import sys, helper\nprint(helper.VALUE, sys.argv[1], open('data.bin','rb').read().hex())\n"),
		"helper.py": []byte("VALUE = 'from-helper'\n"),
		"data.bin":  {0, 1, 0xff},
	}
	res := s.run(t, spec)
	wantExit0(t, res)
	if want := "from-helper arg1 0001ff\n"; res.Stdout != want {
		t.Errorf("Stdout = %q, want %q", res.Stdout, want)
	}
}

func testWorkspace(t *testing.T, s *suite) {
	ws := t.TempDir()
	mustWrite(t, filepath.Join(ws, "top.txt"), "top")
	mustWrite(t, filepath.Join(ws, "a", "b", "c.txt"), "nested")
	out := filepath.Join(t.TempDir(), "out") // missing: created
	spec := s.py(pyProbe + `
R['top'] = tryread('top.txt')
R['nested'] = tryread('a/b/c.txt')
os.makedirs('made/deep')
R['write'] = trywrite('made/deep/out.txt', 'out-data')
R['link'] = attempt(os.symlink, '/etc/passwd', 'link-to-passwd')
R['dirlink'] = attempt(os.symlink, 'made', 'dirlink')
R['outside'] = trywrite('/tmp/outside.txt', 'outside')
R['cwd'] = os.getcwd()
done()`)
	spec.Workspace, spec.OutDir = ws, out
	res := s.run(t, spec)
	var p probes
	report(t, res, &p)
	if p["top"] != "read:top" || p["nested"] != "read:nested" {
		t.Errorf("workspace files read as %q and %q", p["top"], p["nested"])
	}
	for _, k := range []string{"write", "link", "dirlink", "outside"} {
		if p[k] != "ok" {
			t.Fatalf("the program could not %s: %q", k, p[k])
		}
	}
	if b, err := os.ReadFile(filepath.Join(out, "made", "deep", "out.txt")); err != nil || string(b) != "out-data" {
		t.Errorf("OutDir made/deep/out.txt = %q, %v; want out-data", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(out, "a", "b", "c.txt")); err != nil || string(b) != "nested" {
		t.Errorf("OutDir a/b/c.txt = %q, %v; want the workspace's copy", b, err)
	}
	for _, l := range []string{"link-to-passwd", "dirlink"} {
		if _, err := os.Lstat(filepath.Join(out, l)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the program's symlink %s was created in OutDir (lstat: %v)", l, err)
		}
	}
	_ = filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			t.Errorf("OutDir holds a link: %s", p)
		}
		if d.Name() == "outside.txt" {
			t.Errorf("a file written outside the working directory was copied out: %s", p)
		}
		return nil
	})
	if res.Out == nil {
		t.Fatal("Result.Out is nil with OutDir set")
	}
	skipped := strings.Join(res.Out.Skipped, "\n")
	for _, l := range []string{"link-to-passwd", "dirlink"} {
		if !strings.Contains(skipped, l) {
			t.Errorf("Result.Out.Skipped %q does not list %s", res.Out.Skipped, l)
		}
	}
	if res.Out.Files < 3 {
		t.Errorf("Result.Out.Files = %d, want at least 3", res.Out.Files)
	}
	// Nothing the program did changed the workspace on the host.
	if ents, _ := os.ReadDir(ws); len(ents) != 2 {
		t.Errorf("the host workspace changed: %d entries, want 2", len(ents))
	}
}

// testCopyOutCaps: a file over the copy-out size cap (a sparse one, judged
// by its size), names with control characters and files past the count
// cap are each listed as skipped with the reason, and everything else is
// still copied. The names sort so that each comes before the real results.
func testCopyOutCaps(t *testing.T, s *suite) {
	out := filepath.Join(t.TempDir(), "out")
	spec := s.py(pyProbe + `
with open('a-huge.bin', 'wb') as f:
    f.truncate(257 << 20)
for n in ['b-esc\x1b[31mred', 'b-osc\x1b]0;pwned\x07', 'b-nl\nname']:
    R[n] = trywrite(n, 'x')
os.makedirs('c-results/deep')
for i in range(3):
    R['r%d' % i] = trywrite('c-results/deep/r%d.txt' % i, 'result %d' % i)
os.makedirs('d-many')
for i in range(10010):  # directories: one system call each
    os.mkdir('d-many/f%05d' % i)
done()`)
	spec.OutDir = out
	spec.Limits.Timeout = 120 * time.Second
	res := s.run(t, spec)
	var p probes
	report(t, res, &p)
	for k, v := range p {
		if v != "ok" {
			t.Fatalf("the program could not write %q: %q", k, v)
		}
	}
	if res.Out == nil {
		t.Fatal("Result.Out is nil with OutDir set")
	}
	if res.Out.Error != "" || res.ExitStatus() != 0 {
		t.Errorf("Result.Out.Error = %q, exit status %d; want none, 0", res.Out.Error, res.ExitStatus())
	}
	for i := range 3 {
		n := fmt.Sprintf("c-results/deep/r%d.txt", i)
		if b, err := os.ReadFile(filepath.Join(out, n)); err != nil || string(b) != fmt.Sprintf("result %d", i) {
			t.Errorf("%s after the big file = %q, %v", n, b, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(out, "a-huge.bin")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the file over the cap was copied (lstat: %v)", err)
	}
	ents, _ := os.ReadDir(out)
	for _, e := range ents {
		if strings.ContainsAny(e.Name(), "\x1b\x07\n") {
			t.Errorf("a name with control characters reached the host: %q", e.Name())
		}
	}
	skipped := strings.Join(res.Out.Skipped, "\n")
	for _, want := range []string{
		"a-huge.bin: 257MiB, over the 256MiB total cap",
		"b-esc?[31mred: name has control characters",
		"b-osc?]0;pwned?: name has control characters",
		"b-nl?name: name has control characters",
		"d-many/f10009/: over the 10000-file count cap",
	} {
		if !strings.Contains(skipped, want) {
			t.Errorf("Result.Out.Skipped does not list %q:\n%.2000s", want, skipped)
		}
	}
	for _, s := range res.Out.Skipped {
		if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }) {
			t.Errorf("a skipped entry holds control characters: %q", s)
		}
	}
	if res.Out.Files < 3 || res.Out.Files > moat.DefaultOutFiles {
		t.Errorf("Result.Out.Files = %d", res.Out.Files)
	}
}

func mustWrite(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hangLimit bounds how long a run that moat must stop may take: far above
// any limit the cases set, far below a hang.
const hangLimit = 15 * time.Second

func testLimitTimeout(t *testing.T, s *suite) {
	// 5s, not 1s: the program must have printed before the timeout, and
	// a loaded machine can take more than a second to start a container
	// and its Python (the test is about keeping that output, not speed);
	// plus what the backend declares its interpreter may take to start.
	spec := s.py("import time; print('sleeping', flush=True); time.sleep(120)")
	spec.Limits.Timeout = 5*time.Second + s.opts.ProgramStart
	start := time.Now()
	res := s.run(t, spec)
	if d := time.Since(start); d > s.bound(hangLimit+s.opts.ProgramStart) {
		t.Errorf("a %s timeout returned after %s", spec.Limits.Timeout, d)
	}
	wantStatus(t, res, moat.StatusTimeout, 124)
	if res.Stdout != "sleeping\n" {
		t.Errorf("output before the timeout lost: %q", res.Stdout)
	}
}

func testLimitMemory(t *testing.T, s *suite) {
	spec := s.py("x = b'x' * (300 << 20); print('allocated', len(x))")
	spec.Limits.Memory = 64 << 20
	spec.Limits.Timeout = 30 * time.Second
	res := s.run(t, spec)
	if strings.Contains(res.Stdout, "allocated") {
		t.Fatalf("the program allocated 300MiB under a 64MiB limit")
	}
	if degradedCgroups(res) && res.Status == moat.StatusExited && strings.Contains(res.Stderr, "MemoryError") {
		t.Logf("no cgroups: the rlimit stopped the allocation (%s)", res.Degraded)
		return
	}
	wantStatus(t, res, moat.StatusMemory, 137)
}

func testLimitPids(t *testing.T, s *suite) {
	spec := s.py(`import os, time
for i in range(100):
    if os.fork() == 0:
        time.sleep(30)
        os._exit(0)
print('forked 100')`)
	spec.Limits.Pids = 16
	spec.Limits.Timeout = 30 * time.Second
	res := s.runWithin(t, spec, hangLimit)
	if strings.Contains(res.Stdout, "forked 100") {
		t.Fatalf("100 processes started under a limit of 16")
	}
	if degradedCgroups(res) && res.Status == moat.StatusExited && strings.Contains(res.Stderr, "BlockingIOError") {
		t.Logf("no cgroups: RLIMIT_NPROC stopped the forks (%s)", res.Degraded)
		return
	}
	wantStatus(t, res, moat.StatusPids, 137)
}

// testLimitThreads: the pids limit counts threads too ("processes and
// threads", moat run --help). gVisor's threads are the Sentry's tasks,
// not host processes: its cgroup never saw them, and a thread bomb under
// --pids 64 started over 2,000 threads and ran to the timeout.
func testLimitThreads(t *testing.T, s *suite) {
	spec := s.py(`import threading, time
n = 0
try:
    while n < 100:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        n += 1
except RuntimeError as e:
    print('refused', e, flush=True)
print('threads', n, flush=True)`)
	spec.Limits.Pids = 16
	spec.Limits.Timeout = 30 * time.Second
	res := s.runWithin(t, spec, hangLimit)
	if strings.Contains(res.Stdout, "threads 100") {
		t.Fatalf("100 threads started under a limit of 16 (status %s)", res.Status)
	}
	if res.Status != moat.StatusPids && !strings.Contains(res.Stdout, "refused") {
		t.Errorf("status %s, stdout %q: neither the pids limit nor a refused thread", res.Status, res.Stdout)
	}
}

func testLimitOutput(t *testing.T, s *suite) {
	spec := s.py("import sys; sys.stdout.write('y' * (1 << 20)); sys.stdout.flush(); print('after')")
	spec.Limits.OutputLimit = 1024
	res := s.run(t, spec)
	wantStatus(t, res, moat.StatusOutputLimit, 137)
	if len(res.Stdout) > 1024 {
		t.Errorf("len(Stdout) = %d, over the limit of 1024", len(res.Stdout))
	}
	if len(res.Stdout) == 0 || strings.Trim(res.Stdout, "y") != "" {
		t.Errorf("Stdout is not the first bytes of the output: %q", clip(res.Stdout))
	}
	if !res.StdoutTruncated {
		t.Error("StdoutTruncated is false")
	}
	if res.StderrTruncated {
		t.Error("StderrTruncated is true, stderr was empty")
	}
}

// testShmSpawn: named POSIX semaphores (sem_open in /dev/shm, behind
// multiprocessing's Lock and Event) wake across processes, and a spawn
// Pool ends. On gVisor /dev/shm was a bind of the host scratch tmpfs
// through the gofer: a semaphore set in a spawn child never woke the
// parent, and Pool.__exit__ hung until the timeout.
func testShmSpawn(t *testing.T, s *suite) {
	spec := s.py(`import multiprocessing as mp, time
ctx = mp.get_context("spawn")
ev = ctx.Event()
p = ctx.Process(target=ev.set); p.start()
print("event", ev.wait(10), flush=True); p.join(10)
lk = ctx.Lock(); lk.acquire()
# The child blocks on the lock the parent holds (the sleep lets it get
# there), then the parent's release must wake it.
p = ctx.Process(target=type(lk).__enter__, args=(lk,)); p.start()
time.sleep(2); lk.release(); p.join(10)
print("lock", p.exitcode, flush=True)
if p.exitcode is None: p.kill()
with ctx.Pool(2) as pool:
    print("pool", pool.map(abs, [-1, -2, -3]), flush=True)
print("done", flush=True)`)
	spec.Limits.Timeout = 30*time.Second + 3*s.opts.ProgramStart
	res := s.run(t, spec) // a hang ends at the timeout
	wantStatus(t, res, moat.StatusExited, 0)
	for _, w := range []string{"event True\n", "lock 0\n", "pool [1, 2, 3]\n", "done\n"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("stdout %q lacks %q: a semaphore did not wake across spawn processes", res.Stdout, strings.TrimSpace(w))
		}
	}
}

func testLimitDisk(t *testing.T, s *suite) {
	hostName := "moat-disk-" + randomID()
	spec := s.py(pyProbe + `
n = 0
chunk = b'z' * (1 << 20)
try:
    with open('/tmp/` + hostName + `', 'wb') as f:
        for i in range(64):
            f.write(chunk)
            f.flush()
            n += len(chunk)
    R['outcome'] = 'wrote all'
except Exception as e:
    R['outcome'] = _e(e)
R['written'] = str(n)
try:
    os.remove('/tmp/` + hostName + `')
except OSError:
    pass
R['after'] = trywrite('/tmp/small', 'still works after freeing')
done()`)
	spec.Limits.Disk = 8 << 20
	spec.Limits.Timeout = 30 * time.Second
	res := s.run(t, spec)
	var p probes
	report(t, res, &p)
	if o := p["outcome"]; o != "err:ENOSPC" && o != "err:EFBIG" {
		t.Errorf("writing 64MiB under an 8MiB disk limit: %q, want ENOSPC or EFBIG", o)
	}
	var n int64
	fmt.Sscan(p["written"], &n)
	if n > 8<<20 {
		t.Errorf("%d bytes written under an 8MiB limit", n)
	}
	if p["after"] != "ok" {
		t.Errorf("writing after freeing space: %q", p["after"])
	}
	if _, err := os.Stat(filepath.Join(os.TempDir(), hostName)); err == nil {
		t.Errorf("the file written to /tmp inside appeared in the host's %s", os.TempDir())
	}
	if _, err := os.Stat(filepath.Join("/tmp", hostName)); err == nil {
		t.Error("the file written to /tmp inside appeared in the host's /tmp")
	}
}

// testInterpreterEnd: as python does, the run ends once the threads that
// are not daemons have ended, then the atexit functions have run, then
// the main module's objects have gone (their __del__): a payload run
// from a thread after main returns, or from a destructor, is run (and
// seen). A zygote child skipped all three (os._exit after the main
// module).
func testInterpreterEnd(t *testing.T, s *suite) {
	// The thread waits for the main thread's end (threading's shutdown
	// marks it stopped), so it acts strictly after main, with no clock.
	code := `import atexit, sys, threading
def late():
    threading.main_thread().join()
    print("thread after main", flush=True)
class Last:
    def __del__(self):
        print("destructor", tag, flush=True)
tag = "with its names"
last = Last()
atexit.register(print, "atexit")
threading.Thread(target=late).start()
print("main done", flush=True)
`
	for _, c := range []struct {
		name, tail string
		exit       int
	}{{"return", "", 0}, {"sys.exit", "sys.exit(3)\n", 3}} {
		res := s.run(t, s.py(code+c.tail))
		wantStatus(t, res, moat.StatusExited, c.exit)
		// The destructor sees the module's names (tag), as python's.
		if want := "main done\nthread after main\natexit\ndestructor with its names\n"; res.Stdout != want {
			t.Errorf("%s: stdout %q, want %q (stderr %q)", c.name, res.Stdout, want, res.Stderr)
		}
	}
}

func testSignaled(t *testing.T, s *suite) {
	res := s.run(t, s.py("import os, sys; print('before', flush=True); os.kill(os.getpid(), 9)"))
	wantStatus(t, res, moat.StatusSignaled, 137)
	if res.Signal != 9 {
		t.Errorf("Signal = %d, want 9", res.Signal)
	}
	if res.Stdout != "before\n" {
		t.Errorf("Stdout = %q", res.Stdout)
	}
	// An uncaught KeyboardInterrupt ends python by SIGINT (a zygote
	// child exited 1).
	res = s.run(t, s.py("raise KeyboardInterrupt"))
	wantStatus(t, res, moat.StatusSignaled, 130)
	if res.Signal != 2 || !strings.Contains(res.Stderr, "KeyboardInterrupt") {
		t.Errorf("KeyboardInterrupt: signal %d, stderr %q; want SIGINT and the traceback", res.Signal, res.Stderr)
	}
}

func testCancel(t *testing.T, s *suite) {
	spec := s.py("import time; print('started', flush=True); time.sleep(60)")
	w := newLineWatcher("started")
	spec.Stdout = w
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var canceledAt time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		if w.waitSeen(s.bound(hangLimit), nil) {
			canceledAt = time.Now()
			cancel()
		}
	}()
	res := s.runCtx(t, ctx, spec)
	<-done
	if canceledAt.IsZero() {
		t.Fatalf("the program never printed started")
	}
	if d := time.Since(canceledAt); d > hangLimit {
		t.Errorf("Run returned %s after the context was canceled", d)
	}
	wantStatus(t, res, moat.StatusCanceled, 130)
}

func testReadonlyRuntime(t *testing.T, s *suite) {
	res := s.run(t, s.py(pyProbe+`
import sysconfig
R['bindir'] = trywrite(os.path.join(os.path.dirname(sys.executable), 'moat-x'))
R['stdlib'] = trywrite(os.path.join(sysconfig.get_paths()['stdlib'], 'moat_x.py'))
R['etc'] = trywrite('/etc/x')
R['root'] = trywrite('/moat-x')
R['exe'] = attempt(lambda: open(sys.executable, 'ab').close())
R['chmod'] = attempt(os.chmod, sys.executable, 0o777)
R['os_py'] = attempt(lambda: open(os.__file__, 'a').close())
done()`))
	var p probes
	report(t, res, &p)
	p.wantErr(t, "bindir", "stdlib", "etc", "root", "exe", "chmod", "os_py")
}

// userlandProbe shells out and looks at the tools a userland would hold
// (argv[1]: their names, comma-separated).
var userlandProbe = pyProbe + `
import stat, subprocess
def run(*a, **k):
    try:
        r = subprocess.run(*a, capture_output=True, text=True, timeout=30, **k)
        return 'ok:%d:%s' % (r.returncode, r.stdout.strip())
    except Exception as e:
        return _e(e)
def mount_of(p):
    best, opts = '', ''
    with open('/proc/self/mountinfo') as f:
        for line in f:
            x = line.split()
            mp = x[4]
            if (p == mp or p.startswith(mp.rstrip('/') + '/')) and len(mp) >= len(best):
                best, opts = mp, x[5]
    return best + ' ' + opts
R['shell'] = run('echo hi | tr a-z A-Z', shell=True)
R['env'] = run(['/usr/bin/env', 'python3', '-c', 'print(7)'])
found = []
for name in sys.argv[1].split(','):
    for d in ('/bin', '/usr/bin'):
        p = d + '/' + name
        try:
            st = os.stat(p)
        except OSError:
            continue
        found.append(p)
        if st.st_mode & (stat.S_ISUID | stat.S_ISGID):
            R['set-id ' + p] = oct(st.st_mode)
R['found'] = str(len(found))
R['append_sh'] = attempt(lambda: open('/bin/sh', 'ab').close())
R['append_cat'] = attempt(lambda: open('/usr/bin/cat', 'ab').close())
R['chmod_cat'] = attempt(os.chmod, '/usr/bin/cat', 0o4755)
R['create'] = trywrite('/usr/bin/moat-x')
R['mount_sh'] = mount_of(os.path.realpath('/bin/sh')) if os.path.exists('/bin/sh') else 'none'
done()`

// testUserland: Spec.Userland gives a shell and core utilities that are
// read-only and never set-uid; without it a sandbox of the host's Python
// has no /bin/sh. An image (Container.Shell) has its own either way.
func testUserland(t *testing.T, s *suite) {
	tools := strings.Join(pyrt.UserlandTools, ",")
	imageShell := s.opts.Container != nil && s.opts.Container.Shell
	// A backend may refuse the userland (Supporter): then Run refuses it
	// too, with ErrUnsupported, rather than run without it.
	refused := false
	if sup, ok := s.newBackend().(moat.Supporter); ok {
		spec := s.py("pass")
		spec.Userland = true
		if err := sup.Supports(spec); err != nil {
			if !errors.Is(err, moat.ErrUnsupported) {
				t.Fatalf("Supports(userland): %v, want nil or ErrUnsupported", err)
			}
			refused = true
			ctx, cancel := context.WithTimeout(context.Background(), s.bound(hangBound))
			defer cancel()
			if _, err := s.newBackend().Run(ctx, spec); !errors.Is(err, moat.ErrUnsupported) {
				t.Errorf("Supports refuses the userland but Run gave %v, want ErrUnsupported", err)
			}
		}
	}
	for _, on := range []bool{true, false} {
		if on && refused {
			continue
		}
		t.Run(fmt.Sprintf("userland=%v", on), func(t *testing.T) {
			spec := s.py(userlandProbe, tools)
			spec.Userland = on
			res := s.run(t, spec)
			var p probes
			report(t, res, &p)
			if !on && !imageShell {
				// (A system Python's /usr may hold the tools: no /bin/sh.)
				if p["shell"] != "err:ENOENT" {
					t.Errorf("without the userland: shell=True gave %q, want err:ENOENT (no /bin/sh)", p["shell"])
				}
				return
			}
			if p["shell"] != "ok:0:HI" {
				t.Errorf("shell=True pipeline: %q, want ok:0:HI", p["shell"])
			}
			if p["env"] != "ok:0:7" {
				t.Errorf("/usr/bin/env python3: %q, want ok:0:7", p["env"])
			}
			p.wantErr(t, "append_sh", "append_cat", "chmod_cat", "create")
			if opts := strings.Fields(p["mount_sh"]); len(opts) != 2 || !slices.Contains(strings.Split(opts[1], ","), "ro") {
				t.Errorf("the mount holding /bin/sh is not read-only: %q", p["mount_sh"])
			}
			if imageShell {
				return // the image's files are the image's business
			}
			for k, v := range p {
				if strings.HasPrefix(k, "set-id ") {
					t.Errorf("%s is set-uid or set-gid (%s)", strings.TrimPrefix(k, "set-id "), v)
				}
			}
			var layer string
			for _, l := range res.Layers {
				if l.Name == "userland" {
					layer = l.Detail
				}
			}
			if !strings.HasPrefix(layer, "sh + ") {
				t.Errorf("layer userland = %q, want it to list sh and the tools", layer)
			}
		})
	}
}

func testNetworkNone(t *testing.T, s *suite) {
	res := s.run(t, s.py(pyProbe+`
import socket
def tcp(host, port, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect((host, port))
        return 'ok'
    except Exception as e:
        return _e(e)
    finally:
        s.close()
R['cloudflare'] = tcp('1.1.1.1', 53)
R['private'] = tcp('10.0.0.1', 80)
R['dns'] = attempt(socket.getaddrinfo, 'example.com', 80)
R['dns2'] = attempt(socket.gethostbyname, 'example.com')
srv = socket.socket()
srv.bind(('127.0.0.1', 0))
srv.listen(1)
c = socket.create_connection(srv.getsockname(), timeout=5)
a, _ = srv.accept()
a.sendall(b'ping')
R['loopback'] = c.recv(4).decode()
done()`))
	var p probes
	report(t, res, &p)
	p.wantErr(t, "cloudflare", "private", "dns", "dns2")
	if p["loopback"] != "ping" {
		t.Errorf("TCP over loopback inside: %q, want ping", p["loopback"])
	}
}

// testCleanup runs a program that starts a daemon in its own session, and
// checks that the host sees it while the run lasts and never after, for a
// run that succeeds, one that fails and one that is canceled. The program
// waits on stdin so the test can see the daemon before the run ends.
func testCleanup(t *testing.T, s *suite) {
	requireProcScan(t)
	for _, mode := range []string{"success", "failure", "cancel"} {
		t.Run(mode, func(t *testing.T) {
			marker := "moat-marker-" + randomID()
			before := moatCgroups()
			spec := s.py(`import os, subprocess, sys, time
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(1000)', os.environ['MARKER']],
    start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print('started', flush=True)
sys.stdin.readline()
if sys.argv[1] == 'failure':
    sys.exit(1)
if sys.argv[1] == 'cancel':
    time.sleep(60)
`, mode)
			spec.Env = []string{"MARKER=" + marker}
			stdinR, stdinW := io.Pipe()
			defer stdinW.Close()
			spec.Stdin = stdinR
			w := newLineWatcher("started")
			spec.Stdout = w
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			runDone, helperDone := make(chan struct{}), make(chan struct{})
			var sawStart, sawDaemon bool
			go func() {
				defer close(helperDone)
				defer stdinW.Close()
				// A slow start (rootless podman on a loaded host) is no
				// failure: the run's own end stops the wait.
				if !w.waitSeen(s.bound(hangBound), runDone) {
					return
				}
				sawStart = true
				sawDaemon = s.opts.Sentry != nil || waitProcs(t, marker, 5*time.Second)
				if mode == "cancel" {
					cancel()
				} else {
					io.WriteString(stdinW, "go\n")
				}
			}()
			ctx2, cancel2 := context.WithTimeout(ctx, s.bound(hangBound))
			defer cancel2()
			res, err := s.newBackend().Run(ctx2, spec)
			close(runDone)
			wantNoProcs(t, marker, "after Run returned")
			wantNoLeftovers(t, s, "after Run returned")
			<-helperDone
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if !sawStart {
				t.Fatalf("the program never said it started the daemon (result: %s)", describe(res))
			}
			if !sawDaemon {
				t.Fatalf("the daemon was never seen on the host; the check proves nothing (result: %s)", describe(res))
			}
			switch mode {
			case "success":
				wantStatus(t, res, moat.StatusExited, 0)
			case "failure":
				wantStatus(t, res, moat.StatusExited, 1)
			case "cancel":
				wantStatus(t, res, moat.StatusCanceled, 130)
			}
			checkNoNewCgroups(t, before)
		})
	}
}

func testConcurrency(t *testing.T, s *suite) {
	n := cmp.Or(s.opts.Concurrency, 8)
	type out struct {
		res *moat.Result
		err error
	}
	outs := make([]out, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), s.bound(hangBound))
			defer cancel()
			spec := s.py("import sys, time; time.sleep(0.2); print(sys.argv[1] * 3); sys.exit(int(sys.argv[1]))", fmt.Sprint(i))
			spec.Stdin = strings.NewReader("")
			// n interpreters start at once, each as slow as the backend's.
			spec.Limits.Timeout = moat.DefaultTimeout + time.Duration(n)*s.opts.ProgramStart
			outs[i].res, outs[i].err = s.newBackend().Run(ctx, spec)
		}()
	}
	wg.Wait()
	for i, o := range outs {
		if o.err != nil {
			t.Errorf("run %d: %v", i, o.err)
			continue
		}
		want := strings.Repeat(fmt.Sprint(i), 3) + "\n"
		if o.res.Status != moat.StatusExited || o.res.ExitCode != i || o.res.Stdout != want {
			t.Errorf("run %d: %s; want exited %d with %q", i, describe(o.res), i, want)
		}
	}
}

func testLayers(t *testing.T, s *suite) {
	res := s.run(t, s.py("pass"))
	wantExit0(t, res)
	if len(res.Layers) == 0 {
		t.Fatal("Result.Layers is empty")
	}
	names := map[string]bool{}
	for _, l := range res.Layers {
		if l.Name == "" {
			t.Errorf("a layer has no name: %+v", l)
		}
		if names[l.Name] {
			t.Errorf("layer %q listed twice", l.Name)
		}
		names[l.Name] = true
	}
	for _, n := range s.opts.Layers {
		if !names[n] {
			t.Errorf("layer %q missing from %+v", n, res.Layers)
		}
	}
	if res.Isolation == "" {
		t.Error("Result.Isolation is empty")
	}
	if !s.opts.AllowDegraded && len(res.Degraded) > 0 {
		t.Errorf("Degraded = %q without AllowDegraded", res.Degraded)
	}
}
