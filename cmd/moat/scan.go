package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"github.com/moat-sandbox/moat/pkgtest"
	"github.com/moat-sandbox/moat/report"
	"github.com/moat-sandbox/moat/scan"
)

type scanFlags struct {
	isolation, python, codeaudit, analysers string
	asJSON, requirements, noIsolation       bool
	sarif, html                             string
}

func scanCmd() *cobra.Command {
	f := &scanFlags{}
	c := &cobra.Command{
		Use:   "scan [flags] TARGET",
		Short: "Triage an untrusted Python package without running its code",
		Long: `Read a Python package and report what its code would do, without
running any of it: native binaries, install-time code (setup.py, build
backends and hooks), .pth files and other start-up hooks, code that decodes
and executes, code hidden after long runs of whitespace, network and
credential indicators, a name close to a popular package's, metadata that
contradicts the archive. Each is a finding with file and line, in the
behaviour report's categories and severities.

TARGET is what moat test takes: a project directory, an sdist (.tar.gz), a
wheel (.whl) or a requirements file. Archives are read in memory with the
same hostile-archive rules as moat test, never extracted. With --analysers
the external analysers (bandit, codeaudit) run over the package inside a
sandbox with no network.

Exit status: 0 nothing above low, 1 a finding of medium or above, 125 moat
failed (bad input included), 130 interrupted.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return doScan(c, f, args[0]) },
	}
	fl := c.Flags()
	fl.StringVar(&f.analysers, "analysers", "none", "external analysers run in a sandbox: none, all (those installed) or some of "+strings.Join(scan.Analysers, ","))
	fl.StringVar(&f.isolation, "isolation", "native", "backend the analysers run in")
	addAckFlag(fl, &f.noIsolation)
	fl.StringVar(&f.python, "python", "", "host interpreter the analysers run with (default /usr/bin/python3)")
	fl.StringVar(&f.codeaudit, "codeaudit", "", "directory holding Python Code Audit's source (default $MOAT_CODEAUDIT, /usr/local/share/codeaudit)")
	fl.BoolVar(&f.requirements, "requirements", false, "TARGET is a requirements file whatever its name")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as JSON")
	fl.StringVar(&f.sarif, "sarif", "", "write the findings as SARIF 2.1.0 to FILE")
	fl.StringVar(&f.html, "html", "", "write a self-contained HTML report to FILE")
	return c
}

// scanTarget detects the target as moat test does; an sdist without a
// single top-level directory is scanned like any other (a finding says so).
func scanTarget(path string, requirements bool) (scan.Target, error) {
	t, err := pkgtest.DetectTarget(path, requirements)
	if err != nil {
		return scan.Target{}, err
	}
	return scan.Target{Kind: string(t.Kind), Path: t.Path, Root: t.Root}, nil
}

// scanConfig turns the flags into a scan.Config; strict says the user
// named the analysers.
func scanConfig(c *cobra.Command, f *scanFlags, target string) (cfg scan.Config, err error) {
	cfg.Python, cfg.CodeAudit = f.python, f.codeaudit
	if cfg.Target, err = scanTarget(target, f.requirements); err != nil {
		return cfg, err
	}
	names, strict, err := scan.ParseAnalysers(f.analysers)
	if err != nil {
		return cfg, err
	}
	cfg.Analysers = names
	if strict {
		for _, n := range names {
			if why := scan.Unavailable(n, cfg); why != "" {
				return cfg, fmt.Errorf("--analysers %s: %s", n, why)
			}
		}
	}
	if len(names) > 0 && cfg.Target.Kind != scan.KindRequirements {
		choice, err := moat.Select(c.Context(), f.isolation, &moat.Spec{Python: cfg.Python})
		if err != nil {
			return cfg, fmt.Errorf("analysers: %w", err)
		}
		// The analysers read the untrusted package: on a backend that
		// does not isolate, a flaw in one is the package's way onto the
		// host.
		if err := gateNoIsolation(choice.Name, f.noIsolation); err != nil {
			return cfg, err
		}
		cfg.Backend = choice.Backend
	}
	return cfg, nil
}

func doScan(c *cobra.Command, f *scanFlags, target string) error {
	ctx, stop := interruptContext(c.Context(), os.Stdout, os.Stderr)
	defer stop()
	c.SetContext(ctx)
	cfg, err := scanConfig(c, f, target)
	if err != nil {
		return err
	}
	rep, err := scan.Run(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "moat: interrupted")
			return exitError{130}
		}
		return err
	}
	if f.asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		writeScanSummary(os.Stdout, rep)
	}
	rf := reportFlags{sarif: f.sarif, html: f.html}
	if err := rf.write(
		func(w io.Writer) error {
			return report.WriteFindingsSARIF(w, rep.Findings, report.SARIFOptions{Artifact: target, Version: version})
		},
		func(w io.Writer, title string) error {
			return report.WriteHTML(w, scanResult(rep), report.HTMLOptions{Title: title, Version: version})
		}); err != nil {
		return err
	}
	if moat.Severity(rep.Verdict).Rank() >= moat.SeverityMedium.Rank() {
		return exitError{1}
	}
	return nil
}

// scanResult is the scan as a moat.Result for the HTML page: its
// findings, their evidence as the events.
func scanResult(rep *scan.Report) *moat.Result {
	res := &moat.Result{Status: moat.StatusExited, Isolation: "scan (no code ran)", DurationMS: rep.DurationMS, Findings: rep.Findings}
	for _, f := range rep.Findings {
		res.Events = append(res.Events, f.Evidence...)
	}
	return res
}

// writeScanSummary writes the text report; everything from the package
// is escaped to one line.
func writeScanSummary(w io.Writer, rep *scan.Report) {
	name := ""
	if rep.Name != "" {
		name = " " + rep.Name + " " + rep.Version
	}
	fmt.Fprintf(w, "%s (%s%s): verdict %s, %d finding(s) in %d files, %d bytes (%dms)\n", termsafe.Inline(rep.Target), rep.Kind,
		termsafe.Inline(name), strings.ToUpper(rep.Verdict), len(rep.Findings), rep.Files, rep.Bytes, rep.DurationMS)
	writeScanFindings(w, rep.Findings, "  ")
	for _, b := range rep.Binaries {
		reach := b.Reach
		if reach == "" {
			reach = "not named"
		}
		fmt.Fprintf(w, "binary: %s %s %s %s sha256:%s (%s)\n", termsafe.Inline(b.Path), b.Format, b.Type, termsafe.Inline(b.Arch), b.SHA256, reach)
	}
	for _, a := range rep.Analysers {
		line := fmt.Sprintf("analyser: %s %s", a.Name, a.Status)
		if a.Status == "ran" {
			line += fmt.Sprintf(" (%d findings, %dms)", a.Findings, a.DurationMS)
		}
		if a.Note != "" {
			line += ": " + a.Note
		}
		fmt.Fprintln(w, termsafe.Inline(line))
	}
}

// writeScanFindings lists findings one a line, at most maxSummaryFindings.
func writeScanFindings(w io.Writer, fs []moat.Finding, indent string) {
	for i, f := range fs {
		if i == maxSummaryFindings {
			fmt.Fprintf(w, "%s... %d more (see --json or --html)\n", indent, len(fs)-i)
			return
		}
		s := f.Summary
		if len(s) > 200 {
			s = s[:200] + "..."
		}
		if f.Confirmed != "" {
			s += " [confirmed by the run: " + f.Confirmed + "]"
		}
		fmt.Fprintf(w, "%s%-8s %-17s %s\n", indent, f.Severity, termsafe.Inline(string(f.Category)), termsafe.Inline(s))
	}
}
