//go:build linux

package ssh_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/ssh"
	"github.com/moat-sandbox/moat/report"
)

// corpusFile is a program of the report's shared corpus (report/testdata).
func corpusFile(t *testing.T, kind, name string) (string, []byte) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "report", "testdata", kind, name))
	if err != nil {
		t.Fatal(err)
	}
	return name, src
}

// runCorpus runs one program of the corpus on the host.
func runCorpus(t *testing.T, cfg ssh.Config, kind, file string) *moat.Result {
	t.Helper()
	name, src := corpusFile(t, kind, file)
	return runReport(t, cfg, name, src)
}

// runReport runs one program of the corpus (or code, as prog.py) on the
// host, and fails unless it has a report.
func runReport(t *testing.T, cfg ssh.Config, name string, src []byte) *moat.Result {
	t.Helper()
	spec := &moat.Spec{Args: []string{name}, Files: map[string][]byte{name: src}, AllowDegraded: true,
		Limits: moat.Limits{Timeout: 60 * time.Second}}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := (&ssh.Backend{Config: cfg}).Run(ctx, spec)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.Findings == nil {
		t.Fatalf("%s: Findings is nil, want a list", name)
	}
	return res
}

func dumpReport(t *testing.T, res *moat.Result) {
	t.Helper()
	var b bytes.Buffer
	report.WriteSummary(&b, res)
	t.Logf("status %s exit %d\nstdout: %s\nstderr: %s\n%s", res.Status, res.ExitCode, res.Stdout, res.Stderr, b.String())
	for _, e := range res.Events {
		t.Logf("  %6d %-7s %-14s %5d %s %.200s %.100s", e.TimeMS, e.Source, e.Kind, e.PID, e.Path+e.Addr+e.Name, e.Detail, e.Data)
	}
}

// wantFinding fails unless res has a finding of cat, at sev or above,
// whose summary holds marker.
func wantFinding(t *testing.T, res *moat.Result, cat moat.Category, sev moat.Severity, marker string) {
	t.Helper()
	if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
		return f.Category == cat && f.Severity.Rank() >= sev.Rank() && strings.Contains(f.Summary, marker)
	}) {
		dumpReport(t, res)
		t.Errorf("no %s finding of severity %s or more naming %q", cat, sev, marker)
	}
}

