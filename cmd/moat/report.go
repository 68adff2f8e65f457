package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/report"
)

// reportFlags are the behaviour-report outputs of `moat run`.
type reportFlags struct {
	sarif, html string
	off         bool
}

// noReport says whether the behaviour report is off: --no-report, or
// MOAT_EVENTS=off in the environment (for benchmarks that cannot pass a
// flag).
func (r *reportFlags) noReport() bool { return r.off || os.Getenv("MOAT_EVENTS") == "off" }

func addReportFlags(fl *pflag.FlagSet, r *reportFlags) {
	fl.StringVar(&r.sarif, "sarif", "", "write the findings as SARIF 2.1.0 to FILE (for code scanning)")
	fl.StringVar(&r.html, "html", "", "write a self-contained HTML behaviour report to FILE")
	fl.BoolVar(&r.off, "no-report", false, "no behaviour report: no honeytokens, hook, kernel events or findings (also MOAT_EVENTS=off)")
}

// writeReports writes the --sarif and --html files of a finished run, and
// (unless the output is JSON) the text summary on stderr. A file that
// cannot be written is moat's failure, reported like any other.
func writeReports(r *reportFlags, res *moat.Result, spec *moat.Spec, asJSON bool, args []string) error {
	if !asJSON && len(res.Findings) > 0 {
		report.WriteSummary(os.Stderr, res)
	}
	artifact := ""
	if len(spec.Args) > 0 && !strings.HasPrefix(spec.Args[0], "-") {
		artifact = spec.Args[0]
		if len(args) > 0 {
			artifact = args[0] // as the user named it
		}
	}
	return r.write(
		func(w io.Writer) error {
			return report.WriteSARIF(w, res, report.SARIFOptions{Artifact: artifact, Version: version})
		},
		func(w io.Writer, title string) error {
			return report.WriteHTML(w, res, report.HTMLOptions{Title: title, Version: version})
		})
}

// write makes the --sarif and --html files, each rendered whole before
// its file is written; the HTML's title is the command line.
func (r *reportFlags) write(sarif func(io.Writer) error, html func(w io.Writer, title string) error) error {
	for _, out := range []struct {
		flag, file string
		render     func(io.Writer) error
	}{
		{"--sarif", r.sarif, sarif},
		{"--html", r.html, func(w io.Writer) error { return html(w, commandTitle()) }},
	} {
		if out.file == "" {
			continue
		}
		var b bytes.Buffer
		if err := out.render(&b); err != nil {
			return fmt.Errorf("%s: %w", out.flag, err)
		}
		if err := os.WriteFile(out.file, b.Bytes(), 0o644); err != nil {
			return fmt.Errorf("%s: %w", out.flag, err)
		}
	}
	return nil
}

// commandTitle is moat's command line, bounded, for a report's title.
func commandTitle() string {
	title := "moat " + strings.Join(os.Args[1:], " ")
	if len(title) > 300 {
		title = title[:300] + "…"
	}
	return title
}
