package report_test

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/backend/podman"
	"github.com/moat-sandbox/moat/moattest"
)

// staticReader builds testdata/witness/reader.go: a static binary that
// reads a file without Python.
func staticReader(t *testing.T) []byte { return buildStatic(t, "./testdata/witness/reader.go") }

// buildStatic builds the Go program pkg as a static binary and returns it.
func buildStatic(t *testing.T, pkg string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "static")
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kernelRead reports whether a high credential-access finding rests on
// the kernel's witness of a read of the planted ~/.aws/credentials.
func kernelRead(res *moat.Result) bool {
	for _, f := range res.Findings {
		if f.Category != moat.CategoryCredentialAccess || f.Severity != moat.SeverityHigh || strings.Contains(f.Summary, "audit hook") {
			continue
		}
		for _, e := range f.Evidence {
			if e.Source == moat.SourceKernel && e.Kind == moat.KindHoneytokenRead && strings.HasSuffix(e.Path, "/.aws/credentials") {
				return true
			}
		}
	}
	return false
}

func evasion(res *moat.Result, what string) bool {
	for _, f := range res.Findings {
		if f.Category == moat.CategoryEvasion && f.Severity == moat.SeverityHigh && strings.Contains(f.Summary, what) {
			return true
		}
	}
	return false
}

// TestWitness: a planted credential file read in any way the audit hook
// cannot see is a credential-access finding on the kernel's evidence (the
// file's access time), and one read past the hook is also an evasion;
// reading with O_NOATIME is refused, and setting the times back is itself
// a finding (the change time).
func TestWitness(t *testing.T) {
	t.Parallel()
	witnessCases(t, moattest.RequireBackend(t, "native"), "")
}

// witnessCases runs the reads on b. blind, if set, is a way of reading
// that b's witness cannot see: its layer must then say so, by that name.
func witnessCases(t *testing.T, b moat.Backend, blind string) {
	reader := staticReader(t)
	for _, how := range []string{"ctypes", "static", "isolated", "dirfd", "procroot", "mmap", "sendfile", "splice", "copy_file_range", "utime", "touch", "noatime",
		"slashes", "dotdot", "symlink", "dropped"} {
		t.Run(how, func(t *testing.T) {
			res := run(t, b, filepath.Join("testdata", "corpus", "read_past_hook.py"), func(s *moat.Spec) {
				s.Args = append(s.Args, how)
				s.Files["reader"] = reader
				s.Userland = how == "touch"
			})
			if res.Status != moat.StatusExited || res.ExitCode != 0 {
				dump(t, res)
				t.Fatalf("status %s exit %d", res.Status, res.ExitCode)
			}
			switch how {
			case "noatime":
				if !strings.Contains(res.Stdout, "noatime refused 1") {
					dump(t, res)
					t.Errorf("an O_NOATIME open of the planted file was not refused with EPERM")
				}
			case "utime", "touch":
				if !evasion(res, "altered planted fake credential files") {
					dump(t, res)
					t.Errorf("setting the access time back is no evasion finding")
				}
			default:
				if strings.Contains(res.Stdout, "unsupported") {
					t.Skipf("%s: %s", how, res.Stdout)
				}
				if how == blind {
					if !witnessSays(res, "not reads through "+how) {
						dump(t, res)
						t.Errorf("the witness cannot see a read through %s, and its layer does not say so", how)
					}
					break
				}
				if !kernelRead(res) {
					dump(t, res)
					t.Errorf("no credential-access finding on the kernel's witness of the read")
				}
			}
			if how == "ctypes" || how == "static" || how == "isolated" || how == "dropped" {
				if !evasion(res, "past the audit hook") {
					dump(t, res)
					t.Errorf("a read the hook did not see is no evasion finding")
				}
			}
		})
	}
	t.Run("benign", func(t *testing.T) {
		// the witness itself reads nothing: no read, no alteration
		for _, f := range []string{"numeric.py", "fileio.py"} {
			res := run(t, b, filepath.Join("testdata", "benign", f), nil)
			on := false
			for _, l := range res.Layers {
				on = on || (l.Name == "honeytoken-witness" && strings.HasPrefix(l.Detail, "kernel: "))
			}
			if !on {
				t.Errorf("%s: the witness is not on: %+v", f, res.Layers)
			}
			for _, e := range res.Events {
				if e.Kind == moat.KindHoneytokenRead || e.Kind == moat.KindHoneytokenAltered {
					dump(t, res)
					t.Errorf("%s: %s %s", f, e.Kind, e.Path)
				}
			}
		}
	})
}

