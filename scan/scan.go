// Package scan triages a Python package without running any of its
// code: the library behind `moat scan` and `moat test --scan`.
//
// It reads the target (a project directory, an sdist, a wheel or a
// requirements file, as `moat test` takes them) into memory: archives
// through internal/transfer/archive's bounded reader with the same
// hostile-archive rules as `moat test` (nothing is ever extracted onto the
// host), directories without following a link. Then moat's own checks
// run over the files, in Go:
//
//   - native binaries (ELF, PE, Mach-O; executables and shared objects),
//     with their SHA-256 and whether install-time or package code names
//     them; executables embedded as base64 in source;
//   - install-time code: setup.py (what its code does, its cmdclass),
//     pyproject.toml's build backend (in-tree backends, hatch hooks);
//   - start-up hooks: .pth files with code, sitecustomize, usercustomize,
//     entry points named like system commands;
//   - code that decodes and executes (base64, zlib, marshal, hex into exec,
//     eval, compile), or executes what it downloads, or pipes a download
//     into a shell;
//   - code hidden after a long run of whitespace on a line;
//   - network and credential indicators: URLs and IP literals, webhook,
//     paste and out-of-band hosts, the cloud metadata address, credential
//     paths, persistence paths;
//   - a package name one typo away from a popular one, a package that
//     ships a popular package's module (typosquat, shadowing);
//   - metadata that contradicts the archive (PKG-INFO and METADATA against
//     the file name, setup.py, pyproject.toml, a wheel's RECORD).
//
// Each is a [moat.Finding] in the behaviour report's vocabulary (category,
// severity) with a Rule, and evidence events of source "scan" naming the
// file and line. Existing analysers (Debian's bandit, Python Code Audit)
// run over the same files inside a moat sandbox with no network
// ([Analyse]); their results are merged as findings too. [Confirm] marks a
// scan finding and a run finding that agree.
//
// What the package's files say is the author's claim: a scan finding is
// a lead, the run shows what happened.
package scan

import (
	"context"
	"sort"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/report"
)

// Kinds of target, as pkgtest names them.
const (
	KindProject      = "project"
	KindSdist        = "sdist"
	KindWheel        = "wheel"
	KindRequirements = "requirements"
)

// Target is what to scan: pkgtest.DetectTarget's answer.
type Target struct {
	Kind string // project, sdist, wheel, requirements
	Path string // on the host
	// Root is the sdist's single top-level directory; "" when it has none
	// (a finding: `moat test` refuses such an sdist).
	Root string
}

// Config is one scan.
type Config struct {
	Target Target
	// Analysers run the external analysers in Backend (see Analyse); nil
	// or empty: moat's own checks only.
	Analysers []string
	Backend   moat.Backend
	Python    string // the host interpreter the analysers run with; "" python3 on PATH
	// CodeAudit is the directory of Python Code Audit's source (holding
	// codeaudit/); "" looks in the usual places (see FindCodeAudit).
	CodeAudit string
}

// Report is a scan's outcome.
type Report struct {
	Target string `json:"target"`
	Kind   string `json:"kind"`
	// Name and Version as the package's metadata states them (empty when
	// it has none).
	Name    string `json:"name,omitempty"`
	Version string `json:"version,omitempty"`
	Files   int    `json:"files"`
	Bytes   int64  `json:"bytes"`
	// Binaries lists every native binary in the package.
	Binaries   []Binary   `json:"binaries"`
	Analysers  []Analyser `json:"analysers"`
	DurationMS int64      `json:"duration_ms"`
	// Findings, most severe first; Verdict the highest severity, or
	// "clean".
	Findings []moat.Finding `json:"findings"`
	Verdict  string         `json:"verdict"`
}

// Binary is a native binary found in the package.
type Binary struct {
	Path   string `json:"path"`
	Format string `json:"format"` // elf, pe, macho
	Type   string `json:"type"`   // executable, shared-object, ...
	Arch   string `json:"arch,omitempty"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
	// Reach says how the package's code can reach it: "install" (named by
	// install-time code), "import" (named by the package's code, or an
	// extension module), "" (nothing names it).
	Reach string `json:"reach,omitempty"`
}

// Analyser is one external analyser's run.
type Analyser struct {
	Name       string `json:"name"`
	Status     string `json:"status"` // ran, unavailable, failed, skipped
	Note       string `json:"note,omitempty"`
	Findings   int    `json:"findings"`
	DurationMS int64  `json:"duration_ms,omitempty"`
}

// Run scans cfg.Target. The error is moat's failure or the user's (a
// target that cannot be read, a hostile archive: wrapping ErrTarget);
// what the package's files contain is findings, never an error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	start := time.Now()
	rep := &Report{Target: cfg.Target.Path, Kind: cfg.Target.Kind, Binaries: []Binary{}, Analysers: []Analyser{},
		Findings: []moat.Finding{}, Verdict: "clean"}
	pkg, err := load(cfg.Target)
	if err != nil {
		return rep, err
	}
	rep.Files, rep.Bytes = len(pkg.files), pkg.bytes
	a := triage(pkg)
	rep.Name, rep.Version = pkg.meta.name, pkg.meta.version
	rep.Binaries = append(rep.Binaries, a.binaries...)
	rep.Findings = append(rep.Findings, a.out...)
	if len(cfg.Analysers) > 0 {
		fs, runs, err := Analyse(ctx, cfg, pkg)
		rep.Analysers = runs
		rep.Findings = append(rep.Findings, fs...)
		if err != nil {
			rep.finish(start)
			return rep, err
		}
	}
	rep.finish(start)
	return rep, nil
}

func (r *Report) finish(start time.Time) {
	sortFindings(r.Findings)
	r.Verdict = report.Verdict(r.Findings)
	r.DurationMS = time.Since(start).Milliseconds()
}

// sortFindings orders findings most severe first, then by file and line.
func sortFindings(fs []moat.Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i].Severity.Rank(), fs[j].Severity.Rank()
		if a != b {
			return a > b
		}
		pa, la := where(fs[i])
		pb, lb := where(fs[j])
		if pa != pb {
			return pa < pb
		}
		return la < lb
	})
}

// where is a finding's first file and line.
func where(f moat.Finding) (string, int) {
	for _, e := range f.Evidence {
		if e.Path != "" {
			return e.Path, e.Line
		}
	}
	return "", 0
}
