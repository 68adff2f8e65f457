package docker_test

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/backend/internal/enginetest"
	"github.com/moat-sandbox/moat/moattest"
)

// testImage is the image the suite runs: MOAT_TEST_IMAGE, or the one
// .ci/images.sh builds (no registry is needed).
func testImage() string {
	if i := os.Getenv("MOAT_TEST_IMAGE"); i != "" {
		return i
	}
	return "moat/python:bookworm"
}

func newBackend() moat.Backend { return docker.New(testImage(), "", "") }

var layers = []string{"engine", "runtime", "init", "user", "capabilities", "no-new-privs", "seccomp", "read-only-rootfs", "network", "disk", "limits", "timeout", "output-limit"}

func TestDocker(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	moattest.Run(t, newBackend, moattest.Options{Layers: layers, Container: moattest.ContainerOptions})
	t.Run("no-leftover-containers", func(t *testing.T) { enginetest.WantNoContainers(t) })
}

// TestDockerPythonInit runs the suite with bootstrap.py as the container's
// init: the way of engines that cannot run the moat binary (another OS or
// architecture).
func TestDockerPythonInit(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	moattest.Run(t, func() moat.Backend {
		b := docker.New(testImage(), "", "")
		b.PythonInit = true
		return b
	}, moattest.Options{Layers: layers, Container: moattest.ContainerOptions})
	t.Run("no-leftover-containers", func(t *testing.T) { enginetest.WantNoContainers(t) })
}

// TestInitVolume: the init volume is read-only, holds moat alone, is
// filled again when it was removed, and gc removes other builds' volumes
// only; the audit hook is loaded as bytecode the image's python3 compiled.
func TestInitVolume(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	name := moattest.InitVolume(t, newBackend, false, func(v string) error { return cli.VolumeRemove(ctx, v, true) })
	for range 2 { // the first may compile the hook, the second has it from moat's cache
		moattest.HookBytecode(t, newBackend, false)
	}
	old := "moat-init-" + strings.Repeat("0", 20)
	if _, err := cli.VolumeCreate(ctx, volume.CreateOptions{Name: old, Labels: map[string]string{"moat.init": strings.Repeat("0", 20)}}); err != nil {
		t.Fatal(err)
	}
	removed, err := docker.GC(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, "volume "+old) || slices.Contains(removed, "volume "+name) {
		t.Errorf("gc removed %v; want %s removed and %s kept", removed, old, name)
	}
	if _, err := cli.VolumeInspect(ctx, name); err != nil {
		t.Errorf("this build's volume: %v", err)
	}
	enginetest.WantNoContainers(t) // the helper that filled the volume included
}

// TestSinkhole: the shared sinkhole cases through the docker backend. As
// root moat serves the sink in the container's network namespace itself;
// as a user of the docker group who is not root (nonroot: this test
// binary as .ci/docker-user.sh's user), moat's sink helper serves it from
// a container of its own on that namespace (sink.go).
func TestSinkhole(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	if os.Geteuid() != 0 {
		sinkholeByHelper(t)
		return
	}
	t.Run("root", func(t *testing.T) {
		moattest.Sinkhole(t, newBackend(), nil)
		moattest.SinkholeSecrets(t, newBackend(), nil)
		// A sinkhole's container has IPv6 on loopback, as native:
		// a test suite that binds ::1 runs.
		moattest.Run(t, func() moat.Backend { return sinkholeBackend{docker.New(testImage(), "", "")} }, moattest.Options{
			Layers: layers, Container: moattest.ContainerOptions, Cases: []string{"socket-families"},
		})
	})
	t.Run("nonroot", func(t *testing.T) {
		moattest.AsUser(t, dockerUser(t), "TestSinkholeAsUser")
		enginetest.WantNoContainers(t) // the helpers' included
	})
}

// TestSinkholeAsUser is TestSinkhole's as the docker group's user. Only as
// TestSinkhole/nonroot's child.
func TestSinkholeAsUser(t *testing.T) {
	if os.Getenv(moattest.AsUserEnv) != "1" {
		t.Skip("run by TestSinkhole/nonroot as a user of the docker group")
	}
	if os.Geteuid() == 0 {
		t.Fatal("run as root: want a user of the docker group")
	}
	sinkholeByHelper(t)
}

