package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/audit"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

func auditCmd() *cobra.Command {
	var asJSON bool
	var isolation, probes, image string
	c := &cobra.Command{
		Use:   "audit [--isolation NAME,...] [--json]",
		Short: "Run moat's containment probes against each backend and print the measured comparison",
		Long: `Run the built-in battery of probes (host files, secrets, environment,
network, bombs, orphans, denied system calls, /proc and /sys writes, devices,
TIOCSTI, signals, capabilities, descriptors, cleanup) against every backend
that works here, or those named, and print how many each contained.

Every probe is harmless where nothing contains it (venv is audited without
--i-accept-no-isolation): bombs are bounded, denied calls fail right after
the permission check, nothing is written outside the run's own space but one
marked file in /tmp, which the audit removes, as it kills what a probe left
running. Progress goes to stderr.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return doAudit(c, isolation, probes, image, asJSON)
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print a JSON list of rows")
	c.Flags().StringVar(&isolation, "isolation", "", "comma list of backends (default: every backend of the comparison)")
	c.Flags().StringVar(&image, "image", "", "container image for the backends that run images (default: each one's)")
	c.Flags().StringVar(&probes, "probe", "", "comma list of probes (default: all: "+strings.Join(audit.Names(), ",")+")")
	return c
}

func doAudit(c *cobra.Command, isolation, probes, image string, asJSON bool) error {
	ctx, stop := interruptContext(c.Context(), os.Stdout, os.Stderr)
	defer stop()
	var names []string
	if isolation == "" {
		for _, t := range moat.Techniques {
			names = append(names, t.Name)
		}
	} else {
		for _, n := range strings.Split(isolation, ",") {
			n = strings.TrimSpace(n)
			if _, ok := moat.LookupTechnique(n); !ok {
				return fmt.Errorf("--isolation %q (see `moat backends`): %w", n, moat.ErrUnknownBackend)
			}
			names = append(names, n)
		}
	}
	var sel []string
	if probes != "" {
		for _, p := range strings.Split(probes, ",") {
			p = strings.TrimSpace(p)
			if !slices.Contains(audit.Names(), p) {
				return fmt.Errorf("--probe %q: no such probe (known: %s)", p, strings.Join(audit.Names(), ", "))
			}
			sel = append(sel, p)
		}
	}
	progress := func(backend string, o audit.Outcome) {
		state := "NOT CONTAINED"
		switch {
		case o.Refused:
			state = "refused"
		case o.Contained:
			state = "contained"
		}
		fmt.Fprintf(os.Stderr, "moat: audit: %s: %-15s %s: %s\n", backend, o.Probe, state, termsafe.String(o.Detail))
	}
	var rows []audit.Row
	for _, n := range names {
		t, _ := moat.LookupTechnique(n)
		row := audit.Row{Backend: n, Title: t.Title, Level: t.Level, NotContained: []string{}, Layers: []string{}}
		b, err := moat.Get(n)
		if err == nil {
			err = moat.Check(ctx, b)
		}
		if err != nil {
			row.Reason = strings.TrimPrefix(strings.TrimPrefix(oneLineErr(err), n+": "), fmt.Sprintf("%q: ", n))
			fmt.Fprintf(os.Stderr, "moat: audit: %s: unavailable: %s\n", n, termsafe.String(row.Reason))
			rows = append(rows, row)
			continue
		}
		total := len(sel)
		if total == 0 {
			total = len(audit.Names())
		}
		fmt.Fprintf(os.Stderr, "moat: audit: %s: %d probes\n", n, total)
		row, err = audit.Backend(ctx, n, b, audit.Options{Probes: sel, Image: image, Progress: progress})
		if err != nil {
			return fmt.Errorf("audit %s: %w", n, err)
		}
		rows = append(rows, row)
	}
	if asJSON {
		enc := json.NewEncoder(c.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	printAudit(c, rows)
	return nil
}

func printAudit(c *cobra.Command, rows []audit.Row) {
	w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "BACKEND\tTECHNIQUE\tLEVEL\tCONTAINED\tNOT CONTAINED\tLAYERS")
	for _, r := range rows {
		if !r.Available {
			fmt.Fprintf(w, "%s\t%s\t%s\t-\t(not audited: %s)\t-\n", r.Backend, r.Title, r.Level, clipText(r.Reason, 60))
			continue
		}
		nc := strings.Join(r.NotContained, ", ")
		if nc == "" {
			nc = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%d/%d\t%s\t%s\n", r.Backend, r.Title, r.Level, r.Contained, r.Total, nc, strings.Join(r.Layers, ","))
	}
	w.Flush()
	for _, r := range rows {
		if len(r.Refused) == 0 {
			continue
		}
		var ran []string
		for _, o := range r.Probes {
			if !o.Refused {
				ran = append(ran, o.Probe)
			}
		}
		fmt.Fprintf(c.OutOrStdout(), "%s: its policy refused %d of %d probes before they acted; %d ran past it (%s) and were stopped, if at all, by the layers under it only\n",
			r.Backend, len(r.Refused), r.Total, len(ran), strings.Join(ran, ", "))
	}
}

func oneLineErr(err error) string { return termsafe.Line(err.Error(), 0) }

func clipText(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
