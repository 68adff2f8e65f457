//go:build linux

package microvm_test

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/moattest"
	"github.com/moat-sandbox/moat/pkgtest"
)

// TestPackageTest: `moat test` of a small local package runs in guests,
// one per phase, through every phase: the venv (made with the host's
// Debian python3 and its system site-packages, which the runtime image
// carries), pip's install offline under the sinkhole, the import under
// the sinkhole, and pytest with no network. /work, the venv inside, goes
// from guest to guest through the host's staging directories. The
// userland (moat.Spec.Userland, on in `moat test`) is in the runtime
// image: without it the venv phase is refused.
func TestPackageTest(t *testing.T) {
	b := moattest.RequireBackend(t, "microvm")
	if out, err := exec.Command("/usr/bin/python3", "-c", "import setuptools, pip, pytest, wheel, venv").CombinedOutput(); err != nil {
		msg := fmt.Sprintf("/usr/bin/python3 lacks pip, pytest, setuptools, wheel or venv (apt-get install python3-pip python3-pytest python3-setuptools python3-wheel python3-venv): %v: %s", err, strings.TrimSpace(string(out)))
		if moattest.Required("microvm") {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	tg, err := pkgtest.DetectTarget(filepath.Join("..", "..", "pkgtest", "testdata", "projects", "calc"), false)
	if err != nil {
		t.Fatal(err)
	}
	// Not speed bounds: pip's start and a setuptools build under TCG took
	// 4 minutes at load ~10 and over 10 at load ~34 (other work).
	timeouts := map[string]time.Duration{pkgtest.PhaseVenv: 10 * time.Minute, pkgtest.PhaseInstall: 20 * time.Minute, pkgtest.PhaseImport: 10 * time.Minute, pkgtest.PhaseTest: 10 * time.Minute}
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Minute)
	defer cancel()
	rep, err := pkgtest.Run(ctx, pkgtest.Config{Target: tg, Backend: b, Isolation: "microvm", Python: "/usr/bin/python3", Timeouts: timeouts})
	if rep == nil {
		t.Fatalf("no report (err %v)", err)
	}
	for _, p := range rep.Phases {
		t.Logf("%s: %s exit %d %dms %s %s; %d events\nstdout: %s\nstderr: %s", p.Name, p.Status, p.ExitCode, p.DurationMS, p.Note, p.Error, len(p.Events), tail(p.Stdout), tail(p.Stderr))
	}
	if err != nil || rep.Status != pkgtest.StatusPassed || rep.ExitStatus() != 0 {
		t.Fatalf("status %s, err %v", rep.Status, err)
	}
	nets := map[string]string{"venv": "none", "install": "sinkhole", "import": "sinkhole", "test": "none"}
	var names []string
	for _, p := range rep.Phases {
		names = append(names, p.Name)
		if p.Status != pkgtest.StatusPassed || p.Network != nets[p.Name] {
			t.Errorf("phase %s: status %s network %s (want passed, %s)", p.Name, p.Status, p.Network, nets[p.Name])
		}
		// The behaviour report was made in each guest: at least the
		// program's own exec, seen by the guest kernel.
		if len(p.Events) == 0 {
			t.Errorf("phase %s: no events: the guest made no report", p.Name)
		}
	}
	if strings.Join(names, " ") != "venv install import test" {
		t.Errorf("phases %v", names)
	}
	if !strings.Contains(phase(rep, "import").Stdout, "import-check: ok calc") {
		t.Errorf("import stdout %q", phase(rep, "import").Stdout)
	}
	want := pkgtest.Tests{Passed: 2, Skipped: 1, Failures: []string{}}
	if rep.Tests == nil || fmt.Sprint(*rep.Tests) != fmt.Sprint(want) {
		t.Errorf("tests %+v, want %+v", rep.Tests, want)
	}
	if rep.Verdict == "" {
		t.Error("the report has no verdict")
	}
	t.Logf("verdict %s, %d findings", rep.Verdict, len(rep.Findings))
}

func phase(rep *pkgtest.Report, name string) *pkgtest.PhaseResult {
	for _, p := range rep.Phases {
		if p.Name == name {
			return p
		}
	}
	return &pkgtest.PhaseResult{}
}

func tail(s string) string {
	if len(s) > 1500 {
		return "..." + s[len(s)-1500:]
	}
	return s
}
