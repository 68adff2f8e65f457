package podman_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/podman"
	"github.com/moat-sandbox/moat/moattest"
)

func testImage() string {
	if i := os.Getenv("MOAT_TEST_IMAGE"); i != "" {
		return i
	}
	return "moat/python:bookworm"
}

var layers = []string{"engine", "runtime", "init", "user", "capabilities", "no-new-privs", "seccomp", "read-only-rootfs", "network", "disk", "limits", "timeout", "output-limit"}

// TestPodman runs the suite as podman runs for this moat: rootful as root
// (MOAT_PODMAN_USER unset), rootless otherwise.
func TestPodman(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	opts := moattest.Options{Layers: layers, Container: moattest.ContainerOptions}
	if os.Geteuid() != 0 {
		opts.AllowDegraded = true // rootless limits need cgroup v2 delegation
	}
	moattest.Run(t, func() moat.Backend { return podman.New(testImage(), "") }, opts)
	t.Run("no-leftover-containers", func(t *testing.T) { wantNoContainers(t, "") })
}

// TestPodmanPythonInit runs the suite with bootstrap.py as the container's
// init: the way of engines that cannot run the moat binary.
func TestPodmanPythonInit(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	opts := moattest.Options{Layers: layers, Container: moattest.ContainerOptions, AllowDegraded: os.Geteuid() != 0}
	moattest.Run(t, func() moat.Backend {
		b := podman.New(testImage(), "")
		b.PythonInit = true
		return b
	}, opts)
	t.Run("no-leftover-containers", func(t *testing.T) { wantNoContainers(t, "") })
}