// TestWitnessGVisor: the same on gVisor (direct), whose home is a host
// tmpfs that moat plants on and watches.
func TestWitnessGVisor(t *testing.T) {
	t.Parallel()
	moattest.RequireBackend(t, "gvisor")
	witnessCases(t, &gvisor.Backend{}, "")
}

// witnessSays reports whether the honeytoken-witness layer of res is on
// and says what.
func witnessSays(res *moat.Result, what string) bool {
	for _, l := range res.Layers {
		if l.Name == "honeytoken-witness" && strings.HasPrefix(l.Detail, "kernel: ") && strings.Contains(l.Detail, what) {
			return true
		}
	}
	return false
}

// TestWitnessContainers: the same on docker and podman, whose init
// plants the files, watches them and sends what it saw.
func TestWitnessContainers(t *testing.T) {
	t.Parallel()
	for _, bk := range []struct {
		name, needs string
		new         func() moat.Backend
		blind       string
	}{
		{"docker", "docker", func() moat.Backend { return docker.New(testImage(), "", "") }, ""},
		{"podman", "podman", func() moat.Backend { return podman.New(testImage(), "") }, ""},
		// gVisor as Docker's runtime: the home is the Sentry's own tmpfs,
		// which moves no access time on mmap.
		{"gvisor-image", "gvisor", func() moat.Backend { return docker.New(testImage(), "runsc", "") }, "mmap"},
	} {
		t.Run(bk.name, func(t *testing.T) {
			moattest.RequireBackend(t, "docker")
			moattest.RequireBackend(t, bk.needs)
			witnessCases(t, bk.new(), bk.blind)
		})
	}
}

// TestKernelExecsContainers: on docker and podman every exec is seen by
// the kernel (the init's seccomp listener), not by the audit hook alone:
// an execve through ctypes is a kernel exec the hook did not report (an
// evasion finding), and a program a shell starts (which no hook sees)
// is a kernel exec with its command line.
func TestKernelExecsContainers(t *testing.T) {
	t.Parallel()
	for _, bk := range []struct {
		name string
		new  func() moat.Backend
	}{
		{"docker", func() moat.Backend { return docker.New(testImage(), "", "") }},
		{"podman", func() moat.Backend { return podman.New(testImage(), "") }},
	} {
		t.Run(bk.name, func(t *testing.T) {
			moattest.RequireBackend(t, bk.name)
			b := bk.new()
			res := run(t, b, filepath.Join("testdata", "corpus", "ctypes_syscall.py"), nil)
			if !evasion(res, "seen by the kernel that Python's audit hook did not report") {
				dump(t, res)
				t.Errorf("an execve through ctypes is no kernel-seen evasion finding")
			}
			res = run(t, b, filepath.Join("testdata", "corpus", "shell_commands.py"), nil)
			var seen bool
			for _, e := range res.Events {
				seen = seen || (e.Source == moat.SourceKernel && e.Kind == moat.KindExec && strings.HasSuffix(e.Path, "/cat") && e.PPID != 0)
			}
			if !seen {
				dump(t, res)
				t.Errorf("no kernel exec of cat, which a shell started")
			}
			// /proc/self in the exec's path is the caller's, not the init's.
			wantExecThroughFD(t, run(t, b, filepath.Join("testdata", "corpus", "exec_fd.py"), nil), false)
		})
	}
}

// TestKernelConnects: a connection made through libc (ctypes), which the
// audit hook never reports, is seen by the kernel on native and in
// containers (the init's seccomp listener): a kernel connect event with
// its address, and the high "seen by the kernel" evasion finding on it.
func TestKernelConnects(t *testing.T) {
	t.Parallel()
	for _, bk := range []struct {
		name string
		new  func() moat.Backend
	}{
		{"native", func() moat.Backend { return moattest.RequireBackend(t, "native") }},
		{"docker", func() moat.Backend { return docker.New(testImage(), "", "") }},
		{"podman", func() moat.Backend { return podman.New(testImage(), "") }},
	} {
		t.Run(bk.name, func(t *testing.T) {
			moattest.RequireBackend(t, bk.name)
			res := run(t, bk.new(), filepath.Join("testdata", "corpus", "ctypes_connect.py"), nil)
			var seen bool
			for _, f := range res.Findings {
				if f.Category != moat.CategoryEvasion || f.Severity != moat.SeverityHigh || !strings.Contains(f.Summary, "seen by the kernel that Python's audit hook did not report") {
					continue
				}
				for _, e := range f.Evidence {
					seen = seen || (e.Source == moat.SourceKernel && e.Kind == moat.KindConnect && e.Addr == "203.0.113.9:4444")
				}
			}
			if !seen {
				dump(t, res)
				t.Errorf("a connect through ctypes is no kernel-seen evasion finding with its address")
			}
		})
	}
}

