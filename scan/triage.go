package scan

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// maxEvidence bounds the lines one finding lists.
const maxEvidence = 12

// hit is one place a check matched.
type hit struct {
	path   string
	line   int
	text   string // the line, or what was found
	sha256 string
}

// finding is a check's conclusion about one file (or the package).
type finding struct {
	rule string
	cat  moat.Category
	sev  moat.Severity
	what string // what the check found, e.g. "decodes and executes code"
	hits []hit
	kind moat.Kind
}

// analysis gathers the checks' findings; one finding per rule and file.
type analysis struct {
	p        *pkg
	byKey    map[string]*finding
	order    []string
	binaries []Binary
	out      []moat.Finding
	// install is the set of files that run at install time (setup.py, an
	// in-tree build backend, hatch hooks).
	install map[string]bool
	// on, while a file is checked, says which line checks matched it at
	// all (nil: all run).
	on map[*lazyre.Regexp]bool
}

// add records a hit of rule in h.path; the finding's severity is the
// highest any of its hits asked for.
func (a *analysis) add(rule string, cat moat.Category, sev moat.Severity, what string, h hit) {
	key := rule + "\x00" + h.path
	f := a.byKey[key]
	if f == nil {
		f = &finding{rule: rule, cat: cat, sev: sev, what: what, kind: moat.KindCode}
		a.byKey[key] = f
		a.order = append(a.order, key)
	}
	if sev.Rank() > f.sev.Rank() {
		f.sev, f.what, f.cat = sev, what, cat
	}
	f.hits = append(f.hits, h)
}

// triage runs moat's own checks over the package.
func triage(p *pkg) *analysis {
	a := &analysis{p: p, byKey: map[string]*finding{}, install: map[string]bool{}}
	a.installFiles()
	a.metadata()
	a.names()
	a.binariesCheck()
	a.startupHooks()
	for _, f := range p.files {
		if isSource(f) {
			a.source(f)
		}
	}
	if p.kind == KindRequirements {
		a.requirements()
	}
	for _, k := range a.order {
		f := a.byKey[k]
		a.out = append(a.out, f.finding(a.actsIn(f)))
	}
	sortFindings(a.out)
	return a
}

// actsIn is the `moat test` phase in which f's file would run: install
// for install-time code, import for the rest of the package; "" for what
// is about the package as a whole (metadata, its name).
func (a *analysis) actsIn(f *finding) string {
	p := f.hits[0].path
	switch {
	case f.rule == "typosquat" || f.rule == "shadows-module" || strings.HasPrefix(f.rule, "metadata-") || p == "" || a.p.kind == KindRequirements:
		return ""
	case a.install[p] || strings.HasPrefix(f.rule, "install-"):
		return "install"
	}
	return "import"
}

// finding turns f into a moat.Finding: the summary names the file and
// line, each hit is an evidence event stamped with the phase in which
// the file would act.
func (f *finding) finding(phase string) moat.Finding {
	sort.SliceStable(f.hits, func(i, j int) bool { return f.hits[i].line < f.hits[j].line })
	var evs []moat.Event
	for i, h := range f.hits {
		if i == maxEvidence {
			break
		}
		evs = append(evs, moat.Event{Source: moat.SourceScan, Kind: f.kind, Phase: phase, Path: clean(h.path), Line: h.line, Name: f.rule,
			Detail: oneLine(h.text, 200), SHA256: h.sha256})
	}
	loc := clean(f.hits[0].path)
	if f.hits[0].line > 0 {
		loc += fmt.Sprintf(":%d", f.hits[0].line)
	}
	s := loc + ": " + oneLine(f.what, 200)
	if t := strings.TrimSpace(f.hits[0].text); t != "" {
		s += ": " + oneLine(t, 120)
	}
	if n := len(f.hits) - 1; n > 0 {
		s += fmt.Sprintf(" (and %d more)", n)
	}
	return moat.Finding{Category: f.cat, Severity: f.sev, Summary: s, Evidence: evs, Rule: f.rule}
}

// oneLine bounds text from the package to n bytes and escapes it to one
// line: control characters, line separators and bidirectional overrides
// can neither reach a terminal nor start a line of their own.
func oneLine(s string, n int) string { return termsafe.Inline(termsafe.Line(s, n)) }

// isSource says whether f is Python source (or a script moat reads as
// one).
func isSource(f *file) bool {
	n := strings.ToLower(f.name)
	switch path.Ext(n) {
	case ".py", ".pyw", ".pyi", ".pth", ".sh", ".cfg", ".toml", ".ps1", ".bat", ".cmd", ".js":
		return true
	}
	return strings.HasPrefix(string(f.data), "#!")
}

// ActsIn is the `moat test` phase in which the code a scan finding points
// at would run: "install" for install-time code (setup.py, build hooks),
// "import" for the package's modules, start-up hooks and binaries; "" for
// what no phase runs (metadata, names).
func ActsIn(f moat.Finding) string {
	for _, e := range f.Evidence {
		if e.Source == moat.SourceScan {
			return e.Phase
		}
	}
	return ""
}
