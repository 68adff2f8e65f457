package docker_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/moattest"
)

// TestGCOrphanDeadSandbox: an orphaned record of moat's whose task ran on
// runsc and has stopped, its sandbox gone with it. containerd's delete of
// the task fails (the runc shim kills the task first, and runsc's kill of
// a sandbox that is not running fails: how `moat gc` failed CI in session
// 26); gc removes the task and the record still, after the runtime's own
// forced delete. The record is made with ctr, as Docker's are: runc's
// shim with runsc as its binary.
func TestGCOrphanDeadSandbox(t *testing.T) {
	moattest.RequireBackend(t, "docker")
	ctrCmd := ctrMoby(t)
	runsc, err := exec.LookPath("runsc")
	if err != nil {
		if moattest.Required("gvisor") {
			t.Fatal("runsc not found")
		}
		t.Skip("runsc not found: the runtime whose stopped tasks containerd cannot delete")
	}
	dir := t.TempDir()
	rootfs := filepath.Join(dir, "rootfs")
	for _, d := range []string{"usr", "proc", "dev", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"bin", "lib", "lib64"} {
		if err := os.Symlink("usr/"+l, filepath.Join(rootfs, l)); err != nil {
			t.Fatal(err)
		}
	}
	// Docker's runtimes are such wrappers too (/var/lib/docker/runtimes).
	wrapper := filepath.Join(dir, "runsc")
	if err := os.WriteFile(wrapper, []byte("#!/bin/sh\nexec "+runsc+" --network=none \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "state")
	const id = "orphan-dead-sandbox-moat-gctest"
	t.Cleanup(func() {
		_ = exec.Command(wrapper, "--root", filepath.Join(state, "moby"), "delete", "--force", id).Run()
		_, _ = ctrCmd("tasks", "delete", "--force", id)
		_, _ = ctrCmd("containers", "rm", id)
	})
	// /bin/true ignores its arguments, which are those of moat's init.
	if out, err := ctrCmd("run", "-d", "--rootfs", "--runc-binary", wrapper, "--runc-root", state,
		"--mount", "type=bind,src=/usr,dst=/usr,options=rbind:ro", rootfs, id, "/bin/true", "moat-container-init", "/.moat"); err != nil {
		t.Fatalf("ctr run: %v: %s", err, out)
	}
	task := func() string {
		out, _ := ctrCmd("tasks", "ls")
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == id {
				return f[2]
			}
		}
		return ""
	}
	for deadline := time.Now().Add(time.Minute); task() != "STOPPED"; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the task did not stop: %q", task())
		}
	}
	if out, err := ctrCmd("tasks", "delete", "--force", id); err == nil {
		t.Logf("containerd deleted the task itself (this runsc's kill of a stopped sandbox succeeds): %s", out)
	} else if !strings.Contains(string(out), "sandbox is not running") {
		t.Logf("containerd's delete failed otherwise: %s", out)
	}
	removed, err := docker.GC(context.Background(), "")
	if err != nil {
		t.Fatalf("gc: %v (removed %q)", err, removed)
	}
	if !slices.Contains(removed, "containerd record "+id[:12]) {
		t.Errorf("gc removed %q, want the record %s", removed, id[:12])
	}
	if s := task(); s != "" {
		t.Errorf("the task is left: %s", s)
	}
	if out, _ := ctrCmd("containers", "ls", "-q"); strings.Contains(string(out), id) {
		t.Errorf("the record is left: %q", out)
	}
}
