package pkgtest_test

import (
	"cmp"
	"os"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/moattest"
	"github.com/moat-sandbox/moat/pkgtest"
)

// The witness's cases: projects of testdata/projects whose conftest
// rewrites outcomes in ways the static scan of the tree does not read
// (names built from pieces, an encoded hook executed, the witness
// unregistered), each with the words its finding must hold; "" for a
// project whose results must match with no finding (outcomebenign:
// xfail, xpass, skips, parametrize, a unittest case; failing: real
// failures, reported as such).
var witnessCases = []struct{ project, want string }{
	{"outcomecomputed", "tests failed but were reported passed: 2 test phase(s)"},
	{"outcomeencoded", "tests failed but were reported passed: 2 test phase(s)"},
	{"outcomeunregister", "the witness was removed"},
	{"outcomebenign", ""},
	{"failing", ""},
}

// TestWitness runs each case on native.
func TestWitness(t *testing.T) {
	t.Parallel()
	for _, c := range witnessCases {
		t.Run(c.project, func(t *testing.T) {
			checkWitness(t, pkgtest.Config{Target: project(t, c.project)}, c.want)
		})
	}
}

// TestWitnessBackends runs the hostile cases and the benign one in
// containers (docker, podman) and on gVisor (direct: the host's Python).
func TestWitnessBackends(t *testing.T) {
	t.Parallel()
	image := cmp.Or(os.Getenv("MOAT_TEST_IMAGE"), "moat/python:bookworm")
	for _, name := range []string{"docker", "podman", "gvisor"} {
		t.Run(name, func(t *testing.T) {
			b := moattest.RequireBackend(t, name)
			cfg := pkgtest.Config{Backend: b, Isolation: name, Image: image, AllowDegraded: os.Geteuid() != 0, Network: noNetwork}
			if name == "gvisor" {
				cfg.Image = ""
			}
			for _, c := range witnessCases[:4] {
				t.Run(c.project, func(t *testing.T) {
					cfg := cfg
					cfg.Target = project(t, c.project)
					checkWitness(t, cfg, c.want)
				})
			}
		})
	}
}

func checkWitness(t *testing.T, cfg pkgtest.Config, want string) {
	t.Helper()
	rep, err := run(t, cfg)
	if err != nil || rep.Tests == nil {
		dump(t, rep)
		t.Fatalf("status %s, tests %+v, err %v", rep.Status, rep.Tests, err)
	}
	logFindings(t, rep)
	checkConsistent(t, rep)
	var got []moat.Finding
	for _, f := range findings(t, rep, "test", moat.CategoryEvasion) {
		for _, e := range f.Evidence {
			if e.Kind == moat.KindTestWitness {
				got = append(got, f)
				break
			}
		}
	}
	if want == "" {
		if len(got) > 0 || rep.Verdict != "clean" && rep.Verdict != "low" {
			dump(t, rep)
			t.Errorf("the results match, yet the witness says %+v (verdict %s)", got, rep.Verdict)
		}
		return
	}
	// The package claims every test passed: that is what it made pytest say.
	if rep.Tests.Failed != 0 || rep.Tests.Passed != 3 || phase(rep, "test").Status != pkgtest.StatusPassed {
		dump(t, rep)
		t.Fatalf("the conftest did not rewrite the results: %+v, test phase %s", rep.Tests, phase(rep, "test").Status)
	}
	ok := false
	for _, f := range got {
		ok = ok || f.Severity == moat.SeverityHigh && strings.Contains(f.Summary, want)
	}
	if !ok || rep.Verdict != "high" {
		dump(t, rep)
		t.Errorf("no high evasion finding of the witness saying %q; verdict %s", want, rep.Verdict)
	}
}

// TestWitnessKeptInReport: a suite of many file opens (pygments': its
// report kept 1,000 of 2,800 events, the earliest audit claims, and cut
// the witness's end) keeps the witness's start and end records in the
// bounded report, on every backend that runs the witness.
func TestWitnessKeptInReport(t *testing.T) {
	t.Parallel()
	image := cmp.Or(os.Getenv("MOAT_TEST_IMAGE"), "moat/python:bookworm")
	for _, name := range []string{"native", "gvisor", "docker", "podman"} {
		t.Run(name, func(t *testing.T) {
			cfg := pkgtest.Config{Target: project(t, "manyopens")}
			if name != "native" {
				b := moattest.RequireBackend(t, name)
				cfg = pkgtest.Config{Target: cfg.Target, Backend: b, Isolation: name, Image: image, AllowDegraded: os.Geteuid() != 0, Network: noNetwork}
				if name == "gvisor" {
					cfg.Image = ""
				}
			}
			rep, err := run(t, cfg)
			if err != nil || rep.Tests == nil || rep.Tests.Passed != 300 {
				dump(t, rep)
				t.Fatalf("status %s, tests %+v, err %v", rep.Status, rep.Tests, err)
			}
			p := phase(rep, "test")
			var records []string
			for _, e := range p.Events {
				if e.Kind == moat.KindTestReport {
					records = append(records, e.Path)
				}
			}
			if p.EventsDropped == 0 || strings.Join(records, " ") != "start end" {
				dump(t, rep)
				t.Errorf("%d events kept, %d dropped; the witness's records kept: %q, want start and end", len(p.Events), p.EventsDropped, records)
			}
		})
	}
}
