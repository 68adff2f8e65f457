package report

import (
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/moat-sandbox/moat"
)

// ForPhase returns a run's events and findings, each stamped with phase
// (a copy: res is not changed). A backend that drew findings itself drew
// them from all of its events, before it bounded Result.Events, so those
// are kept; otherwise the findings are drawn here from Result.Events.
func ForPhase(phase string, res *moat.Result) ([]moat.Event, []moat.Finding) {
	if res == nil {
		return nil, []moat.Finding{}
	}
	evs := stamp(phase, res.Events)
	if res.Findings == nil {
		return evs, Analyze(evs)
	}
	fs := make([]moat.Finding, len(res.Findings))
	for i, f := range res.Findings {
		f.Phase = phase
		f.Evidence = stamp(phase, f.Evidence)
		fs[i] = f
	}
	return evs, fs
}

func stamp(phase string, evs []moat.Event) []moat.Event {
	if evs == nil {
		return nil
	}
	out := make([]moat.Event, len(evs))
	for i, e := range evs {
		e.Phase = phase
		out[i] = e
	}
	return out
}

// Bound keeps at most n of evs, in their order. What cannot be forged or
// is rare goes first (moat's own events, kernel, network), then the file
// system diff and the hook's hellos and test witness's records (few: the
// hook gives the records a budget of their own; the hook's integrity and
// the witness are read from them, and a suite's later opens must not
// push the witness's end out), then the audit hook's other claims, the
// bulk of most runs; within one class, the earliest.
func Bound(evs []moat.Event, n int) []moat.Event {
	if len(evs) <= n {
		return evs
	}
	if n <= 0 {
		return nil
	}
	prio := func(e moat.Event) int {
		switch e.Source {
		case "moat", "kernel", "network":
			return 0
		case "fs":
			return 1
		case "audit":
			if e.Kind == moat.KindHello || e.Kind == moat.KindTestReport {
				return 1
			}
		}
		return 2
	}
	idx := make([]int, len(evs))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return prio(evs[idx[a]]) < prio(evs[idx[b]]) })
	idx = idx[:n]
	sort.Ints(idx)
	out := make([]moat.Event, n)
	for i, j := range idx {
		out[i] = evs[j]
	}
	return out
}

// Phased is a job of several sandbox runs, one per phase, such as
// `moat test` (venv, install, import, test).
type Phased struct {
	Status    string // the job's outcome: passed, failed, timeout, error, ...
	ExitCode  int    // the job's exit status
	Failed    bool   // moat itself failed (the sandbox, a bad input)
	Isolation string
	Phases    []PhaseRun
}

// PhaseRun is one phase of a Phased job.
type PhaseRun struct {
	Name          string
	Status        string // passed, failed, skipped, ...
	Ran           bool   // false: skipped or not selected
	ExitCode      int    // the program's
	DurationMS    int64
	Events        []moat.Event // stamped with the phase
	EventsDropped int
	Findings      []moat.Finding
	Degraded      []string
}

// findings of every phase, most severe first, earlier phases first among
// equals.
func (p *Phased) findings() []moat.Finding {
	out := []moat.Finding{}
	for _, ph := range p.Phases {
		out = append(out, ph.Findings...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return moat.Severity(out[i].Severity).Rank() > moat.Severity(out[j].Severity).Rank()
	})
	return out
}

// WritePhasedSARIF writes the findings of every phase as one SARIF 2.1.0
// run; each result names its phase (properties.phase), and each phase
// that ran is an invocation.
func WritePhasedSARIF(w io.Writer, p *Phased, opt SARIFOptions) error {
	var inv []sarifInvocation
	for _, ph := range p.Phases {
		if !ph.Ran {
			continue
		}
		inv = append(inv, sarifInvocation{ExecutionSuccessful: ph.Status != "error", ExitCode: ph.ExitCode,
			ExitCodeDescription: ph.Status, Properties: map[string]any{"phase": ph.Name}})
	}
	if len(inv) == 0 {
		inv = []sarifInvocation{{ExecutionSuccessful: !p.Failed, ExitCode: p.ExitCode, ExitCodeDescription: p.Status}}
	}
	return writeSARIF(w, p.findings(), inv, opt)
}

// htmlPhase is one row of the phases table.
type htmlPhase struct {
	PhaseRun
	Verdict  string
	Kept     int // events in the report (the timeline may show fewer)
	NetCount int
}

// WritePhasedHTML writes a self-contained HTML page of a job in phases:
// the phases with their status and verdict, every finding with its phase,
// the network attempts and a timeline with a phase column.
func WritePhasedHTML(w io.Writer, p *Phased, opt HTMLOptions) error {
	res := &moat.Result{Isolation: p.Isolation, Findings: p.findings()}
	var ran []PhaseRun
	for _, ph := range p.Phases {
		res.DurationMS += ph.DurationMS
		res.EventsDropped += ph.EventsDropped
		res.Degraded = append(res.Degraded, ph.Degraded...)
		if len(ph.Events) > 0 {
			ran = append(ran, ph)
		}
	}
	res.Degraded = uniq(res.Degraded)
	// Each phase gets its share of the timeline.
	share := maxTimeline
	if len(ran) > 0 {
		share = maxTimeline / len(ran)
	}
	d := newHTMLData(res, opt)
	d.Status, d.Exit = p.Status, p.ExitCode
	d.Phased = true
	for _, ph := range p.Phases {
		row := htmlPhase{PhaseRun: ph, Verdict: Verdict(ph.Findings), Kept: len(ph.Events)}
		kept := 0
		for _, e := range ph.Events {
			if d.addEvent(e, kept < share) {
				kept++
			}
			if isNetwork(e) {
				row.NetCount++
			}
		}
		d.Phases = append(d.Phases, row)
	}
	return execPage(w, d)
}

// Shipped drops the persistence findings that rest only on files of a
// package's source as moat unpacked it into src (`moat test`'s venv phase
// runs none of the package's code: it makes the venv and unpacks the
// sdist): a conftest.py, a .pre-commit-config.yaml or an .envrc in a
// project's tree is how projects are kept, not a plant (docopt's sdist
// was a high "created a conftest.py" before, session 21). The test phase
// runs a conftest.py under watch (its rewrites of outcomes are the
// test-claims finding), and `moat scan` reads what the source ships. What
// the package's code writes in a later phase stays a finding, and so
// does anything the unpacking left outside src.
func Shipped(fs []moat.Finding, src string) []moat.Finding {
	return slices.DeleteFunc(fs, func(f moat.Finding) bool {
		if f.Category != moat.CategoryPersistence || len(f.Evidence) == 0 {
			return false
		}
		for _, e := range f.Evidence {
			if e.Source != moat.SourceFS || !strings.HasPrefix(e.Path, src+"/") {
				return false
			}
		}
		return true
	})
}
