//go:build linux

package native_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	llsys "github.com/landlock-lsm/go-landlock/landlock/syscall"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
	"github.com/moat-sandbox/moat/moattest"
)

// nonRootEnv switches the test binary, re-executed by TestNativeNonRoot as
// an unprivileged user, into running the suite as that user.
const nonRootEnv = "MOAT_NATIVE_TEST_NONROOT"

// nobody is the unprivileged user TestNativeNonRoot runs the suite as.
const nobody = 65534

// systemPython is an interpreter outside root's home, readable by every
// user (pyenv's tree under /root is not).
const systemPython = "/usr/bin/python3"

func TestMain(m *testing.M) {
	native.Init() // the sandbox init re-executes this test binary
	os.Exit(m.Run())
}

func newBackend() moat.Backend { return &native.Backend{} }

// layers are the layers every native run reports, whoever runs it.
func layers() []string {
	l := []string{
		"mount-namespace", "read-only-runtime", "proc", "dev", "disk",
		"user-namespace", "pid-namespace", "network-namespace", "ipc-namespace", "uts-namespace", "cgroup-namespace",
		"capabilities", "seccomp", "no-new-privs", "rlimits", "timeout", "output-limit",
	}
	if abi, err := llsys.LandlockGetABIVersion(); err == nil && abi > 0 {
		l = append(l, "landlock")
	}
	return l
}

func TestNative(t *testing.T) {
	if os.Getenv(nonRootEnv) != "" {
		t.Skip("re-executed for TestNativeNonRoot")
	}
	moattest.RequireBackend(t, "native")
	opts := moattest.Options{Layers: layers()}
	if os.Geteuid() == 0 {
		if info, err := cgroup.Probe(); err == nil {
			opts.Layers = append(opts.Layers, fmt.Sprintf("cgroup-v%d", info.Version))
			if info.Version == 2 {
				opts.ReportLostAtLimit = "in the TCG guest of .ci/cgroup2-vm.sh the init's report of a filled tmpfs takes longer than the stop grace (SECURITY.md)"
			}
		}
	} else {
		// An ordinary user rarely has cgroups delegated; TestNativeNonRoot
		// checks the refusal without --allow-degraded.
		opts.NonRoot, opts.AllowDegraded, opts.Python = true, true, systemPython
	}
	moattest.Run(t, newBackend, opts)

	t.Run("python="+systemPython, func(t *testing.T) {
		if _, err := os.Stat(systemPython); err != nil {
			t.Skipf("no %s: %v", systemPython, err)
		}
		o := opts
		o.Python = systemPython
		o.Cases = []string{"exit-code", "stdout-stderr", "args", "files", "workspace", "readonly-runtime", "userland", "syscalls", "capabilities", "layers"}
		moattest.Run(t, newBackend, o)
	})
}

// nonRootCases is what runs as an unprivileged user without cgroups: every
// case that does not need a cgroup's own status (the memory and pids
// limits then are rlimits, which the cases accept when degraded).
var nonRootCases = []string{
	"exit-code", "stdout-stderr", "stdin", "args", "env", "files", "workspace",
	"limit-timeout", "limit-memory", "limit-pids", "limit-output", "limit-disk", "signaled", "cancel",
	"readonly-runtime", "userland", "pty", "user", "network-none", "cleanup", "concurrency", "layers",
	"host-files", "host-env", "host-proc", "net-exfil", "fork-bomb", "memory-bomb", "disk-bomb",
	"output-bomb", "busy-loop", "orphan-daemon", "syscalls", "proc-sys-writes", "devices", "tiocsti",
	"signal-host", "inherited-fds", "capabilities", "uid", "nosuid", "oom-score-adj", "hostname", "kill-init",
}

