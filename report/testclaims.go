package report

import (
	"fmt"
	"strings"

	"github.com/moat-sandbox/moat"
)

// TestClaims draws the findings about a package's test results: its test
// counts and pass or fail are what its own pytest said, and code of the
// package can rewrite that. evs are "fs" events of kind
// [moat.KindOutcomeHook] (a file of the package whose pytest hooks
// rewrite outcomes, the summary or the exit status, or that edit the
// JUnit XML; Detail says which), and moat events of kind
// [moat.KindTestMismatch] (pytest's exit status disagrees with the JUnit
// XML it left), and moat events of kind [moat.KindTestWitness] (the
// witness plugin's records of what pytest computed disagree with the
// results, or are missing: pkgtest/witness.go). Any makes the counts the
// package's claim only.
func TestClaims(evs []moat.Event, phase string) []moat.Finding {
	var hooks, mismatch, witness []moat.Event
	var what, saw []string
	for _, e := range evs {
		switch {
		case e.Source == moat.SourceFS && e.Kind == moat.KindOutcomeHook:
			hooks = append(hooks, e)
			what = append(what, e.Path+" ("+e.Detail+")")
		case e.Source == moat.SourceMoat && e.Kind == moat.KindTestMismatch:
			mismatch = append(mismatch, e)
		case e.Source == moat.SourceMoat && e.Kind == moat.KindTestWitness:
			witness = append(witness, e)
			saw = append(saw, e.Detail)
		}
	}
	a := &analysis{phase: phase}
	if len(hooks) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityHigh, "the package rewrites its own test results: "+joinBounded(uniq(what), 4)+
			"; its test counts and PASSED are its own claim", hooks)
	}
	if len(mismatch) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityHigh, fmt.Sprintf("pytest's exit status and its JUnit XML disagree (%s): the results were rewritten",
			strings.TrimSpace(mismatch[0].Detail)), mismatch)
	}
	if len(witness) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityHigh, "the test results are not what pytest computed: "+joinBounded(uniq(saw), 3)+
			"; its test counts and PASSED are its own claim", witness)
	}
	return a.out
}