// sinkholeByHelper runs the shared sinkhole cases with moat not root: the
// layers name the helper, and no container of the runs is left.
func sinkholeByHelper(t *testing.T) {
	for name, res := range map[string]*moat.Result{
		"sinkhole": moattest.Sinkhole(t, newBackend(), nil),
		"secrets":  moattest.SinkholeSecrets(t, newBackend(), nil),
	} {
		if !strings.Contains(fmt.Sprint(res.Layers), "sink helper") {
			t.Errorf("%s: no layer says the sink helper serves the network: %+v", name, res.Layers)
		}
	}
	t.Run("suite", func(t *testing.T) {
		// The adversarial cases with the sinkhole: the program's
		// container keeps its hardening beside the helper, and
		// socket-families binds ::1 as on native (Docker turns IPv6
		// off in a sinkhole's container unless moat asks otherwise).
		moattest.Run(t, func() moat.Backend { return sinkholeBackend{docker.New(testImage(), "", "")} }, moattest.Options{
			Layers: layers, Container: moattest.ContainerOptions,
			Cases: []string{"host-files", "host-proc", "syscalls", "proc-sys-writes", "devices", "tiocsti",
				"signal-host", "inherited-fds", "capabilities", "uid", "hostname", "exit-code", "layers", "cancel", "limit-timeout", "cleanup",
				"socket-families"},
		})
	})
	t.Run("helper-fails", sinkHelperFails)
	t.Run("helper-killed", sinkHelperKilled)
	enginetest.WantNoLabelled(t).Close()
}

// sinkHelperFails: a helper that cannot set the sink up (here: started
// without its capabilities) refuses the run in one line before the
// program starts, and leaves no container.
func sinkHelperFails(t *testing.T) {
	docker.WithoutSinkCaps(t)
	var out bytes.Buffer
	res, err := newBackend().Run(context.Background(), &moat.Spec{
		Args: []string{"-c", "print('the program ran')"}, Network: moat.NetworkSinkhole, Stdout: &out,
	})
	if err == nil || res != nil {
		if res != nil {
			t.Fatalf("a run whose sink helper failed has a result: %s %q (err %v)", res.Status, res.Error, err)
		}
		t.Fatal("a run whose sink helper failed: no error")
	}
	if msg := err.Error(); !strings.Contains(msg, "sink helper") || strings.Contains(msg, "\n") {
		t.Errorf("err = %q, want one line naming the sink helper", msg)
	}
	if out.Len() != 0 {
		t.Errorf("the program ran: %q", out.String())
	}
	enginetest.WantNoLabelled(t).Close()
}