// TestInitVolume: the init volume is read-only, holds moat alone, is
// filled again when it was removed, and gc removes other builds' volumes
// only; the audit hook is loaded as bytecode the image's python3 compiled.
func TestInitVolume(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	newB := func() moat.Backend { return podman.New(testImage(), "") }
	degraded := os.Geteuid() != 0
	name := moattest.InitVolume(t, newB, degraded, func(v string) error {
		if out, err := exec.Command("podman", "volume", "rm", "--force", v).CombinedOutput(); err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	for range 2 { // the first may compile the hook, the second has it from moat's cache
		moattest.HookBytecode(t, newB, degraded)
	}
	old := "moat-init-" + strings.Repeat("0", 20)
	if out, err := exec.Command("podman", "volume", "create", "--label", "moat.init="+strings.Repeat("0", 20), old).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	removed, err := podman.GC(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(removed, "volume "+old) || slices.Contains(removed, "volume "+name) {
		t.Errorf("gc removed %v; want %s removed and %s kept", removed, old, name)
	}
	if out, err := exec.Command("podman", "volume", "exists", name).CombinedOutput(); err != nil {
		t.Errorf("this build's volume: %v %s", err, out)
	}
	wantNoContainers(t, "")
}

// rootlessUser is the user .ci/podman-rootless.sh sets up.
func rootlessUser(t *testing.T) string {
	u := os.Getenv(podman.UserEnv)
	if u == "" {
		u = "moatpod"
	}
	if os.Geteuid() != 0 {
		t.Skip("the rootless-as-another-user path is for a root moat")
	}
	if _, err := user.Lookup(u); err != nil {
		if moattest.Required("podman") {
			t.Fatalf("no user %s for rootless podman (run .ci/podman-rootless.sh): %v", u, err)
		}
		t.Skipf("no user %s for rootless podman (run .ci/podman-rootless.sh)", u)
	}
	return u
}

// TestPodmanRootless runs the suite with podman rootless as an unprivileged
// user while moat is root. On cgroup v1 the limits are rlimits only, so the
// runs are degraded (and say so); without AllowDegraded they are refused.
func TestPodmanRootless(t *testing.T) {
	u := rootlessUser(t)
	newB := func() moat.Backend { return podman.New(testImage(), u) }
	b := newB()
	if err := moat.Check(context.Background(), b); err != nil {
		t.Fatalf("rootless podman as %s: %v", u, err)
	}
	_, v2 := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	opts := moattest.Options{Layers: layers, Container: moattest.ContainerOptions}
	if v2 != nil {
		_, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", "pass"}})
		if err == nil || !strings.Contains(err.Error(), "cgroup v1") {
			t.Fatalf("rootless podman on cgroup v1 without AllowDegraded: err = %v, want a refusal", err)
		}
		opts.AllowDegraded = true
		// Degraded says plainly what the rlimits bound: each process's
		// address space, not the memory of all together.
		res, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", "pass"}, AllowDegraded: true})
		if err != nil {
			t.Fatalf("degraded run: %v", err)
		}
		if d := strings.Join(res.Degraded, "; "); !strings.Contains(d, "address space of each process, not the memory of all together") {
			t.Fatalf("Degraded = %q: it does not say that RLIMIT_AS is per process", d)
		}
	}
	moattest.Run(t, newB, opts)
	t.Run("no-leftover-containers", func(t *testing.T) { wantNoContainers(t, u) })
}

func wantNoContainers(t *testing.T, as string) {
	t.Helper()
	cmd := exec.Command("podman", "ps", "--all", "--filter", "label=moat.run", "--format", "{{.Names}}")
	if as != "" {
		cmd = exec.Command("runuser", "-u", as, "--", "sh", "-c", "cd ~ && podman ps --all --filter label=moat.run --format '{{.Names}}'")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("podman ps: %v: %s", err, out)
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		t.Errorf("containers left behind: %s", s)
	}
}

// TestSinkhole: the shared sinkhole case, served by moat in the
// container's network namespace, rootful and rootless (as the rootless
// user, from a root moat; degraded on cgroup v1).
func TestSinkhole(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	if os.Geteuid() != 0 {
		t.Skip("a container's sinkhole needs moat as root")
	}
	t.Run("rootful", func(t *testing.T) { moattest.Sinkhole(t, podman.New(testImage(), "root"), nil) })
	t.Run("rootless", func(t *testing.T) {
		moattest.Sinkhole(t, podman.New(testImage(), rootlessUser(t)), func(s *moat.Spec) { s.AllowDegraded = true })
	})
	t.Run("nonroot", func(t *testing.T) {
		// moat itself as the rootless user: this test binary runs
		// TestSinkholeAsUser as that user.
		u := rootlessUser(t)
		moattest.AsUser(t, u, "TestSinkholeAsUser")
		wantNoContainers(t, u)
	})
}

// TestSinkholeAsUser is the shared sinkhole case with moat not root, its
// podman rootless as itself: the sink is served by moat's helper in
// podman's user namespace (`podman unshare`). Only as TestSinkhole's child.
func TestSinkholeAsUser(t *testing.T) {
	if os.Getenv(moattest.AsUserEnv) != "1" {
		t.Skip("run by TestSinkhole/nonroot as the rootless user")
	}
	if os.Geteuid() == 0 {
		t.Fatal("run as root: want the rootless user")
	}
	moattest.Sinkhole(t, podman.New(testImage(), ""), func(s *moat.Spec) { s.AllowDegraded = true })
}

func TestRefusals(t *testing.T) {
	b := podman.New(testImage(), "")
	for _, spec := range []*moat.Spec{
		{Args: []string{"-c", "pass"}, Network: moat.NetworkAllow("example.com:443")},
		{Args: []string{"-c", "pass"}, Python: "/usr/bin/python3"},
	} {
		if _, err := b.Run(context.Background(), spec); err == nil || !strings.Contains(err.Error(), moat.ErrUnsupported.Error()) {
			t.Errorf("%+v: err = %v, want ErrUnsupported", spec, err)
		}
	}
}

// TestPullFromRegistry pulls a missing image from a real registry on
// 127.0.0.1 (rootful: moat runs root's podman, whose registries.conf.d
// gets a drop-in marking that registry plain HTTP for the test).
func TestPullFromRegistry(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	if os.Geteuid() != 0 || os.Getenv(podman.UserEnv) != "" {
		t.Skip("the pull test uses rootful podman (moat as root, MOAT_PODMAN_USER unset)")
	}
	addr, stopRegistry := moattest.Registry(t)
	dropIn := filepath.Join("/etc/containers/registries.conf.d", "zz-moat-test-"+strings.ReplaceAll(addr, ":", "-")+".conf")
	if err := os.MkdirAll(filepath.Dir(dropIn), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dropIn, []byte(fmt.Sprintf("[[registry]]\nlocation = %q\ninsecure = true\n", addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(dropIn) })
	ref := addr + "/moat/pull-test:1"
	podmanCLI := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("podman", args...).CombinedOutput(); err != nil {
			t.Fatalf("podman %v: %v\n%s", args, err, out)
		}
	}
	// A copy of the test image of an ID of its own (a label), which
	// the rmi removes: the run pulls an image moat never saw, and its
	// first run has the hook in a -S child too (ctr.Learn after the pull).
	build := exec.Command("podman", "build", "-q", "-t", ref, "-")
	build.Stdin = strings.NewReader("FROM " + testImage() + "\nLABEL moat.test.pull=" + strconv.FormatInt(time.Now().UnixNano(), 36) + "\n")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("podman build: %v\n%s", err, out)
	}
	podmanCLI("push", ref)
	podmanCLI("rmi", ref)
	t.Cleanup(func() { exec.Command("podman", "rmi", "--ignore", ref).Run() })

	var stdout bytes.Buffer
	res, err := podman.New(ref, "").Run(context.Background(), &moat.Spec{Args: []string{"-c", pulledChild}, Stdout: &stdout})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.Status != moat.StatusExited || res.ExitCode != 0 || stdout.String() != "pulled\n" {
		t.Fatalf("status %s exit %d stdout %q stderr %q", res.Status, res.ExitCode, stdout.String(), res.Stderr)
	}
	for _, f := range res.Findings {
		if strings.Contains(f.Summary, "without moat's audit hook") {
			t.Errorf("the first run of a pulled image: %s", f.Summary)
		}
	}
	// A registry that is down: one line naming the image.
	stopRegistry()
	podmanCLI("rmi", ref)
	_, err = podman.New(ref, "").Run(context.Background(), &moat.Spec{Args: []string{"-c", "pass"}})
	if err == nil || !strings.Contains(err.Error(), ref) || !strings.Contains(err.Error(), "no registry reachable") || strings.Contains(err.Error(), "\n") {
		t.Errorf("registry down: err = %v", err)
	}
	wantNoContainers(t, "")
}

// TestCachePoison: see moattest.CachePoison (rootful podman).
func TestCachePoison(t *testing.T) {
	moattest.RequireBackend(t, "podman")
	if os.Geteuid() != 0 {
		t.Skip("builds an image in root's store")
	}
	id := strconv.FormatInt(time.Now().UnixNano(), 36)
	poisoned, name, ctrName := "localhost/moat-test/poisoned:"+id, "localhost/moat-test/name:"+id, "moat-poison-"+id
	cmd := func(args ...string) error {
		if out, err := exec.Command("podman", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("podman %s: %v: %s", args[0], err, out)
		}
		return nil
	}
	if err := cmd("run", "--name", ctrName, "--user", "0", "--network", "none", "--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096",
		"--entrypoint", "sh", testImage(), "-c", moattest.PoisonScript); err != nil {
		t.Fatal(err)
	}
	defer cmd("rm", "-f", ctrName)
	if err := cmd("commit", "--quiet", ctrName, poisoned); err != nil {
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
		NewBackend:   func() moat.Backend { return podman.New(name, "") },
		RemoveVolume: func(v string) error { return cmd("volume", "rm", v) },
	})
}

// pulledChild prints "pulled" from a python -S child.
const pulledChild = "import subprocess, sys; subprocess.run([sys.executable, '-S', '-c', 'print(\\'pulled\\')'], check=True)"
