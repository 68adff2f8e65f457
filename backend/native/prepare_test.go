//go:build linux

package native_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/internal/pool"
	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
	"github.com/moat-sandbox/moat/moattest"
)

// prepared runs every Spec in a sandbox prepared ahead for it
// (Backend.Prepare, then Prepared.Run), so that the shared suite holds the
// prepared path to the guarantees of the cold one.
type prepared struct{ native.Backend }

func (b *prepared) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	sb, err := b.Prepare(ctx, spec)
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	return sb.Run(ctx, spec)
}

func TestPrepared(t *testing.T) {
	if os.Getenv(nonRootEnv) != "" {
		t.Skip("re-executed for TestNativeNonRoot")
	}
	moattest.RequireBackend(t, "native")
	if os.Geteuid() != 0 {
		t.Skip("the prepared path is tested as root (TestNative covers an ordinary user)")
	}
	opts := moattest.Options{Layers: layers()}
	if info, err := cgroup.Probe(); err == nil {
		opts.Layers = append(opts.Layers, fmt.Sprintf("cgroup-v%d", info.Version))
		if info.Version == 2 {
			opts.ReportLostAtLimit = "in the TCG guest of .ci/cgroup2-vm.sh the init's report of a filled tmpfs takes longer than the stop grace (SECURITY.md)"
		}
	}
	moattest.Run(t, func() moat.Backend { return &prepared{} }, opts)
}

