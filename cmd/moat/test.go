package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"github.com/moat-sandbox/moat/pkgtest"
	"github.com/moat-sandbox/moat/report"
	"github.com/moat-sandbox/moat/scan"
)

type testFlags struct {
	isolation, python                          string
	image                                      string
	wheelhouse, index, phases, command, out    string
	timeoutInstall, timeoutImport, timeoutTest string
	network, netInstall, netImport, netTest    string
	limitFlags
	asJSON, allowDegraded, requirements, quiet bool
	userland, noIsolation                      bool
	scan                                       bool
	scanAnalysers                              string
	report                                     reportFlags // report.go
}

func testCmd() *cobra.Command {
	f := &testFlags{}
	c := &cobra.Command{
		Use:   "test [flags] TARGET",
		Short: "Install, import and test an untrusted Python package, each phase in its own sandbox",
		Long: `Test a Python package you do not trust: make a venv, pip install the
package, import its top-level modules and run its tests (pytest, or
--command), each phase in a fresh sandbox with its own limits, timeout and
network: by default a sinkhole for install and import (every name
resolves, every connection is accepted, recorded and answered by moat,
HTTPS included, and nothing leaves the machine) and none for the test
phase; with --index the install phase may reach that host alone.

TARGET is a project directory (pyproject.toml or setup.py), an sdist
(.tar.gz), a wheel (.whl) or a requirements file (requirements*.txt, or
any name with --requirements). Archives are validated before anything
runs. Exit status: 0 every phase passed, 1 a phase failed, 124 a phase
timed out, 125 moat failed (bad input included), 130 interrupted.

Every phase has a behaviour report: its events and findings (what the
package's code did or tried: credentials read, connections attempted,
.pth files written, ...), each finding naming its phase. They are in the
JSON, summed up after the phases, and with --sarif / --html in files.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return doTest(c, f, args[0]) },
	}
	fl := c.Flags()
	fl.StringVar(&f.isolation, "isolation", "auto", "backend: auto or a name from `moat backends`")
	fl.StringVar(&f.wheelhouse, "wheelhouse", "", "directory of wheels/sdists for an offline install (pip --no-index --find-links)")
	fl.StringVar(&f.index, "index", "", "package index URL; the install phase alone may reach its host:port")
	fl.StringVar(&f.phases, "phases", "install,import,test", "phases to run (the venv is always made first)")
	fl.StringVar(&f.command, "command", "", "shell command replacing pytest in the test phase (venv first on PATH; $MOAT_JUNIT for JUnit XML)")
	fl.StringVar(&f.timeoutInstall, "timeout-install", pkgtest.DefaultTimeouts[pkgtest.PhaseInstall].String(), "wall clock of the install phase")
	fl.StringVar(&f.timeoutImport, "timeout-import", pkgtest.DefaultTimeouts[pkgtest.PhaseImport].String(), "wall clock of the import phase")
	fl.StringVar(&f.timeoutTest, "timeout-test", pkgtest.DefaultTimeouts[pkgtest.PhaseTest].String(), "wall clock of the test phase")
	fl.StringVar(&f.network, "network", "", "network of every phase: none, sinkhole or allow=HOST:PORT,... (a --network-PHASE flag wins for its phase; --index still opens its host to install)")
	fl.StringVar(&f.netInstall, "network-install", "", "network of the install phase: none, sinkhole or allow=HOST:PORT,... (default sinkhole; allow=INDEX with --index)")
	fl.StringVar(&f.netImport, "network-import", "", "network of the import phase (default sinkhole)")
	fl.StringVar(&f.netTest, "network-test", "", "network of the test phase (default none)")
	// A test suite is no snippet: real ones peak past 512 MiB
	// (charset-normalizer's at 782 MB), and a benign suite killed for its
	// memory is a false resource finding. 2 GiB per phase is a CI runner's
	// share (GitHub's have 7 GB for the whole job), still bounded.
	addLimitFlagsMemory(fl, &f.limitFlags, "each phase; the disk holds the venv", "2GiB")
	fl.StringVar(&f.python, "python", "", "host base interpreter (default /usr/bin/python3, whose dist-packages has pytest)")
	fl.StringVar(&f.image, "image", "", "container image for docker, podman (default: the backend's) and gvisor through Docker; its python3 makes the venv")
	fl.StringVar(&f.out, "out", "", "empty or new directory for report.json, logs/, junit.xml and work/")
	fl.BoolVar(&f.requirements, "requirements", false, "TARGET is a requirements file whatever its name")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress lines on stderr")
	fl.BoolVar(&f.allowDegraded, "allow-degraded", false, "run even if a protection layer cannot be had")
	addAckFlag(fl, &f.noIsolation)
	fl.BoolVar(&f.userland, "userland", true, "bind the host's /bin/sh and core utilities read-only (native, gvisor, microvm); --userland=false: no shell")
	fl.BoolVar(&f.scan, "scan", false, "scan the package first (moat scan, no code run) and put its findings beside the run's; those both saw are marked confirmed")
	fl.StringVar(&f.scanAnalysers, "scan-analysers", "none", "with --scan: external analysers, run in a native sandbox with no network: none, all or some of "+strings.Join(scan.Analysers, ","))
	addReportFlags(fl, &f.report)
	return c
}

// testConfig turns the flags into a pkgtest.Config; every error is the
// user's (exit 125).
func testConfig(f *testFlags, target string) (pkgtest.Config, error) {
	cfg := pkgtest.Config{Wheelhouse: f.wheelhouse, Index: f.index, Command: f.command, Out: f.out,
		Python: f.python, AllowDegraded: f.allowDegraded, NoUserland: !f.userland, NoReport: f.report.noReport(), Timeouts: map[string]time.Duration{}}
	var err error
	if cfg.Phases, err = pkgtest.ParsePhases(f.phases); err != nil {
		return cfg, err
	}
	for _, t := range []struct{ phase, flag, v string }{
		{pkgtest.PhaseInstall, "timeout-install", f.timeoutInstall},
		{pkgtest.PhaseImport, "timeout-import", f.timeoutImport},
		{pkgtest.PhaseTest, "timeout-test", f.timeoutTest}} {
		d, err := time.ParseDuration(t.v)
		if err != nil || d <= 0 {
			return cfg, fmt.Errorf("--%s: invalid duration %q (use e.g. 30s, 5m)", t.flag, t.v)
		}
		cfg.Timeouts[t.phase] = d
	}
	if err := f.limits(&cfg.Limits); err != nil {
		return cfg, err
	}
	if f.python != "" {
		if _, err := os.Stat(f.python); err != nil {
			return cfg, fmt.Errorf("--python %s: no such interpreter", f.python)
		}
	}
	if f.wheelhouse != "" {
		if fi, err := os.Stat(f.wheelhouse); err != nil || !fi.IsDir() {
			return cfg, fmt.Errorf("--wheelhouse %s: no such directory", f.wheelhouse)
		}
	}
	if f.index != "" {
		if _, err := pkgtest.IndexEndpoint(f.index); err != nil {
			return cfg, err
		}
	}
	if f.network != "" {
		if _, err := moat.ParseNetwork(f.network); err != nil {
			return cfg, fmt.Errorf("--network: %w", err)
		}
	}
	cfg.Network = map[string]moat.Network{}
	for _, n := range []struct{ phase, v string }{
		{pkgtest.PhaseInstall, f.netInstall}, {pkgtest.PhaseImport, f.netImport}, {pkgtest.PhaseTest, f.netTest}} {
		if n.v == "" {
			// --network is every phase's unless the phase has its own;
			// with --index, the install phase keeps the index's allow=
			// (a --network of none there would only fail the install).
			if f.network == "" || (n.phase == pkgtest.PhaseInstall && f.index != "") {
				continue
			}
			n.v = f.network
		}
		cfg.Network[n.phase] = moat.Network(n.v)
		if _, err := cfg.PhaseNetwork(n.phase); err != nil {
			return cfg, err
		}
	}
	if cfg.Target, err = pkgtest.DetectTarget(target, f.requirements); err != nil {
		return cfg, err
	}
	if f.scan {
		names, strict, err := scan.ParseAnalysers(f.scanAnalysers)
		if err != nil {
			return cfg, err
		}
		cfg.Scan = &scan.Config{Analysers: names}
		for _, n := range names {
			if why := scan.Unavailable(n, *cfg.Scan); why != "" && strict {
				return cfg, fmt.Errorf("--scan-analysers %s: %s", n, why)
			}
		}
	} else if f.scanAnalysers != "" && f.scanAnalysers != "none" {
		return cfg, errors.New("--scan-analysers: needs --scan")
	}
	return cfg, nil
}

// testImage is the image the phases run in: --image, or a container
// backend's default; "" for a backend that runs the host's interpreter
// (gvisor runs an image only when given one).
func testImage(b moat.Backend, name string, f *testFlags) (string, error) {
	im, ok := b.(moat.Imager)
	if !ok {
		if f.image != "" && f.python != "" {
			return "", errors.New("--python names a host interpreter, --image a container image: choose one")
		}
		return f.image, nil
	}
	def := im.DefaultImage()
	if f.python != "" {
		return "", fmt.Errorf("--python %s: the %s backend runs the image's python3; choose the image with --image", f.python, name)
	}
	return cmp.Or(f.image, def), nil
}

func doTest(c *cobra.Command, f *testFlags, target string) error {
	cfg, err := testConfig(f, target)
	if err != nil {
		return testFailure(f.asJSON, nil, err)
	}
	ctx, stop := interruptContext(c.Context(), os.Stdout, os.Stderr)
	defer stop()
	choice, err := moat.Select(ctx, f.isolation, cfg.Needs()...)
	if err != nil {
		return testFailure(f.asJSON, nil, networkHint(err, cfg))
	}
	name, b := choice.Name, choice.Backend
	if err := gateNoIsolation(name, f.noIsolation); err != nil {
		return testFailure(f.asJSON, nil, err)
	}
	cfg.Backend, cfg.Isolation = b, name
	if cfg.Scan != nil && len(cfg.Scan.Analysers) > 0 {
		// The analysers run on the host's Debian Python, natively.
		nc, err := moat.Select(ctx, "native", &moat.Spec{})
		if err != nil {
			return testFailure(f.asJSON, nil, fmt.Errorf("--scan-analysers: %w", err))
		}
		cfg.Scan.Backend = nc.Backend
	}
	if cfg.Image, err = testImage(b, name, f); err != nil {
		return testFailure(f.asJSON, nil, err)
	}
	if !f.quiet {
		start := time.Now()
		cfg.Progress = func(phase string, pr *pkgtest.PhaseResult) {
			if pr == nil {
				start = time.Now()
				fmt.Fprintf(os.Stderr, "moat: %s ...\n", phase)
				return
			}
			fmt.Fprintf(os.Stderr, "moat: %s %s (%s)\n", phase, pr.Status, time.Since(start).Round(time.Millisecond))
		}
	}
	rep, err := pkgtest.Run(ctx, cfg)
	if err != nil {
		if rerr := writeTestReports(&f.report, rep, target); rerr != nil {
			fmt.Fprintln(os.Stderr, "moat: "+termsafe.String(termsafe.Line(rerr.Error(), 0)))
		}
		return testFailure(f.asJSON, rep, err)
	}
	if f.asJSON {
		if err := printTestJSON(rep); err != nil {
			return err
		}
	} else {
		printTestSummary(rep)
	}
	if err := writeTestReports(&f.report, rep, target); err != nil {
		return testFailure(false, nil, err)
	}
	return exitError{rep.ExitStatus()}
}

// networkHint adds to a backend's refusal which phases asked for a
// network mode it may not enforce, and the flags that lower them.
func networkHint(err error, cfg pkgtest.Config) error {
	if !errors.Is(err, moat.ErrUnsupported) {
		return err
	}
	phases := cfg.Phases
	if phases == nil {
		phases = pkgtest.Selectable
	}
	var flags []string
	for _, p := range phases {
		if n, nerr := cfg.PhaseNetwork(p); nerr == nil && n != moat.NetworkNone {
			flags = append(flags, "--network-"+p+" none")
		}
	}
	if len(flags) == 0 {
		return err
	}
	return fmt.Errorf("%w (phases with a network: pass %s to run them without one, or use --isolation native)", err, strings.Join(flags, " "))
}

// phased is the report's view of a test: its phases with their events
// and findings.
func phased(rep *pkgtest.Report) *report.Phased {
	p := &report.Phased{Status: rep.Status, ExitCode: rep.ExitStatus(), Failed: rep.Status == pkgtest.StatusError, Isolation: rep.Isolation}
	for _, pr := range rep.Phases {
		p.Phases = append(p.Phases, report.PhaseRun{Name: pr.Name, Status: pr.Status, Ran: pr.MoatStatus != "" || pr.Error != "",
			ExitCode: pr.ExitCode, DurationMS: pr.DurationMS, Events: pr.Events, EventsDropped: pr.EventsDropped,
			Findings: pr.Findings, Degraded: pr.Degraded})
	}
	if rep.Scan != nil {
		// The scan as a phase of its own: no code ran in it.
		fs := make([]moat.Finding, len(rep.Scan.Findings))
		for i, f := range rep.Scan.Findings {
			f.Phase = "scan"
			fs[i] = f
		}
		p.Phases = append([]report.PhaseRun{{Name: "scan", Status: "read " + rep.Scan.Verdict, DurationMS: rep.Scan.DurationMS, Findings: fs}}, p.Phases...)
	}
	return p
}

// writeTestReports writes the --sarif and --html files of a test whose
// sandboxes ran (nothing when none did: a bad input).
func writeTestReports(r *reportFlags, rep *pkgtest.Report, target string) error {
	if rep == nil || len(rep.Phases) == 0 || rep.Phases[0].Status == pkgtest.StatusSkipped {
		return nil
	}
	p := phased(rep)
	return r.write(
		func(w io.Writer) error {
			return report.WritePhasedSARIF(w, p, report.SARIFOptions{Artifact: target, Version: version})
		},
		func(w io.Writer, title string) error {
			return report.WritePhasedHTML(w, p, report.HTMLOptions{Title: title, Version: version})
		})
}

// testFailure reports moat's failure as one line (after the report, which
// keeps the phases that ran) and exits 125.
func testFailure(asJSON bool, rep *pkgtest.Report, err error) error {
	if asJSON {
		if rep == nil {
			rep = &pkgtest.Report{Phases: []*pkgtest.PhaseResult{}, Findings: []moat.Finding{}, Verdict: "clean"}
		}
		rep.Status = pkgtest.StatusError
		_ = printTestJSON(rep)
	} else if rep != nil && len(rep.Phases) > 0 && rep.Phases[0].Status != pkgtest.StatusSkipped {
		printTestSummary(rep)
	}
	fmt.Fprintln(os.Stderr, "moat: "+termsafe.String(termsafe.Line(err.Error(), 0)))
	return exitError{exitFailure}
}

func printTestJSON(rep *pkgtest.Report) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// printTestSummary prints a few lines per phase; a phase that did not pass
// shows the end of its output. Everything from the sandbox is escaped.
func printTestSummary(rep *pkgtest.Report) { writeTestSummary(os.Stdout, rep) }

// writeTestSummary writes the text summary. Every string that came from
// the package (its name, test names, notes, findings) is escaped to one
// line: a newline in a test's name must not write lines of moat's own.
func writeTestSummary(w io.Writer, rep *pkgtest.Report) {
	fmt.Fprintf(w, "%s %s (%s, %s)\n", termsafe.Inline(rep.Target), strings.ToUpper(rep.Status), rep.Kind, rep.Isolation)
	for _, pr := range rep.Phases {
		line := fmt.Sprintf("  %-8s %-8s", pr.Name, pr.Status)
		if pr.Status != pkgtest.StatusSkipped {
			line += fmt.Sprintf(" %6dms  exit %d", pr.DurationMS, pr.ExitCode)
			if pr.MoatStatus != "" && pr.MoatStatus != moat.StatusExited {
				line += " (" + string(pr.MoatStatus) + ")"
			}
		}
		if pr.Network != "none" && pr.Status != pkgtest.StatusSkipped {
			line += "  network " + pr.Network
		}
		if pr.Note != "" {
			line += "  " + pr.Note
		}
		if pr.Error != "" {
			line += "  " + pr.Error
		}
		fmt.Fprintln(w, termsafe.Inline(line))
	}
	if t := rep.Tests; t != nil {
		// The package's pytest counted these, and the package's code can
		// rewrite them (a finding when moat sees it do so).
		fmt.Fprintf(w, "tests: %d passed, %d failed, %d errors, %d skipped (as the package's pytest reports them)\n", t.Passed, t.Failed, t.Errors, t.Skipped)
		for _, n := range t.Failures {
			fmt.Fprintln(w, "  FAILED "+termsafe.Inline(n))
		}
		if t.FailuresTruncated {
			fmt.Fprintln(w, "  ... more failures not listed")
		}
	}
	for _, pr := range rep.Phases {
		if pr.Status == pkgtest.StatusPassed || pr.Status == pkgtest.StatusSkipped {
			continue
		}
		for _, s := range []struct{ name, text string }{{"stdout", pr.Stdout}, {"stderr", pr.Stderr}} {
			if tail := lastLines(s.text, 15); tail != "" {
				// Each line marked as the package's, so none reads as moat's.
				fmt.Fprintf(w, "--- %s %s (last lines) ---\n", pr.Name, s.name)
				for _, l := range strings.Split(tail, "\n") {
					fmt.Fprintln(w, "  | "+termsafe.Inline(l))
				}
			}
		}
	}
	printTestFindings(w, rep)
	if rep.Scan != nil {
		fmt.Fprintf(w, "scan (no code ran): %d finding(s), verdict %s\n", len(rep.Scan.Findings), strings.ToUpper(rep.Scan.Verdict))
		writeScanFindings(w, rep.Scan.Findings, "  ")
	}
	if rep.Out != nil {
		fmt.Fprintf(w, "out: %s (%d files, %d bytes)\n", termsafe.Inline(rep.Out.Dir), rep.Out.Files, rep.Out.Bytes)
		for _, s := range rep.Out.Skipped {
			fmt.Fprintln(w, "  skipped "+termsafe.Inline(s))
		}
		if rep.Out.Error != "" {
			fmt.Fprintln(w, "  copy incomplete: "+termsafe.Inline(rep.Out.Error))
		}
	}
}

// maxSummaryFindings bounds the findings the text summary lists.
const maxSummaryFindings = 20

// printTestFindings lists the findings phase by phase, one line each,
// most severe first within a phase; the summaries came partly from the
// sandbox and are escaped.
func printTestFindings(w io.Writer, rep *pkgtest.Report) {
	ran := false
	for _, pr := range rep.Phases {
		ran = ran || pr.MoatStatus != ""
	}
	if !ran {
		return
	}
	if len(rep.Findings) == 0 {
		fmt.Fprintln(w, "findings: none")
		return
	}
	fmt.Fprintf(w, "findings: %d, verdict %s\n", len(rep.Findings), strings.ToUpper(rep.Verdict))
	n := 0
	for _, pr := range rep.Phases {
		for _, f := range pr.Findings {
			if n == maxSummaryFindings {
				fmt.Fprintf(w, "  ... %d more (see --json or --html)\n", len(rep.Findings)-n)
				return
			}
			n++
			s := f.Summary
			if len(s) > 200 {
				s = s[:200] + "..."
			}
			if f.Confirmed != "" {
				s += " [confirmed by the " + f.Confirmed + "]"
			}
			fmt.Fprintf(w, "  %-8s %-8s %-17s %s\n", pr.Name, f.Severity, termsafe.Inline(string(f.Category)), termsafe.Inline(s))
		}
	}
}

func lastLines(s string, n int) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 400 {
			lines[i] = l[:400] + "..."
		}
	}
	return strings.Join(lines, "\n")
}
