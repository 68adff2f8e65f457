package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// WriteSummary writes a short text summary of res's findings, one line
// per finding, every string from the sandbox escaped for a terminal.
func WriteSummary(w io.Writer, res *moat.Result) {
	n := 0
	for _, e := range res.Events {
		if e.Source != "moat" {
			n++
		}
	}
	drop := ""
	if res.EventsDropped > 0 {
		drop = fmt.Sprintf(", %d dropped", res.EventsDropped)
	}
	if len(res.Findings) == 0 {
		fmt.Fprintf(w, "moat: report: no findings (%d events%s)\n", n, drop)
		return
	}
	fmt.Fprintf(w, "moat: report: %d finding(s), verdict %s (%d events%s)\n", len(res.Findings), strings.ToUpper(Verdict(res.Findings)), n, drop)
	for i, f := range res.Findings {
		if i == 20 {
			fmt.Fprintf(w, "  … %d more (see --json or --html)\n", len(res.Findings)-i)
			break
		}
		phase := ""
		if f.Phase != "" {
			phase = "[" + f.Phase + "] "
		}
		s := f.Summary
		if len(s) > 200 {
			s = s[:200] + "…"
		}
		fmt.Fprintf(w, "  %-8s %-17s %s%s\n", f.Severity, f.Category, termsafe.String(phase), termsafe.Inline(s))
	}
}