// TestPoolIsolation: runs of one pool see nothing of each other: no file
// in /work, /tmp, /dev/shm or home, no variable, no process, and their
// own honeytokens and persona (moattest.PoolIsolation).
func TestPoolIsolation(t *testing.T) {
	moattest.RequireBackend(t, "native")
	p, err := pool.New(&native.Backend{}, moat.Spec{}, 2, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	moattest.PoolIsolation(t, p, 4)
}

// TestPreparedDiesWaiting: a prepared sandbox killed while it waits is
// refused as stale, leaves nothing behind, and the pool runs the Spec
// cold instead.
func TestPreparedDiesWaiting(t *testing.T) {
	moattest.RequireBackend(t, "native")
	b := &native.Backend{}
	sb, err := b.Prepare(context.Background(), &moat.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	pid := sb.(*native.Prepared).Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-sb.Done()
	_, err = sb.Run(context.Background(), &moat.Spec{Args: []string{"-c", "print(1)"}})
	if !errors.Is(err, moat.ErrStale) {
		t.Fatalf("run in a dead sandbox: %v, want ErrStale", err)
	}
	sb.Close()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("the init %d is still there", pid)
	}

	p, err := pool.New(b, moat.Spec{}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	moattest.WaitReady(t, p, 1)
	// Kill every sandbox the pool holds: their inits are moat's children
	// whose command line is the init's persona; find them by cgroup.
	killPooled(t)
	res, _, err := p.Run(context.Background(), &moat.Spec{Args: []string{"-c", "print(42)"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != moat.StatusExited || strings.TrimSpace(res.Stdout) != "42" {
		t.Fatalf("after the pool's sandbox died: %s %q %q", res.Status, res.Stdout, res.Error)
	}
}

// killPooled kills this process's children that are sandbox inits.
func killPooled(t *testing.T) {
	t.Helper()
	killed := 0
	for _, pid := range moattest.ChildrenOf(os.Getpid()) {
		// Wait until it has exited (its pidfd polls readable): a kill
		// is not a death, and the pool can only tell a dead sandbox.
		fd, err := unix.PidfdOpen(pid, 0)
		if err != nil {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed++
			pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			for {
				if _, err := unix.Poll(pfd, -1); err != unix.EINTR {
					break
				}
			}
		}
		unix.Close(fd)
	}
	if killed == 0 {
		t.Fatal("no pooled sandbox to kill")
	}
}

// warmProbe shows what a program sees of how it was started.
const warmProbe = `
import json, os, sys
print(json.dumps({"argv": sys.argv, "orig": sys.orig_argv[1:], "path0": sys.path[0],
  "globals": sorted(globals()), "file": globals().get("__file__"), "cached": repr(globals().get("__cached__", "-")),
  "loader": type(__loader__).__name__ if not isinstance(__loader__, type) else __loader__.__name__,
  "env": [k for k in os.environ], "foo": os.environ.get("FOO"), "modules": "_main" in sys.modules or "_ctypes" in sys.modules,
  "cmdline": open("/proc/self/cmdline", "rb").read() == b"".join(os.fsencode(a) + b"\0" for a in sys.orig_argv),
  "environ": [kv.split(b"=", 1)[0].decode() for kv in open("/proc/self/environ", "rb").read().split(b"\0")],
  "stdin": sys.stdin.read()}))
`

// TestPrestartedAsCold: a program handed to a prestarted interpreter
// sees and does what it would in a sandbox started for it: argv,
// sys.path[0], __main__'s globals, the environment (names and order),
// /proc/self/cmdline and /proc/self/environ (the stub's would be a tell),
// stdin, tracebacks, exit statuses, and the audit hook's hello.
func TestPrestartedAsCold(t *testing.T) {
	moattest.RequireBackend(t, "native")
	b := &native.Backend{}
	script := map[string][]byte{"main.py": []byte(warmProbe)}
	cases := []struct {
		name string
		spec moat.Spec
	}{
		{"code", moat.Spec{Args: []string{"-c", warmProbe, "a b", "-x"}, Env: []string{"FOO=bar", "ZED=1"}}},
		{"script", moat.Spec{Args: []string{"main.py", "one"}, Files: script}},
		{"raise", moat.Spec{Args: []string{"-c", "import sys\ndef f():\n    1/0\nf()"}}},
		{"raise-script", moat.Spec{Args: []string{"main.py"}, Files: map[string][]byte{"main.py": []byte("x = 1\nraise ValueError('no')\n")}}},
		{"syntax", moat.Spec{Args: []string{"-c", "1 +"}}},
		{"exit", moat.Spec{Args: []string{"-c", "import sys; print('out'); sys.exit(3)"}}},
		{"exit-text", moat.Spec{Args: []string{"-c", "raise SystemExit('bye')"}}},
		{"interrupt", moat.Spec{Args: []string{"-c", "import atexit; atexit.register(print, 'atexit'); raise KeyboardInterrupt"}}},
		// time, loaded at startup, takes the run's TZ as a cold start does.
		{"tz", moat.Spec{Args: []string{"-c", "import time; print(time.tzname, time.timezone, time.localtime(0).tm_hour)"}, Env: []string{"TZ=JST-9"}}},
		// ctypes, which the stub loaded and took out of sys.modules, loads again.
		{"ctypes", moat.Spec{Args: []string{"-c", "import ctypes, sys; c = ctypes.CDLL(None); p = ctypes.pointer(ctypes.c_int(5))\n" +
			"print(c.getpid() > 0, ctypes.sizeof(ctypes.c_long), ctypes.create_string_buffer(b'ab').value, ctypes.cast(p, ctypes.POINTER(ctypes.c_int)).contents.value, ctypes.pythonapi.Py_IsInitialized())"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := c.spec
			spec.Stdin = strings.NewReader("in put")
			cold, err := b.Run(context.Background(), &spec)
			if err != nil {
				t.Fatal(err)
			}
			sb, err := b.Prepare(context.Background(), &moat.Spec{})
			if err != nil {
				t.Fatal(err)
			}
			defer sb.Close()
			if !sb.(*native.Prepared).Prestarted() {
				t.Fatal("the pool's template was not prestarted")
			}
			spec.Stdin = strings.NewReader("in put")
			warm, err := sb.Run(context.Background(), &spec)
			if err != nil {
				t.Fatal(err)
			}
			if warm.Status != cold.Status || warm.ExitCode != cold.ExitCode || warm.Signal != cold.Signal {
				t.Errorf("status %s %d %d, cold %s %d %d", warm.Status, warm.ExitCode, warm.Signal, cold.Status, cold.ExitCode, cold.Signal)
			}
			if warm.Stdout != cold.Stdout {
				t.Errorf("stdout\n%s\ncold\n%s", warm.Stdout, cold.Stdout)
			}
			if warm.Stderr != cold.Stderr {
				t.Errorf("stderr\n%s\ncold\n%s", warm.Stderr, cold.Stderr)
			}
			if w, c := audited(warm), audited(cold); w != c {
				t.Errorf("audit events\n%s\ncold\n%s", w, c)
			}
		})
	}
}

// audited lists the audit hook's events of res, without times and pids.
func audited(res *moat.Result) string {
	var b strings.Builder
	for _, e := range res.Events {
		if e.Source == moat.SourceAudit {
			fmt.Fprintf(&b, "%s %s %s %s\n", e.Kind, e.Path, e.Name, e.Detail)
		}
	}
	return b.String()
}

// TestPreparedDiesAtHandover: a prestarted sandbox that dies after the
// pool took it, as the program is handed over (its init, or its waiting
// interpreter, killed there through the test hook), gives the Spec
// back: the pool runs it cold, whole, and nothing is left behind.
func TestPreparedDiesAtHandover(t *testing.T) {
	moattest.RequireBackend(t, "native")
	for _, victim := range []string{"init", "interpreter"} {
		t.Run(victim, func(t *testing.T) {
			killed := 0
			defer native.SetHandoverHook(func(initPid int) {
				pid := initPid
				if victim == "interpreter" {
					pid = childOf(t, initPid)
				}
				if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
					t.Errorf("kill %s: %v", victim, err)
				}
				// Dead, not only killed; an init whose interpreter died
				// may still read the program, but never takes it.
				waitExit(pid)
				killed++
			})()
			p, err := pool.New(&native.Backend{}, moat.Spec{}, 1, 1)
			if err != nil {
				t.Fatal(err)
			}
			moattest.WaitReady(t, p, 1)
			res, pooled, err := p.Run(context.Background(), &moat.Spec{Args: []string{"-c", "import sys; print(sys.stdin.read())"}, Stdin: strings.NewReader("whole")})
			p.Close()
			if err != nil {
				t.Fatal(err)
			}
			if killed != 1 {
				t.Fatalf("the hook killed %d sandboxes, want 1", killed)
			}
			if pooled || res.Status != moat.StatusExited || strings.TrimSpace(res.Stdout) != "whole" {
				t.Fatalf("after the sandbox died at the handover: pooled %v, %s %q %q", pooled, res.Status, res.Stdout, res.Error)
			}
			if st := p.Stats(); st.Stale != 1 || st.Misses != 1 {
				t.Errorf("stats %+v, want 1 stale and 1 miss", st)
			}
		})
	}
}

// childOf returns the one child of pid.
func childOf(t *testing.T, pid int) int {
	t.Helper()
	if c := moattest.ChildrenOf(pid); len(c) > 0 {
		return c[0]
	}
	t.Fatalf("no child of %d", pid)
	return 0
}

// waitExit returns once pid has exited (its pidfd polls readable).
func waitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(pfd, -1); err != unix.EINTR {
			return
		}
	}
}

// TestPrestartedRefusesLoaderEnv: variables the dynamic loader and libc
// read as the interpreter starts (LD_*, GLIBC_TUNABLES, MALLOC_*) cannot
// reach one started ahead: such a run does not fit (it runs cold), and
// the sandbox is still unused.
func TestPrestartedRefusesLoaderEnv(t *testing.T) {
	moattest.RequireBackend(t, "native")
	for _, kv := range []string{"LD_PRELOAD=/work/x.so", "LD_LIBRARY_PATH=/work", "GLIBC_TUNABLES=glibc.malloc.check=3", "MALLOC_ARENA_MAX=1"} {
		sb, err := (&native.Backend{}).Prepare(context.Background(), &moat.Spec{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = sb.Run(context.Background(), &moat.Spec{Args: []string{"-c", "pass"}, Env: []string{kv}})
		if !errors.Is(err, moat.ErrMismatch) {
			t.Errorf("%s: %v, want ErrMismatch", kv, err)
		}
		if res, err := sb.Run(context.Background(), &moat.Spec{Args: []string{"-c", "print(1)"}}); err != nil || res.Stdout != "1\n" {
			t.Errorf("after %s the sandbox is not unused: %v %+v", kv, err, res)
		}
		sb.Close()
	}
}
