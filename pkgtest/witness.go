package pkgtest

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// witness.py is the test phase's pytest: pytest's console_main with a
// plugin of moat's registered before any code of the package, which
// records each test's outcome as pytest's own plugins make it and as it
// is finally logged, and sends the records out through the audit hook
// (moat.KindTestReport events) as they happen.
//
//go:embed witness.py
var witnessSource string

// witnessCode is witness.py without its comment lines: the package can
// read its own command line, and what is left names nothing of moat
// (TestWitnessNamesNothing).
var witnessCode = sync.OnceValue(func() string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(witnessSource, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
		}
	}
	return b.String()
})

// witness is what the witness sent in one test phase. Its records come
// from the package's own process (the audit hook's channel): a package
// can forge them only by studying the witness, and cannot take back one
// sent; what must be there and is not is read as the witness removed.
type witness struct {
	hook    bool // some process of the phase said hello: the hook ran
	starts  int
	ends    int
	end     map[string]int // the end record's counts
	failed  []string       // test ids pytest's own plugins reported failed
	changed []string       // those logged passed or skipped instead (id: detail)
	unseen  []string       // reports logged that the witness never saw made
}

// readWitness gathers the witness's records from a phase's events: audit
// events of kind testreport (Path: what, Name: the test id, Detail).
func readWitness(evs []moat.Event) *witness {
	w := &witness{}
	for _, e := range evs {
		if e.Source != moat.SourceAudit {
			continue
		}
		switch {
		case e.Kind == moat.KindHello:
			w.hook = true
		case e.Kind != moat.KindTestReport:
		case e.Path == "start":
			w.starts++
		case e.Path == "end":
			w.ends++
			w.end = parseCounts(e.Detail)
		case e.Path == "failed":
			w.failed = append(w.failed, e.Name)
		case e.Path == "changed":
			w.changed = append(w.changed, e.Name+" ("+e.Detail+")")
		case e.Path == "unseen":
			w.unseen = append(w.unseen, e.Name+" ("+e.Detail+")")
		}
	}
	return w
}

// parseCounts reads "k=N k=N ..."; a field that is not one is left out.
func parseCounts(s string) map[string]int {
	m := map[string]int{}
	for _, f := range strings.Fields(s) {
		k, v, ok := strings.Cut(f, "=")
		if n, err := strconv.Atoi(v); ok && err == nil {
			m[k] = n
		}
	}
	return m
}

// witnessEvents compares the witness's records with what the package
// claims: the JUnit XML (t, nil if there is none) and pytest's exit code
// (exit; exited false when the phase did not end by itself). Each
// disagreement is a moat event of kind test-witness (Name: which,
// Detail). Nothing is said when the hook did not run in the phase (no
// report, a backend without one): then there is no witness to read.
func (w *witness) events(exited bool, exit int, t *Tests) []moat.Event {
	var evs []moat.Event
	add := func(name, detail string) {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindTestWitness, Name: name,
			Detail: termsafe.Inline(termsafe.Name(detail, 600))})
	}
	if !w.hook || !exited {
		return nil
	}
	if w.starts > 1 || w.ends > 1 {
		add("forged", fmt.Sprintf("the witness sends one start and one end, the run sent %d and %d: records were forged", w.starts, w.ends))
	}
	if len(w.changed) > 0 {
		add("changed", fmt.Sprintf("tests failed but were reported passed: %d test phase(s) that pytest's own plugins reported failed were logged passed or skipped: %s",
			max(len(w.changed), w.end["changed"]), joinNames(w.changed)))
	}
	total := 0
	if t != nil {
		total = t.Passed + t.Failed + t.Errors + t.Skipped
	}
	switch {
	case w.starts == 0 && (t != nil || exit == 0):
		add("removed", "the witness never reported: something that ran before pytest's plugins (a .pth file, sitecustomize) stopped it")
		return evs
	case w.starts == 0:
		return evs
	case w.ends == 0 && (t != nil || exit == 0):
		add("removed", fmt.Sprintf("the witness was removed: it stopped reporting before pytest's session ended (unregistered, or its hooks replaced), with %d test(s) seen failing, while the run exited %d", len(w.failed), exit))
	}
	if len(w.unseen) > 0 {
		add("unseen", fmt.Sprintf("%d test report(s) were logged that pytest never made for a test it ran: %s", max(len(w.unseen), w.end["unseen"]), joinNames(w.unseen)))
	}
	failing := max(len(w.failed), w.end["failed"])
	if failing > 0 && exit == 0 {
		add("exit", fmt.Sprintf("pytest exited 0 though the witness saw %d test(s) fail: %s", failing, joinNames(w.failed)))
	}
	if t != nil {
		if w.ends > 0 && total > w.end["cases"] {
			add("junit", fmt.Sprintf("the JUnit XML lists %d test(s), the witness saw %d: it was written or edited by the package", total, w.end["cases"]))
		}
		if bad := t.Failed + t.Errors; failing > bad {
			add("junit", fmt.Sprintf("the JUnit XML shows %d failed or errored test(s), the witness saw %d fail: %s", bad, failing, joinNames(w.failed)))
		}
	}
	return evs
}

// joinNames is up to 5 names, escaped, and how many more.
func joinNames(names []string) string {
	var b strings.Builder
	for i, n := range names {
		if i == 5 {
			fmt.Fprintf(&b, ", and %d more", len(names)-5)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(termsafe.Inline(termsafe.Name(n, 200)))
	}
	return b.String()
}