// deniedCall is a call of denied_calls.py and testdata/denied: its
// label, the kernel event it must leave (kind denied with the call's
// name, or kind socket with the address family) and the errno it must
// get, on native and in a container (where it is the engine profile's).
type deniedCall struct {
	label      string
	kind       moat.Kind
	name       string
	native, in syscall.Errno
}

// deniedCalls are the calls of denied_calls.py and testdata/denied.
var deniedCalls = func() []deniedCall {
	var calls []deniedCall
	for _, name := range []string{"mount", "umount2", "unshare", "setns", "ptrace", "keyctl", "bpf", "kexec_load", "init_module", "perf_event_open", "chroot"} {
		calls = append(calls, deniedCall{name, moat.KindDenied, name, syscall.EPERM, syscall.EPERM})
	}
	return append(calls,
		deniedCall{"clone-newuser", moat.KindDenied, "clone", syscall.EPERM, syscall.EPERM},
		deniedCall{"clone3-newuser", moat.KindDenied, "clone3", syscall.ENOSYS, syscall.ENOSYS},
		deniedCall{"socket-vsock", moat.KindSocket, "AF_VSOCK", syscall.EAFNOSUPPORT, syscall.EPERM},
		deniedCall{"socket-packet", moat.KindSocket, "AF_PACKET", syscall.EAFNOSUPPORT, syscall.EPERM},
		deniedCall{"socket-alg", moat.KindSocket, "AF_ALG", syscall.EAFNOSUPPORT, syscall.EPERM},
		deniedCall{"socket-netlink-diag", moat.KindSocket, "AF_NETLINK", syscall.EAFNOSUPPORT, syscall.EPERM},
		deniedCall{"socketpair-inet", moat.KindSocket, "AF_INET", syscall.EAFNOSUPPORT, syscall.EPERM},
		deniedCall{"ioctl-tiocsti", moat.KindDenied, "ioctl", syscall.EPERM, syscall.EPERM},
		deniedCall{"open-noatime", moat.KindDenied, "open", syscall.EPERM, syscall.EPERM},
		deniedCall{"openat-noatime", moat.KindDenied, "openat", syscall.EPERM, syscall.EPERM},
		deniedCall{"fcntl-noatime", moat.KindDenied, "fcntl", syscall.EPERM, syscall.EPERM},
		deniedCall{"personality", moat.KindDenied, "personality", syscall.EPERM, syscall.EPERM},
		deniedCall{"io_uring_setup", moat.KindDenied, "io_uring_setup", syscall.ENOSYS, syscall.EPERM},
		deniedCall{"openat2", moat.KindDenied, "openat2", syscall.ENOSYS, syscall.ENOSYS},
	)
}()

// staticDenied builds testdata/denied: a static binary that makes the
// denied calls without Python.
func staticDenied(t *testing.T) []byte { return buildStatic(t, "./testdata/denied") }

