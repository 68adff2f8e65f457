package all_test

import (
	"os"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	_ "github.com/moat-sandbox/moat/backend/all"
)

// TestReportDocNamesEveryBackend: docs/report.md's table of what each
// backend's behaviour report can observe (the README points there) has a
// row for every registered backend, those without a report included: a
// backend added, or given a report, without its row leaves the table
// untrue.
func TestReportDocNamesEveryBackend(t *testing.T) {
	doc, err := os.ReadFile("../../docs/report.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "What each backend can observe")
	if !ok {
		t.Fatal(`docs/report.md: no "What each backend can observe" table`)
	}
	named := map[string]bool{}
	table := false
	for _, l := range strings.Split(after, "\n") {
		if !strings.HasPrefix(l, "|") {
			if table {
				break
			}
			continue
		}
		table = true
		cell := strings.TrimSpace(strings.Split(l, "|")[1])
		for _, n := range strings.Split(cell, ",") {
			// "gvisor (direct)", "gvisor `--image` (...)": the name comes first
			if f := strings.Fields(n); len(f) > 0 {
				named[f[0]] = true
			}
		}
	}
	for _, b := range moat.Registered() {
		if !named[b] {
			t.Errorf("docs/report.md's table of what each backend can observe has no row for %s", b)
		}
	}
}
