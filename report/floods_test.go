package report_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/backend/podman"
	"github.com/moat-sandbox/moat/moattest"
)

// floodCases are programs that flood the kernel's reserves with distinct
// commands, distinct hosts or failing execs of long argv, then run the
// payload: each payload's finding (category, minimum severity, a string of
// its summary) must be in the report, and the flood counted.
var floodCases = []struct {
	file  string
	wants [][3]string
}{
	{"command_flood.py", [][3]string{
		{"credential-access", "high", "169.254.169.254"},
		{"credential-access", "high", "/etc/shadow"},
		{"execution", "critical", "/dev/tcp/203.0.113.9"},
	}},
	{"host_flood.py", [][3]string{{"execution", "critical", "reverse shell: connected to 203.0.113.9:4444"}}},
	{"argv_flood.py", [][3]string{
		{"credential-access", "high", "/etc/shadow"},
		{"credential-access", "high", "169.254.169.254"},
	}},
}

// floodArgs are the flood programs' arguments by backend: the number of
// distinct commands and hosts (argv_flood.py takes none: its 4,500 failing
// execs pass every budget). 450 is past native's reserves; the container
// init kept 2,000 of each kind.
var floodArgs = map[string][]string{"docker": {"2100"}, "podman": {"2100"}}

func wantFlooded(t *testing.T, res *moat.Result, wants [][3]string) {
	t.Helper()
	dumped := false
	for _, w := range wants {
		found := false
		for _, f := range res.Findings {
			found = found || f.Category == moat.Category(w[0]) && f.Severity.Rank() >= moat.Severity(w[1]).Rank() && strings.Contains(f.Summary, w[2])
		}
		if !found {
			if !dumped {
				dump(t, res)
				dumped = true
			}
			t.Errorf("no %s finding of %s or more naming %q", w[0], w[1], w[2])
		}
	}
	if res.EventsDropped == 0 || !has(res.Findings, moat.CategoryEvasion, moat.SeverityMedium) {
		t.Errorf("the flood: %d dropped, evasion finding %v", res.EventsDropped, has(res.Findings, moat.CategoryEvasion, moat.SeverityMedium))
	}
}

// TestCorpusFloods: a flood of distinct commands, hosts or long failing
// execs does not hide the payload that follows, on the backends whose
// kernel events share kbudget.Budget (kbudget.Budget).
func TestCorpusFloods(t *testing.T) {
	t.Parallel()
	for _, bk := range []struct {
		name string
		new  func(t *testing.T) moat.Backend
	}{
		{"native", func(t *testing.T) moat.Backend { return moattest.RequireBackend(t, "native") }},
		{"gvisor", func(t *testing.T) moat.Backend { moattest.RequireBackend(t, "gvisor"); return &gvisor.Backend{} }},
		// The container init's budget was 2,000 frames a kind: its
		// floods pass that (floodArgs).
		{"docker", func(t *testing.T) moat.Backend {
			moattest.RequireBackend(t, "docker")
			return docker.New(testImage(), "", "")
		}},
		{"podman", func(t *testing.T) moat.Backend {
			moattest.RequireBackend(t, "podman")
			return podman.New(testImage(), "")
		}},
		{"microvm", func(t *testing.T) moat.Backend {
			b := moattest.RequireBackend(t, "microvm")
			if ap, ok := b.(moat.AutoPicker); ok && ap.AutoPick(context.Background()) != nil &&
				!moattest.Required("microvm") && os.Getenv("MOAT_TEST_MICROVM") != "1" {
				t.Skip("under TCG the guest runs in software: set MOAT_TEST_MICROVM=1 or require microvm")
			}
			return b
		}},
	} {
		t.Run(bk.name, func(t *testing.T) {
			b := bk.new(t)
			for _, c := range floodCases {
				if bk.name == "microvm" && c.file != "host_flood.py" {
					continue // one run under TCG: the guest's budget is observe's, as native's
				}
				t.Run(strings.TrimSuffix(c.file, ".py"), func(t *testing.T) {
					res := run(t, b, filepath.Join("testdata", "corpus", c.file), func(s *moat.Spec) {
						s.Userland = true
						s.Limits.Timeout = 3 * time.Minute // thousands of execs, minutes under the Sentry
						s.Args = append(s.Args, floodArgs[bk.name]...)
					})
					wantFlooded(t, res, c.wants)
				})
			}
		})
	}
}