// TestKernelDenied: calls every sandbox denies, made through libc
// (ctypes) or by a static binary, which the audit hook never reports, are
// still refused, and each is seen by the kernel: a kernel event, and a
// finding on it. Those refused whatever their arguments (mount, unshare,
// setns, ptrace, keyctl, bpf, kexec_load, init_module, ...), those refused
// for their arguments (clone with a namespace flag, socket families,
// TIOCSTI, O_NOATIME, a persona) and those answered ENOSYS or left out
// (clone3 asking for a namespace, io_uring, openat2). In containers the
// engine's profile would answer them before any listener: the init's
// guard does, with the profile's errno, and glibc's fallback from clone3
// still starts threads.
func TestKernelDenied(t *testing.T) {
	t.Parallel()
	static := staticDenied(t)
	for _, bk := range []struct {
		name string
		new  func() moat.Backend
	}{
		{"native", func() moat.Backend { return moattest.RequireBackend(t, "native") }},
		{"docker", func() moat.Backend { return docker.New(testImage(), "", "") }},
		{"podman", func() moat.Backend { return podman.New(testImage(), "") }},
		{"podman-rootless", func() moat.Backend { return podman.New(testImage(), "moatpod") }},
	} {
		for _, how := range []string{"ctypes", "static"} {
			t.Run(bk.name+"/"+how, func(t *testing.T) {
				moattest.RequireBackend(t, strings.TrimSuffix(bk.name, "-rootless"))
				if strings.HasSuffix(bk.name, "-rootless") {
					if _, err := user.Lookup("moatpod"); err != nil || os.Geteuid() != 0 {
						t.Skip("rootless podman as moatpod needs that user and a root moat (.ci/podman-rootless.sh)")
					}
				}
				res := run(t, bk.new(), filepath.Join("testdata", "corpus", "denied_calls.py"), func(s *moat.Spec) {
					s.Args = append(s.Args, how)
					s.Files["denied"] = static
					s.AllowDegraded = strings.HasSuffix(bk.name, "-rootless") // cgroup v1: rlimits only
				})
				if strings.Contains(res.Stdout, "unsupported") {
					t.Skip(strings.TrimSpace(res.Stdout))
				}
				if res.Status != moat.StatusExited || res.ExitCode != 0 {
					dump(t, res)
					t.Fatalf("status %s exit %d", res.Status, res.ExitCode)
				}
				wantDenied(t, res, bk.name == "native", how == "ctypes")
			})
		}
	}
}

// TestKernelDeniedGVisor: under gVisor no seccomp listener can be had
// (the Sentry answers SECCOMP_FILTER_FLAG_NEW_LISTENER with EINVAL): the
// calls the OCI profile refuses are seen in the Sentry's debug log
// instead, which the program cannot write, and (direct) the families the
// Sentry lacks in its syscall trace. Direct, runsc is moat's own; with
// --image it is Docker's runtime, registered to trace
// (.ci/setup-runsc-trace.sh). clone3 (glibc's start of every thread, its flags
// unlogged) and, direct, openat2 (the Sentry's own ENOSYS) are unseen.
func TestKernelDeniedGVisor(t *testing.T) {
	t.Parallel()
	static := staticDenied(t)
	for _, bk := range []struct {
		name  string
		new   func() moat.Backend
		image bool
	}{
		{"gvisor", func() moat.Backend { return moattest.RequireBackend(t, "gvisor") }, false},
		{"gvisor-image", func() moat.Backend { return docker.New(testImage(), "runsc", "") }, true},
	} {
		for _, how := range []string{"ctypes", "static"} {
			t.Run(bk.name+"/"+how, func(t *testing.T) {
				moattest.RequireBackend(t, map[bool]string{false: "gvisor", true: "docker"}[bk.image])
				res := run(t, bk.new(), filepath.Join("testdata", "corpus", "denied_calls.py"), func(s *moat.Spec) {
					s.Args = append(s.Args, how)
					s.Files["denied"] = static
				})
				for _, e := range res.Events {
					if e.Kind == moat.KindKernelEventsUnavailable && strings.Contains(e.Detail, "not registered to trace") {
						t.Skip("Docker's runsc is not registered to trace (.ci/setup-runsc-trace.sh): " + e.Detail)
					}
				}
				if res.Status != moat.StatusExited || res.ExitCode != 0 {
					dump(t, res)
					t.Fatalf("status %s exit %d", res.Status, res.ExitCode)
				}
				got := map[string]string{}
				for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
					if label, rest, ok := strings.Cut(l, " "); ok {
						got[label] = rest
					}
				}
				seen := map[string]bool{}
				for _, e := range res.Events {
					if e.Source == moat.SourceKernel && (e.Kind == moat.KindDenied || e.Kind == moat.KindSocket) {
						seen[string(e.Kind)+" "+e.Name] = true
					}
				}
				for _, c := range deniedCalls {
					if !strings.HasPrefix(got[c.label], "-1 ") || got[c.label] == "-1 0" {
						t.Errorf("%s: returned %q, want a refusal", c.label, got[c.label])
					}
					want := string(c.kind) + " " + c.name
					switch {
					case c.label == "clone3-newuser", c.label == "openat2" && !bk.image:
						continue
					case strings.HasPrefix(c.label, "socketpair"):
						want = "denied socketpair" // the profile's: no family in the log
					case strings.HasPrefix(c.label, "socket") && (bk.image || c.label == "socket-packet" || c.label == "socket-netlink-diag"):
						want = "denied socket"
					}
					if !seen[want] {
						t.Errorf("%s: no kernel event %s", c.label, want)
					}
				}
				findings := []string{"tried syscalls the sandbox denies", "inject input into the terminal"}
				if !bk.image {
					findings = append(findings, "address families the sandbox refuses")
				}
				for _, what := range findings {
					if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
						return strings.Contains(f.Summary, what) && slices.ContainsFunc(f.Evidence, func(e moat.Event) bool { return e.Source == moat.SourceKernel })
					}) {
						t.Errorf("no finding %q on the kernel's events", what)
					}
				}
				if how == "ctypes" && slices.ContainsFunc(res.Findings, func(f moat.Finding) bool { return f.Category == moat.CategoryExecution }) {
					t.Error("an execution finding: moat's own start of the program?")
				}
				if how == "ctypes" && got["thread"] != "0 0" {
					t.Errorf("a thread did not start: %q", got["thread"])
				}
				if t.Failed() {
					dump(t, res)
				}
			})
		}
	}
}

