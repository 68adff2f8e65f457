package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/report"
)

// reportFlags are the behaviour-report outputs of `moat run`.
type reportFlags struct {
	sarif, html string
}

func addReportFlags(fl *pflag.FlagSet, r *reportFlags) {
	fl.StringVar(&r.sarif, "sarif", "", "write the findings as SARIF 2.1.0 to FILE (for code scanning)")
	fl.StringVar(&r.html, "html", "", "write a self-contained HTML behaviour report to FILE")
}

// writeReports writes the --sarif and --html files of a finished run, and
// (unless the output is JSON) the text summary on stderr. A file that
// cannot be written is moat's failure, reported like any other.
func writeReports(r *reportFlags, res *moat.Result, spec *moat.Spec, asJSON bool, args []string) error {
	if !asJSON && len(res.Findings) > 0 {
		report.WriteSummary(os.Stderr, res)
	}
	if r.sarif != "" {
		var b bytes.Buffer
		artifact := ""
		if len(spec.Args) > 0 && !strings.HasPrefix(spec.Args[0], "-") {
			artifact = spec.Args[0]
			if len(args) > 0 {
				artifact = args[0] // as the user named it
			}
		}
		if err := report.WriteSARIF(&b, res, report.SARIFOptions{Artifact: artifact, Version: version}); err != nil {
			return fmt.Errorf("--sarif: %w", err)
		}
		if err := os.WriteFile(r.sarif, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("--sarif: %w", err)
		}
	}
	if r.html != "" {
		var b bytes.Buffer
		title := "moat run " + strings.Join(os.Args[2:], " ")
		if len(title) > 300 {
			title = title[:300] + "…"
		}
		if err := report.WriteHTML(&b, res, report.HTMLOptions{Title: title, Version: version}); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
		if err := os.WriteFile(r.html, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("--html: %w", err)
		}
	}
	return nil
}