// TestNativeNonRoot runs the suite as an unprivileged user: as root, it
// re-executes a copy of this test binary as nobody, which then runs the
// cases below (nonRootEnv set). Such a user has no cgroups here, so a run
// must refuse with ErrDegraded unless the Spec allows degrading.
func TestNativeNonRoot(t *testing.T) {
	if os.Getenv(nonRootEnv) != "" {
		nonRootChild(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user (TestNative already runs unprivileged)")
	}
	for knob, off := range map[string]string{
		"/proc/sys/kernel/unprivileged_userns_clone":             "0",
		"/proc/sys/user/max_user_namespaces":                     "0",
		"/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
	} {
		if b, err := os.ReadFile(knob); err == nil && strings.TrimSpace(string(b)) == off {
			t.Skipf("unprivileged user namespaces are off on this host (%s = %s)", knob, off)
		}
	}
	if _, err := os.Stat(systemPython); err != nil {
		t.Skipf("no %s readable by an unprivileged user: %v", systemPython, err)
	}
	dir := unprivilegedDir(t)
	bin := filepath.Join(dir, "native.test")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyFile(t, self, bin, 0o755)
	home, tmp := filepath.Join(dir, "home"), filepath.Join(dir, "tmp")
	for _, d := range []string{home, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// -test.v always: a skip of the whole test is only visible then.
	args := []string{"-test.run=^TestNativeNonRoot$", "-test.count=1", "-test.timeout=4m", "-test.v"}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{
		nonRootEnv + "=1", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + tmp,
		moattest.RequireEnv + "=" + os.Getenv(moattest.RequireEnv),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	if skip := skipReason(out.String()); err == nil && skip != "" {
		t.Skipf("as uid %d: %s", nobody, skip)
	}
	if err != nil {
		t.Fatalf("the suite as uid %d failed (%v):\n%s", nobody, err, out.String())
	}
	if testing.Verbose() {
		t.Logf("the suite as uid %d passed:\n%s", nobody, out.String())
	}
}

// nonRootChild is TestNativeNonRoot inside the re-executed binary.
func nonRootChild(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Fatal(nonRootEnv + " is set but the test runs as root")
	}
	moattest.RequireBackend(t, "native")

	t.Run("refuses-without-cgroups", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := newBackend().Run(ctx, &moat.Spec{Args: []string{"-c", "print('ran')"}, Python: systemPython})
		if err == nil {
			for _, l := range res.Layers {
				if strings.HasPrefix(l.Name, "cgroup-v") {
					t.Skipf("cgroups are delegated to uid %d here (%s); the refusal is not exercised", os.Geteuid(), l.Detail)
				}
			}
			t.Fatalf("ran without cgroups and without AllowDegraded: layers %+v, degraded %q", res.Layers, res.Degraded)
		}
		if !errors.Is(err, moat.ErrDegraded) {
			t.Fatalf("Run without cgroups: %v, want an error wrapping ErrDegraded", err)
		}
		if res != nil && strings.Contains(res.Stdout, "ran") {
			t.Fatalf("the program ran although Run refused: %q", res.Stdout)
		}
	})

	t.Run("degraded-is-reported", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := newBackend().Run(ctx, &moat.Spec{Args: []string{"-c", "print('ran')"}, Python: systemPython, AllowDegraded: true})
		if err != nil {
			t.Fatalf("Run with AllowDegraded: %v", err)
		}
		if res.Status != moat.StatusExited || res.Stdout != "ran\n" {
			t.Fatalf("status %s, stdout %q", res.Status, res.Stdout)
		}
		hasCgroup := false
		for _, l := range res.Layers {
			hasCgroup = hasCgroup || strings.HasPrefix(l.Name, "cgroup-v")
		}
		if !hasCgroup && len(res.Degraded) == 0 {
			t.Errorf("no cgroup layer and nothing in Degraded: %+v", res)
		}
	})

	// Without cgroups, memory is bounded by RLIMIT_AS. That limit must bind
	// the program only: the init is a Go program whose reserved address
	// space alone is larger than most limits, and under it every later
	// mmap of the Go runtime fails ("fatal error: runtime: out of memory"),
	// crashing pid 1 in the middle of a run.
	t.Run("init-not-under-program-rlimit", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := newBackend().Run(ctx, &moat.Spec{Python: systemPython, AllowDegraded: true, Args: []string{"-c", `import json
def field(path, key):
    for line in open(path):
        if line.startswith(key):
            return line[len(key):].split()
print(json.dumps({'as': field('/proc/1/limits', 'Max address space')[0], 'vmsize_kb': field('/proc/1/status', 'VmSize:')[0]}))`}})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		var r struct {
			AS     string `json:"as"`
			VmSize string `json:"vmsize_kb"`
		}
		if err := json.Unmarshal([]byte(res.Stdout), &r); err != nil {
			t.Fatalf("report %q: %v (stderr %q)", res.Stdout, err, res.Stderr)
		}
		if r.AS == "unlimited" {
			return
		}
		as, _ := strconv.ParseInt(r.AS, 10, 64)
		vm, _ := strconv.ParseInt(r.VmSize, 10, 64)
		if as < vm*1024 {
			t.Errorf("the sandbox init (pid 1) runs under RLIMIT_AS %d bytes but already maps %d bytes: any further allocation of its Go runtime is fatal", as, vm*1024)
		}
	})

	moattest.Run(t, newBackend, moattest.Options{
		Python: systemPython, NonRoot: true, AllowDegraded: true, Layers: layers(), Cases: nonRootCases,
	})
}

// unprivilegedDir makes a directory outside root's home that every user
// can enter and read, removed when the test ends.
func unprivilegedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("/tmp", "moat-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dst, mode); err != nil {
		t.Fatal(err)
	}
}

// skipReason returns why the re-executed TestNativeNonRoot skipped as a
// whole, or "" if it ran.
func skipReason(out string) string {
	const mark = "--- SKIP: TestNativeNonRoot "
	i := strings.Index(out, mark)
	if i < 0 {
		return ""
	}
	rest := out[i+len(mark):]
	if j := strings.Index(rest, "\n"); j >= 0 {
		rest = rest[j+1:]
	}
	return strings.TrimSpace(strings.SplitN(rest, "\n", 2)[0])
}

// TestNativeHookBytecode: the audit hook comes from cached bytecode.
func TestNativeHookBytecode(t *testing.T) {
	if os.Getenv(nonRootEnv) != "" {
		t.Skip("re-executed for TestNativeNonRoot")
	}
	moattest.RequireBackend(t, "native")
	moattest.HookBytecode(t, newBackend, os.Geteuid() != 0)
}

// TestHostData: the /etc data a CI runner has (moattest.HostData).
func TestHostData(t *testing.T) {
	if os.Getenv(nonRootEnv) != "" {
		t.Skip("re-executed for TestNativeNonRoot")
	}
	moattest.RequireBackend(t, "native")
	moattest.HostData(t, newBackend)
}

// TestPtyMax: a run holds at most nsinit.PtyMax ptys at once (its devpts
// instance's max), then ENOSPC: it cannot take the host's
// kernel.pty.max, which every devpts instance but the host's reserve
// shares.
func TestPtyMax(t *testing.T) {
	moattest.RequireBackend(t, "native")
	res, err := newBackend().Run(context.Background(), &moat.Spec{Args: []string{"-c", `
import errno, os
held = []
err = ''
while len(held) < 1000:
    try:
        held.append(os.openpty())
    except OSError as e:
        err = errno.errorcode.get(e.errno, str(e.errno))
        break
print(len(held), err)`}})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d ENOSPC\n", nsinit.PtyMax); res.Stdout != want {
		t.Errorf("ptys opened and the error after: %q, want %q (stderr %q)", res.Stdout, want, res.Stderr)
	}
}