// wantDenied checks denied_calls.py's result: every call refused with
// its errno, each a kernel event, the findings resting on those events,
// and (thread, from ctypes) a thread started past clone3.
func wantDenied(t *testing.T, res *moat.Result, native, thread bool) {
	t.Helper()
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(res.Stdout), "\n") {
		if label, rest, ok := strings.Cut(l, " "); ok {
			got[label] = rest
		}
	}
	// Each finding rests on the kernel's events (its evidence is
	// bounded); every call has one.
	findings := map[string]bool{}
	for _, f := range res.Findings {
		for _, what := range []string{"tried syscalls the sandbox denies", "inject input into the terminal", "address families the sandbox refuses"} {
			if strings.Contains(f.Summary, what) && slices.ContainsFunc(f.Evidence, func(e moat.Event) bool { return e.Source == moat.SourceKernel }) {
				findings[what] = true
			}
		}
	}
	for _, what := range []string{"tried syscalls the sandbox denies", "inject input into the terminal", "address families the sandbox refuses"} {
		if !findings[what] {
			t.Errorf("no finding %q on the kernel's events", what)
		}
	}
	seen := map[string]bool{}
	for _, e := range res.Events {
		if e.Source == moat.SourceKernel && (e.Kind == moat.KindDenied || e.Kind == moat.KindSocket) {
			seen[string(e.Kind)+" "+e.Name] = true
		}
	}
	for _, c := range deniedCalls {
		want := c.in
		if native {
			want = c.native
		}
		if w := fmt.Sprintf("-1 %d", want); got[c.label] != w {
			t.Errorf("%s: returned %q, want %q (%s)", c.label, got[c.label], w, unix.ErrnoName(want))
		}
		if !seen[string(c.kind)+" "+c.name] {
			t.Errorf("%s: no kernel %s event %s", c.label, c.kind, c.name)
		}
	}
	if thread && got["thread"] != "0 0" {
		t.Errorf("a thread did not start: %q", got["thread"])
	}
	if t.Failed() {
		dump(t, res)
	}
}

// TestExecThroughFD: on native, an exec of /proc/self/fd/N (a dropper's
// memfd) is the caller's file: a kernel exec with its sha256, not an
// exec-failed of moat's own descriptor, and a high execution finding.
func TestExecThroughFD(t *testing.T) {
	t.Parallel()
	b := moattest.RequireBackend(t, "native")
	wantExecThroughFD(t, run(t, b, filepath.Join("testdata", "corpus", "exec_fd.py"), userland), true)
}

// wantExecThroughFD checks exec_fd.py's result: a kernel exec of
// /proc/self/fd/N (with a sha256 if hashed), no exec-failed, the program's
// exit 0 and the high execution finding.
func wantExecThroughFD(t *testing.T, res *moat.Result, hashed bool) {
	t.Helper()
	var ran, failed, high bool
	for _, e := range res.Events {
		if e.Source == moat.SourceKernel && strings.HasPrefix(e.Path, "/proc/self/fd/") {
			ran = ran || (e.Kind == moat.KindExec && (!hashed || len(e.SHA256) == 64))
			failed = failed || e.Kind == moat.KindExecFailed
		}
	}
	for _, f := range res.Findings {
		high = high || (f.Category == moat.CategoryExecution && f.Severity == moat.SeverityHigh && strings.Contains(f.Summary, "held only by a descriptor"))
	}
	if !ran || failed || !high || !strings.Contains(res.Stdout, "exit 0") {
		dump(t, res)
		t.Errorf("an exec through /proc/self/fd: kernel exec %v, exec-failed %v, high finding %v", ran, failed, high)
	}
}