// sinkHelperKilled: a helper killed while the program runs takes the sink
// with it, not the namespace's isolation: the program's next connection
// goes nowhere (a listener on the host gets nothing), and the report says
// the sink's events were lost.
func sinkHelperKilled(t *testing.T) {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	port, accepted := moattest.HostListener(t, "0.0.0.0:0")
	prog := fmt.Sprintf(`
import socket, sys, time
print("ready", flush=True)
sys.stdin.readline()
for addr in ("203.0.113.9", "172.17.0.1", "127.0.0.1"):
    try:
        socket.create_connection((addr, %d), timeout=3).close()
        print("connected", addr)
    except OSError as e:
        print("failed", addr, type(e).__name__)
`, port)
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	killed := make(chan error, 1)
	stdout := &onLine{want: "ready", do: func() {
		go func() {
			list, err := cli.ContainerList(context.Background(), container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", "moat.run"))})
			n := 0
			for _, c := range list {
				if len(c.Names) > 0 && strings.HasSuffix(c.Names[0], "-sink") {
					err = cmp.Or(err, cli.ContainerKill(context.Background(), c.ID, "KILL"))
					n++
				}
			}
			if err == nil && n != 1 {
				err = fmt.Errorf("%d sink helpers running", n)
			}
			killed <- err
			// Once it is gone: the program goes on.
			for err == nil {
				ins, ierr := cli.ContainerInspect(context.Background(), list[0].ID)
				if ierr != nil || ins.State == nil || !ins.State.Running {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			_, _ = stdinW.Write([]byte("go\n"))
		}()
	}}
	res, err := newBackend().Run(context.Background(), &moat.Spec{
		Args: []string{"-c", prog}, Network: moat.NetworkSinkhole, Stdin: stdinR, Stdout: stdout,
		Limits: moat.Limits{Timeout: time.Minute},
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if err := <-killed; err != nil {
		t.Fatalf("kill the sink helper: %v", err)
	}
	if strings.Contains(res.Stdout, "connected") || accepted() != 0 {
		t.Errorf("a connection went through without the sink (host got %d):\n%s", accepted(), res.Stdout)
	}
	if strings.Count(res.Stdout, "failed") != 3 {
		t.Errorf("stdout:\n%s\nstderr:\n%s", res.Stdout, res.Stderr)
	}
	cut := false
	for _, ev := range res.Events {
		cut = cut || ev.Kind == moat.KindReportCut && strings.Contains(ev.Detail, "sinkhole's helper ended without its events")
	}
	if !cut {
		t.Errorf("no event says the sink's events were lost (%d events)", len(res.Events))
	}
	enginetest.WantNoLabelled(t).Close()
}

// onLine is a writer that calls do once when a line equal to want was
// written.
type onLine struct {
	want string
	do   func()
	buf  []byte
	once sync.Once
}

func (w *onLine) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	if slices.Contains(strings.Split(string(w.buf), "\n"), w.want) {
		w.once.Do(w.do)
	}
	return len(p), nil
}

// sinkholeBackend runs every spec with the sinkhole network.
type sinkholeBackend struct{ *docker.Backend }

func (b sinkholeBackend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	spec.Network = moat.NetworkSinkhole
	return b.Backend.Run(ctx, spec)
}

// dockerUser is the user of the docker group who is not root that the
// nonroot tests run moat as (MOAT_DOCKER_USER, default moatdock, made by
// .ci/docker-user.sh).
func dockerUser(t *testing.T) string {
	t.Helper()
	u := os.Getenv("MOAT_DOCKER_USER")
	if u == "" {
		u = "moatdock"
	}
	if _, err := user.Lookup(u); err != nil {
		if moattest.Required("docker") {
			t.Fatalf("no user %s in the docker group (run .ci/docker-user.sh): %v", u, err)
		}
		t.Skipf("no user %s in the docker group (run .ci/docker-user.sh)", u)
	}
	return u
}

func TestRefusals(t *testing.T) {
	b := docker.New(testImage(), "", "")
	if os.Geteuid() == 0 && moat.Check(context.Background(), docker.New(testImage(), "runsc", "")) == nil {
		// runsc with its own network stack (CI registers it with
		// --network=none): the sink's namespace would see no flow.
		_, err := docker.New(testImage(), "runsc", "").Run(context.Background(), &moat.Spec{Args: []string{"-c", "pass"}, Network: moat.NetworkSinkhole})
		if !isUnsupported(err) || !strings.Contains(err.Error(), docker.HostinetRuntime) {
			t.Errorf("sinkhole under runsc --network=none: err = %v, want ErrUnsupported naming %s", err, docker.HostinetRuntime)
		}
	}
	for _, spec := range []*moat.Spec{
		{Args: []string{"-c", "pass"}, Network: moat.NetworkAllow("example.com:443")},
		{Args: []string{"-c", "pass"}, Python: "/usr/bin/python3"},
	} {
		_, err := b.Run(context.Background(), spec)
		if err == nil || !strings.Contains(err.Error(), "docker:") || !isUnsupported(err) {
			t.Errorf("%+v: err = %v, want ErrUnsupported", spec, err)
		}
	}
}

func isUnsupported(err error) bool {
	return err != nil && strings.Contains(err.Error(), moat.ErrUnsupported.Error())
}

func TestMissingImage(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	b := docker.New("moat/does-not-exist:never", "", "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err := b.Run(ctx, &moat.Spec{Args: []string{"-c", "pass"}})
	if err == nil || !strings.Contains(err.Error(), "moat/does-not-exist:never") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %v, want one line naming the image", err)
	}
	enginetest.WantNoContainers(t)
}

// TestPullFromRegistry pulls a missing image from a real registry
// (distribution's, which .ci/run builds) listening on 127.0.0.1, where
// Docker needs no TLS, and checks the progress it shows.
func TestPullFromRegistry(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	addr, stopRegistry := moattest.Registry(t)
	ref := addr + "/moat/pull-test:1"
	dockerCLI := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	// A copy of the test image of an ID of its own (a label), which
	// the rmi removes: the run pulls an image moat never saw, and its
	// first run has the hook in a -S child too (ctr.Learn after the pull).
	build := exec.Command("docker", "build", "-q", "-t", ref, "-")
	build.Stdin = strings.NewReader("FROM " + testImage() + "\nLABEL moat.test.pull=" + strconv.FormatInt(time.Now().UnixNano(), 36) + "\n")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	dockerCLI("push", ref)
	dockerCLI("rmi", ref)
	t.Cleanup(func() { exec.Command("docker", "rmi", ref).Run() })

	var progress, stdout bytes.Buffer
	b := docker.New(ref, "", "")
	b.Progress = &progress
	res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", pulledChild}, Stdout: &stdout})
	if err != nil {
		t.Fatalf("run: %v (progress: %s)", err, progress.String())
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 || stdout.String() != "pulled\n" {
		t.Fatalf("status %s exit %d stdout %q stderr %q", res.Status, res.ExitCode, stdout.String(), res.Stderr)
	}
	for _, f := range res.Findings {
		if strings.Contains(f.Summary, "without moat's audit hook") {
			t.Errorf("the first run of a pulled image: %s", f.Summary)
		}
	}
	if !strings.Contains(progress.String(), "Status: Downloaded newer image for "+ref) {
		t.Errorf("no pull progress shown:\n%s", progress.String())
	}
	// A registry that is down: one line naming the image, no stack.
	stopRegistry()
	dockerCLI("rmi", ref)
	_, err = docker.New(ref, "", "").Run(context.Background(), &moat.Spec{Args: []string{"-c", "pass"}})
	if err == nil || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "no registry reachable") || strings.Contains(err.Error(), "\n") {
		t.Errorf("registry down: err = %v", err)
	}
	enginetest.WantNoContainers(t)
}

// TestCachePoison: an image published under a name that later points to
// another image poisons nothing of moat's: its hook bytecode is not used
// for the other image, and its /.moat never enters the init volume.
func TestCachePoison(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	ctx := context.Background()
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		t.Fatal(err)
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	poisoned, name, ctrName := "moat-test/poisoned:"+id, "moat-test/name:"+id, "moat-poison-"+id
	cmd := func(args ...string) error {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("docker %s: %v: %s", args[0], err, out)
		}
		return nil
	}
	if err := cmd("run", "--name", ctrName, "--user", "0", "--network", "none", "--entrypoint", "sh", testImage(), "-c", moattest.PoisonScript); err != nil {
		t.Fatal(err)
	}
	defer cmd("rm", "-f", ctrName)
	if err := cmd("commit", ctrName, poisoned); err != nil {
		t.Fatal(err)
	}
	defer cmd("rmi", "-f", poisoned, name)
	moattest.CachePoison(t, moattest.Poison{
		Point: func(p bool) error {
			if p {
				return cmd("tag", poisoned, name)
			}
			return cmd("tag", testImage(), name)
		},
		NewBackend:   func() moat.Backend { return docker.New(name, "", "") },
		RemoveVolume: func(v string) error { return cli.VolumeRemove(ctx, v, false) },
	})
}

// TestCanceledRuns: runs canceled at every point of their life (before
// the create, between create and start, while the program starts and
// runs), and runs past their timeout, several at once: each ends with a
// result or an error, and nothing of them is left at the daemon, nor in
// Docker's containerd.
func TestCanceledRuns(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	b := newBackend()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range 24 {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			spec := &moat.Spec{Args: []string{"-c", "import time; print(1, flush=True); time.sleep(30)"}}
			if i%3 == 2 {
				spec.Limits.Timeout = time.Duration(i*50) * time.Millisecond
			} else {
				time.AfterFunc(time.Duration(i*i*5)*time.Millisecond, cancel)
			}
			res, err := b.Run(ctx, spec)
			if err == nil && res.Status == moat.StatusExited {
				t.Errorf("run %d: exited: %+v", i, res)
			}
		}()
	}
	wg.Wait()
	enginetest.WantNoContainers(t)
}

// TestNames: localhost and the persona's host name resolve with no network
// and under the sinkhole, as on native (a disabled network left
// /etc/hosts empty), and the lookup is no evasion finding (glibc's own
// connects to the answers, which the kernel sees and the hook does not).
func TestNames(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	prog := `
import socket
print(socket.getaddrinfo("localhost", 80, socket.AF_INET)[0][4][0], socket.getaddrinfo(socket.gethostname(), 80)[0][4][0])
`
	for _, n := range []moat.Network{moat.NetworkNone, moat.NetworkSinkhole} {
		var out, errb bytes.Buffer
		res, err := newBackend().Run(context.Background(), &moat.Spec{Args: []string{"-c", prog}, Network: n, Stdout: &out, Stderr: &errb})
		if err != nil {
			t.Fatalf("network %q: %v", n, err)
		}
		if got := strings.TrimSpace(out.String()); res.ExitCode != 0 || got != "127.0.0.1 127.0.1.1" {
			t.Errorf("network %q: exit %d, %q %q; want 127.0.0.1 127.0.1.1", n, res.ExitCode, got, errb.String())
		}
		for _, f := range res.Findings {
			if f.Category == moat.CategoryEvasion {
				t.Errorf("network %q: an evasion finding for a lookup: %s", n, f.Summary)
			}
		}
	}
}

// TestWritableExec: what the program writes in /work, /tmp and its home
// runs there, and a shared object written there loads (a C extension a
// test suite builds in /work), under runc and under runsc, as on native:
// Docker makes a tmpfs noexec unless its options say exec (an exec was
// EACCES on both runtimes, a .so's mmap(PROT_EXEC) EPERM under runc).
func TestWritableExec(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	const prog = `import ctypes, glob, os, shutil, subprocess, sys
so = glob.glob("/usr/lib/python3*/lib-dynload/_json.*.so") + glob.glob("/usr/local/lib/python3*/lib-dynload/_json.*.so")
for d in ("/work", "/tmp", os.path.expanduser("~")):
    shutil.copy(os.path.realpath(sys.executable), d + "/py")
    os.chmod(d + "/py", 0o755)
    try:
        print(d, "exec", subprocess.run([d + "/py", "-c", "pass"]).returncode, flush=True)
    except OSError as e:
        print(d, "exec:", e, flush=True)
    shutil.copy(so[0], d + "/ext.so")
    try:
        ctypes.CDLL(d + "/ext.so")
        print(d, "dlopen ok", flush=True)
    except OSError as e:
        print(d, "dlopen:", e, flush=True)
`
	for _, rt := range []string{"", "runsc"} {
		t.Run(cmp.Or(rt, "default"), func(t *testing.T) {
			b := docker.New(testImage(), rt, "")
			if rt != "" {
				if err := moat.Check(context.Background(), b); err != nil && !moattest.Required("gvisor") {
					t.Skip(err)
				}
			}
			res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", prog}})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"/work", "/tmp", "/home/"} {
				for _, w := range []string{" exec 0", " dlopen ok"} {
					if !slices.ContainsFunc(strings.Split(res.Stdout, "\n"), func(l string) bool { return strings.HasPrefix(l, d) && strings.HasSuffix(l, w) }) {
						t.Errorf("no %q for %s: status %s exit %d\nstdout: %s\nstderr: %s", w, d, res.Status, res.ExitCode, res.Stdout, res.Stderr)
					}
				}
			}
		})
	}
}

// pulledChild prints "pulled" from a python -S child.
const pulledChild = "import subprocess, sys; subprocess.run([sys.executable, '-S', '-c', 'print(\\'pulled\\')'], check=True)"

// TestGCOrphans: `moat gc` removes a record of moat's container that
// Docker left in its containerd (made here with ctr, as a Docker that
// lost the removal leaves one), with its task, and nothing else's.
func TestGCOrphans(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	ctrCmd := ctrMoby(t)
	rootfs := t.TempDir()
	ids := map[string][]string{
		"orphan000000-moat-gctest": {"/.moat/moat", "moat-container-init", "/.moat"},
		"other0000000-moat-gctest": {"sleep", "1"},
	}
	for id, args := range ids {
		if out, err := ctrCmd(append([]string{"containers", "create", "--rootfs", rootfs, id}, args...)...); err != nil {
			t.Fatalf("ctr containers create: %v: %s", err, out)
		}
		t.Cleanup(func() { _, _ = ctrCmd("containers", "rm", id) })
	}
	removed, err := docker.GC(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, "containerd record orphan000000") {
		t.Errorf("gc removed %q, want the orphaned record of moat's container", removed)
	}
	out, err := ctrCmd("containers", "ls", "-q")
	if err != nil {
		t.Fatalf("ctr: %v: %s", err, out)
	}
	if strings.Contains(string(out), "orphan000000") || !strings.Contains(string(out), "other0000000") {
		t.Errorf("containerd's records after gc: %q, want moat's gone and the other kept", out)
	}
}

// ctrMoby returns a runner of ctr on Docker's containerd (namespace moby),
// skipping t where gc could not read it: as a user who is not root.
func ctrMoby(t *testing.T) func(args ...string) ([]byte, error) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("gc reads containerd as root")
	}
	sock, err := docker.ContainerdSocket()
	if err != nil {
		t.Fatal(err)
	}
	return func(args ...string) ([]byte, error) {
		return exec.Command("ctr", append([]string{"-a", sock, "-n", "moby"}, args...)...).CombinedOutput()
	}
}