// TestReport: the behaviour report of a run on the host (docs/ssh.md):
// honeytokens planted in the run's home (never the user's real one), the
// audit hook in the host's python3 and the interpreters it starts, the
// walk and diff of what the program wrote, its output searched for the
// planted secrets; no kernel side, which the report says.
func TestReport(t *testing.T) {
	s := startSSHD(t)
	cfg := s.config()
	cfg.Dir = runsDir(t)
	u, err := user.Lookup(testUser)
	if err != nil {
		t.Fatal(err)
	}
	realHome := func() []string {
		var l []string
		for _, p := range []string{".aws", ".ssh", ".netrc", ".bashrc", ".config/gh", ".docker", ".npmrc", ".pypirc", ".git-credentials"} {
			if _, err := os.Lstat(filepath.Join(u.HomeDir, p)); err == nil {
				l = append(l, p)
			}
		}
		return l
	}
	before := realHome()
	// The site directories of the host's python3: the hook's overlay is
	// the run's, the host's directories are never written.
	sites := func() string {
		out, err := exec.Command("/usr/bin/python3", "-I", "-S", "-c", "import os, site\nfor d in site.getsitepackages():\n    print(d, sorted(os.listdir(d)) if os.path.isdir(d) else None)").Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	sitesBefore := sites()
	t.Run("credential-read", func(t *testing.T) {
		res := runCorpus(t, cfg, "corpus", "steal_aws_post.py")
		wantFinding(t, res, moat.CategoryCredentialAccess, moat.SeverityHigh, ".aws/credentials")
		// no kernel witness there, and the report says so
		if !slices.ContainsFunc(res.Events, func(e moat.Event) bool {
			return e.Kind == moat.KindKernelEventsUnavailable && strings.Contains(e.Detail, "seccomp listener")
		}) {
			dumpReport(t, res)
			t.Error("no kernel-events-unavailable event")
		}
		// the kernel's access times of the planted files are there
		if !slices.ContainsFunc(res.Layers, func(l moat.Layer) bool {
			return l.Name == "honeytoken-witness" && strings.HasPrefix(l.Detail, "kernel: ") && strings.Contains(l.Detail, "O_NOATIME")
		}) || !slices.ContainsFunc(res.Layers, func(l moat.Layer) bool { return l.Name == "behaviour-report" && !strings.HasPrefix(l.Detail, "off") }) {
			t.Errorf("layers: %+v, want the report on and the witness on, saying what it cannot see", res.Layers)
		}
		if !slices.ContainsFunc(res.Events, func(e moat.Event) bool {
			return e.Source == moat.SourceKernel && e.Kind == moat.KindHoneytokenRead && strings.HasSuffix(e.Path, "/.aws/credentials")
		}) {
			dumpReport(t, res)
			t.Error("no kernel honeytoken-read event of ~/.aws/credentials")
		}
	})
	t.Run("output-exfil", func(t *testing.T) {
		res := runReport(t, cfg, "prog.py", []byte(`import base64, os
print(base64.b64encode(open(os.path.expanduser("~/.aws/credentials"), "rb").read()).decode())
`))
		wantFinding(t, res, moat.CategoryExfiltration, moat.SeverityCritical, "printed to stdout (base64)")
	})
	t.Run("pth-persistence", func(t *testing.T) {
		res := runCorpus(t, cfg, "corpus", "pth_persistence.py")
		wantFinding(t, res, moat.CategoryPersistence, moat.SeverityHigh, "zz_helper.pth")
		wantFinding(t, res, moat.CategoryPersistence, moat.SeverityHigh, ".bashrc")
	})
	t.Run("isolated-child", func(t *testing.T) {
		// children started with -S -I -E, -S and -I: each runs the hook
		// (the -I child from the site directory's .pth line, an overlay
		// of the host's; the -S ones from the loader at the end of the
		// encodings package bound over the host's), and reports its own
		// credential read; no process says hello twice
		res := runCorpus(t, cfg, "corpus", "nosite_child.py")
		hellos := map[int]int{}
		for _, e := range res.Events {
			if e.Source == moat.SourceAudit && e.Kind == moat.KindHello {
				hellos[e.PID]++
			}
		}
		children := map[int]bool{}
		for _, e := range res.Events {
			if e.Source == moat.SourceAudit && e.Kind == "open" && strings.HasSuffix(e.Path, "/.aws/credentials") && hellos[e.PID] == 1 && e.PID != mainPID(res) {
				children[e.PID] = true
			}
		}
		if len(children) != 3 || strings.Count(res.Stdout, "no_site") != 3 {
			dumpReport(t, res)
			t.Errorf("%d of the 3 children (-S -I -E, -S, -I) reported their credential read by the hook, want each", len(children))
		}
		for pid, n := range hellos {
			if n != 1 {
				t.Errorf("pid %d said hello %d times", pid, n)
			}
		}
	})
	t.Run("tamper-hook", func(t *testing.T) {
		// code run inside the hook walks its frames to reach its state
		// (the hook's own word; moattest's report-tamper renames its
		// channel and directory, which the walk sees)
		res := runCorpus(t, cfg, "corpus", "hook_frames.py")
		wantFinding(t, res, moat.CategoryEvasion, moat.SeverityMedium, "tampered with the Python audit hook")
	})
	t.Run("unhooked-read", func(t *testing.T) {
		// tamper_hook.py's child, given a standard library of its own and
		// -S, never runs the hook (and no kernel sees its exec there):
		// its credential read is the kernel's access time of the file
		res := runCorpus(t, cfg, "corpus", "tamper_hook.py")
		if !slices.ContainsFunc(res.Findings, func(f moat.Finding) bool {
			return f.Category == moat.CategoryCredentialAccess && f.Severity.Rank() >= moat.SeverityHigh.Rank() &&
				slices.ContainsFunc(f.Evidence, func(e moat.Event) bool { return e.Source == moat.SourceKernel && e.Kind == moat.KindHoneytokenRead })
		}) {
			dumpReport(t, res)
			t.Error("no credential-access finding on the kernel's witness of the read")
		}
	})
	// More of the corpus, by what the hook and the walk see.
	for _, c := range []struct {
		file   string
		cat    moat.Category
		sev    moat.Severity
		marker string
	}{
		{"bashrc_edit.py", moat.CategoryPersistence, moat.SeverityHigh, ".bashrc"},
		{"pth_hidden.py", moat.CategoryPersistence, moat.SeverityHigh, "zz_late.pth"},
		{"big_file.py", moat.CategoryExfiltration, moat.SeverityCritical, ""},
		{"sparse_file.py", moat.CategoryExfiltration, moat.SeverityCritical, ""},
		{"long_body.py", moat.CategoryExfiltration, moat.SeverityCritical, ""},
		{"dns_exfil.py", moat.CategoryExfiltration, moat.SeverityCritical, ""},
		{"shm_drop.py", moat.CategoryPersistence, moat.SeverityHigh, "/dev/shm/zz_shm.pth"},
		{"download_exec.py", moat.CategoryExecution, moat.SeverityHigh, "/tmp/.cache-update"},
	} {
		t.Run(strings.TrimSuffix(c.file, ".py"), func(t *testing.T) {
			wantFinding(t, runCorpus(t, cfg, "corpus", c.file), c.cat, c.sev, c.marker)
		})
	}
	t.Run("benign", func(t *testing.T) {
		for _, f := range []string{"numeric.py", "fileio.py", "netrc_lookup.py", "echo_test.py", "finalizer_logs.py", "nosite_suite.py",
			// a suite's own venvs and helper scripts, run by a path: with
			// no exec witness, Python on the hook's hello (SECURITY.md)
			"venv_suite.py", "venv_throwaway.py", "script_suite.py"} {
			t.Run(strings.TrimSuffix(f, ".py"), func(t *testing.T) {
				res := runCorpus(t, cfg, "benign", f)
				if res.Status != moat.StatusExited || res.ExitCode != 0 {
					dumpReport(t, res)
					t.Fatalf("status %s exit %d", res.Status, res.ExitCode)
				}
				if mainPID(res) == 0 {
					dumpReport(t, res)
					t.Error("the audit hook never said hello")
				}
				for _, f := range res.Findings {
					if f.Severity.Rank() > moat.SeverityLow.Rank() {
						dumpReport(t, res)
						t.Errorf("benign program got %s %s: %s", f.Severity, f.Category, f.Summary)
					}
				}
			})
		}
	})
	// The honeytokens were the run's home's: nothing planted or written
	// in the user's real home.
	if after := realHome(); !slices.Equal(before, after) {
		t.Errorf("the user's real home changed: %q, then %q", before, after)
	}
	if after := sites(); after != sitesBefore {
		t.Errorf("the host's site directories changed:\n%s\nthen\n%s", sitesBefore, after)
	}
	if left := leftDirs(t, cfg.Dir); len(left) > 0 {
		t.Errorf("run directories left on the host: %q", left)
	}
}

// mainPID is the pid of the run's first interpreter: the first that said
// hello.
func mainPID(res *moat.Result) int {
	for _, e := range res.Events {
		if e.Source == moat.SourceAudit && e.Kind == moat.KindHello {
			return e.PID
		}
	}
	return 0
}
