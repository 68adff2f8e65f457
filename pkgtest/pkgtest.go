// Package pkgtest tests an untrusted Python package in phases, each in a
// fresh sandbox: the library behind `moat test`.
//
// A test is a sequence of sandbox runs, one per phase, on any
// [moat.Backend]:
//
//	venv     make /work/.venv with the base interpreter (--system-site-packages,
//	         so the distribution's pytest, pip, setuptools and wheel are
//	         there offline); unpack an sdist into /work/src for its tests
//	install  pip install the target into the venv; build hooks (setup.py,
//	         PEP 517 backends) run here, as untrusted code
//	import   import every top-level module of what install asked for
//	test     pytest with --junitxml, or a command of the user's
//
// Each phase has its own limits, timeout and network and its own
// [PhaseResult]. The network of a phase is Config.Network's entry for it,
// else [DefaultNetwork]: a sinkhole for install and import (where most
// malicious packages act: setup.py, a module's top level), so what they
// send is seen and answered while nothing leaves the machine; none for
// the test phase and the venv. With --index the install phase may reach
// that host:port alone (allow). /work, with
// the venv inside, is carried from one phase to the next through private
// staging directories on the host: the phase's Spec.OutDir (symlinks kept,
// Spec.OutLinks) becomes the next phase's Spec.Workspace. Nothing in a
// staging directory is ever followed or executed on the host; moat only
// reads the JUnit report from it, with O_NOFOLLOW and a size cap.
//
// A phase that does not pass stops the later ones, which are "skipped".
//
// Archives (an sdist, a wheel, the wheelhouse's files) are validated on the
// host by internal/transfer/archive before any sandbox starts, and given to the
// sandbox as they are: pip opens them inside.
package pkgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
	"github.com/moat-sandbox/moat/report"
	"github.com/moat-sandbox/moat/scan"
)

// Phase names, in the order they run.
const (
	PhaseVenv    = "venv"
	PhaseInstall = "install"
	PhaseImport  = "import"
	PhaseTest    = "test"
)

// Phases that --phases can select; venv always runs first.
var Selectable = []string{PhaseInstall, PhaseImport, PhaseTest}

// Phase statuses.
const (
	StatusPassed   = "passed"
	StatusFailed   = "failed"   // the program failed, or hit a memory, process or output limit
	StatusError    = "error"    // the sandbox failed (moat's side)
	StatusTimeout  = "timeout"  // the phase's wall clock ran out
	StatusCanceled = "canceled" // moat was interrupted
	StatusSkipped  = "skipped"  // not selected, or an earlier phase did not pass
)

// DefaultNetwork is the network of a phase that Config.Network does not
// name. The venv phase is always none.
var DefaultNetwork = map[string]moat.Network{
	PhaseVenv:    moat.NetworkNone,
	PhaseInstall: moat.NetworkSinkhole,
	PhaseImport:  moat.NetworkSinkhole,
	PhaseTest:    moat.NetworkNone,
}

// PhaseNetwork is the network mode of one phase: the venv's is none;
// with Index the install phase's is allow=INDEX-HOST:PORT (an explicit
// install mode must then be that one); otherwise Network's entry, else
// DefaultNetwork's. The error wraps ErrUsage.
func (cfg Config) PhaseNetwork(phase string) (moat.Network, error) {
	if phase == PhaseVenv {
		return moat.NetworkNone, nil
	}
	n, set := cfg.Network[phase]
	if set {
		pn, err := moat.ParseNetwork(string(n))
		if err != nil {
			return "", usagef("--network-%s: %w", phase, err)
		}
		n = pn
	}
	if phase == PhaseInstall && cfg.Index != "" {
		ep, err := IndexEndpoint(cfg.Index)
		if err != nil {
			return "", err
		}
		if set && n != moat.NetworkAllow(ep) {
			return "", usagef("--network-install %s: --index gives the install phase allow=%s; drop one of them", networkName(n), ep)
		}
		return moat.NetworkAllow(ep), nil
	}
	if !set {
		n = DefaultNetwork[phase]
	}
	return n, nil
}

// networkName is a mode as the CLI spells it.
func networkName(n moat.Network) string {
	if n == moat.NetworkNone {
		return "none"
	}
	return string(n)
}

// Default timeouts per phase.
var DefaultTimeouts = map[string]time.Duration{
	PhaseVenv:    2 * time.Minute,
	PhaseInstall: 10 * time.Minute,
	PhaseImport:  2 * time.Minute,
	PhaseTest:    10 * time.Minute,
}

// Config is one `moat test`.
type Config struct {
	Target    Target
	Backend   moat.Backend
	Isolation string // the backend's name, for the report
	// Python is the host's base interpreter; empty means /usr/bin/python3
	// when it exists (Debian's, whose dist-packages hold pytest), else
	// python3 on PATH. Not for Image.
	Python string
	// Image, for a backend that runs a container image (docker, podman,
	// gvisor through Docker), is the image: the venv is made with its
	// python3 (whose site-packages give pip, and pytest if it has it).
	Image string
	// Phases selects among install, import and test; nil means all.
	Phases []string
	// Wheelhouse is a host directory of dependencies: pip --no-index
	// --find-links. Index is a package index URL that the install phase
	// alone may reach. Neither: pip --no-index, nothing can be fetched.
	Wheelhouse string
	Index      string
	// Network maps a phase (install, import, test) to its network mode; a
	// phase not in it takes DefaultNetwork, the install phase with Index
	// the index's allow mode. See PhaseNetwork.
	Network map[string]moat.Network
	// Command replaces pytest in the test phase; it runs in a shell with
	// the venv's bin first on PATH, in the project's directory, and may
	// write JUnit XML to $MOAT_JUNIT.
	Command string
	// Timeouts per phase name; zero entries take DefaultTimeouts.
	Timeouts map[string]time.Duration
	// Limits of every phase (the Timeout field is ignored).
	Limits        moat.Limits
	AllowDegraded bool
	// NoReport runs the phases without the behaviour report.
	NoReport bool
	// NoUserland runs the phases without the host's read-only userland
	// (moat.Spec.Userland: /bin/sh and core utilities), which is on by
	// default: test suites and build steps shell out.
	NoUserland bool
	// Out, if set, is an empty or new directory that receives the report,
	// each phase's logs, the JUnit XML and the final /work (without the
	// venv and the wheelhouse), never following links, with size caps.
	Out string
	// Progress, if set, is called as each phase starts and ends.
	Progress func(phase string, done *PhaseResult)
	// Scan, if set, runs `moat scan` over the target before the phases
	// (its Target is set from Target); its findings go beside the
	// behaviour report's, and those both saw are marked (scan.Confirm).
	Scan *scan.Config
}

// PhaseResult is one phase. Stdout and Stderr came from the sandbox and
// are untrusted.
type PhaseResult struct {
	Name            string      `json:"name"`
	Status          string      `json:"status"`
	MoatStatus      moat.Status `json:"moat_status,omitempty"`
	ExitCode        int         `json:"exit_code"`
	DurationMS      int64       `json:"duration_ms"`
	Stdout          string      `json:"stdout"`
	Stderr          string      `json:"stderr"`
	StdoutTruncated bool        `json:"stdout_truncated,omitempty"`
	StderrTruncated bool        `json:"stderr_truncated,omitempty"`
	Network         string      `json:"network"`
	TimeoutMS       int64       `json:"timeout_ms,omitempty"`
	MaxRSSBytes     int64       `json:"max_rss_bytes,omitempty"`
	Degraded        []string    `json:"degraded,omitempty"`
	// Note explains a status (why skipped, what pytest said); Error a
	// failure of the sandbox.
	Note  string `json:"note,omitempty"`
	Error string `json:"error,omitempty"`
	// Events is what the phase's program did or tried, each stamped with
	// the phase (at most MaxPhaseEvents; EventsDropped counts the rest);
	// Findings is moat's analysis of the phase, drawn from all of its
	// events. Findings is empty, never null.
	Events        []moat.Event   `json:"events,omitempty"`
	EventsDropped int            `json:"events_dropped,omitempty"`
	Findings      []moat.Finding `json:"findings"`
}

// Report is the whole test.
type Report struct {
	Target    string         `json:"target"`
	Kind      Kind           `json:"kind"`
	Isolation string         `json:"isolation"`
	Phases    []*PhaseResult `json:"phases"`
	// Tests is the pytest outcome from the JUnit XML; nil when there is
	// none (test phase skipped, or a --command that wrote none).
	Tests  *Tests          `json:"tests"`
	Status string          `json:"status"`
	Out    *moat.OutReport `json:"out,omitempty"`
	// Findings of every phase, most severe first, each naming its phase;
	// Verdict is the highest severity among them, or "clean".
	Findings []moat.Finding `json:"findings"`
	Verdict  string         `json:"verdict"`
	// Scan is the static scan's report (--scan), with its own findings
	// and verdict; a finding the run confirmed says so (Confirmed), as
	// does the run's finding it matched.
	Scan *scan.Report `json:"scan,omitempty"`
}

// ExitStatus maps the report to the exit status of `moat test`: 0 all
// phases passed; 1 a phase failed; 124 a phase timed out; 125 moat failed
// (also: the copy of work/ to --out is incomplete); 130 interrupted.
func (r *Report) ExitStatus() int {
	if r.Out != nil && r.Out.Error != "" && (r.Status == StatusPassed || r.Status == StatusFailed) {
		return 125 // the copy of work/ to --out is incomplete
	}
	switch r.Status {
	case StatusPassed:
		return 0
	case StatusFailed:
		return 1
	case StatusTimeout:
		return 124
	case StatusCanceled:
		return 130
	}
	return 125
}

// ParsePhases reads "install,import,test" (any subset, any order).
func ParsePhases(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		ok := false
		for _, k := range Selectable {
			ok = ok || k == p
		}
		if !ok {
			return nil, usagef("--phases: unknown phase %q (want some of %s)", p, strings.Join(Selectable, ","))
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, usagef("--phases: no phase given (want some of %s)", strings.Join(Selectable, ","))
	}
	return out, nil
}

// IndexEndpoint is the HOST:PORT of an index URL, for the install phase's
// network allowance.
func IndexEndpoint(index string) (string, error) {
	u, err := url.Parse(index)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "", usagef("--index %q: want an http or https URL", index)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// DefaultPython is the base interpreter `moat test` uses by default.
func DefaultPython() string {
	if fi, err := os.Stat("/usr/bin/python3"); err == nil && !fi.IsDir() {
		return "/usr/bin/python3"
	}
	return ""
}

// Run runs the phases. The report holds every phase, also when err is
// not nil (err is moat's failure: a bad config, a sandbox that could not
// run); a program's failure is a phase status, never an error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	rep := &Report{Target: cfg.Target.Path, Kind: cfg.Target.Kind, Isolation: cfg.Isolation, Status: StatusError,
		Findings: []moat.Finding{}, Verdict: report.Verdict(nil)}
	selected := map[string]bool{}
	if cfg.Phases == nil {
		cfg.Phases = Selectable
	}
	for _, p := range cfg.Phases {
		selected[p] = true
	}
	order := []string{PhaseVenv, PhaseInstall, PhaseImport, PhaseTest}
	for _, name := range order {
		rep.Phases = append(rep.Phases, &PhaseResult{Name: name, Status: StatusSkipped, Network: "none", Note: "not selected", Findings: []moat.Finding{}})
	}
	rep.Phases[0].Note = ""
	if cfg.Backend == nil {
		return rep, errors.New("no backend")
	}
	if cfg.Image != "" && cfg.Python != "" {
		return rep, usagef("--python names a host interpreter, --image a container's: choose one")
	}
	if cfg.Python == "" && cfg.Image == "" {
		cfg.Python = DefaultPython()
	}
	nets := map[string]moat.Network{}
	for _, name := range append([]string{PhaseVenv}, Selectable...) {
		n, err := cfg.PhaseNetwork(name)
		if err != nil {
			return rep, err
		}
		nets[name] = n
	}
	for p := range cfg.Network {
		if !slices.Contains(Selectable, p) {
			return rep, usagef("network of phase %q: no such phase (want %s)", p, strings.Join(Selectable, ","))
		}
	}
	if cfg.Wheelhouse != "" {
		if err := checkWheelhouse(cfg.Wheelhouse); err != nil {
			return rep, err
		}
	}
	if cfg.Command != "" && strings.ContainsRune(cfg.Command, 0) {
		return rep, usagef("--command: contains a NUL byte")
	}
	if cfg.Out != "" {
		if err := prepareOut(cfg.Out); err != nil {
			return rep, err
		}
	}

	if cfg.Scan != nil {
		sc := *cfg.Scan
		sc.Target = scan.Target{Kind: string(cfg.Target.Kind), Path: cfg.Target.Path, Root: cfg.Target.Root}
		sr, err := scan.Run(ctx, sc)
		rep.Scan = sr
		if err != nil {
			return rep, fmt.Errorf("scan: %w", err)
		}
	}

	tmp, err := os.MkdirTemp("", "moat-test-")
	if err != nil {
		return rep, fmt.Errorf("staging: %w", err)
	}
	defer os.RemoveAll(tmp)
	stage := filepath.Join(tmp, "stage0")
	if err := seed(stage, cfg); err != nil {
		return rep, err
	}

	// One persona for every phase, as one machine installs, imports and
	// tests a package: a package that compares its install's host name or
	// user with its import's finds the same; the key is moat's, random.
	var kb [16]byte
	_, _ = rand.Read(kb[:])
	personaKey := hex.EncodeToString(kb[:])

	var runErr error
	stopped := ""
	for i, name := range order {
		pr := rep.Phases[i]
		if name != PhaseVenv && !selected[name] {
			continue
		}
		if stopped != "" {
			pr.Note = "an earlier phase (" + stopped + ") did not pass"
			continue
		}
		if ctx.Err() != nil {
			pr.Status, pr.Note = StatusCanceled, "interrupted before it started"
			stopped = name
			continue
		}
		pr.Note = ""
		next := filepath.Join(tmp, fmt.Sprintf("stage%d", i+1))
		spec := cfg.spec(name, stage, next)
		spec.Network = nets[name]
		spec.PersonaKey = personaKey
		pr.Network = networkName(spec.Network)
		pr.TimeoutMS = spec.Limits.Timeout.Milliseconds()
		if cfg.Progress != nil {
			cfg.Progress(name, nil)
		}
		res, err := cfg.Backend.Run(ctx, spec)
		fill(pr, res, err)
		rep.addFindings(pr)
		if err != nil && runErr == nil {
			runErr = fmt.Errorf("%s phase: %w", name, err)
		}
		if name == PhaseTest {
			cfg.readTests(rep, pr, next)
			var evs []moat.Event
			if res != nil {
				evs = res.Events // all of them: pr.Events may be cut
			}
			cfg.checkClaims(rep, pr, next, evs)
		}
		if cfg.Progress != nil {
			cfg.Progress(name, pr)
		}
		if fi, err := os.Lstat(next); err == nil && fi.IsDir() {
			if err := dropBytecode(next); err != nil && runErr == nil {
				runErr = fmt.Errorf("%s phase: drop its bytecode: %w", name, err)
			}
			_ = os.RemoveAll(stage)
			stage = next // the next phase starts from what this one left
		}
		if pr.Status != StatusPassed {
			stopped = name
		}
	}
	rep.Status = StatusPassed
	for _, pr := range rep.Phases {
		if pr.Status != StatusPassed && pr.Status != StatusSkipped {
			rep.Status = pr.Status
			break
		}
	}
	rep.confirm()
	if cfg.Out != "" {
		out, err := collectOut(cfg.Out, stage, tmp, rep)
		rep.Out = out
		if err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		rep.Status = StatusError
	}
	return rep, runErr
}

// seed builds the first working directory: the target, the wheelhouse.
func seed(stage string, cfg Config) error {
	if err := os.MkdirAll(filepath.Join(stage, "src"), 0o755); err != nil {
		return fmt.Errorf("staging: %w", err)
	}
	t := cfg.Target
	switch t.Kind {
	case KindProject:
		// The project keeps its links (as links: nothing follows them).
		if err := copyTree(t.Path, filepath.Join(stage, "src"), true); err != nil {
			return usagef("project %s: %w", t.Path, err)
		}
	case KindSdist, KindWheel:
		if err := copyFile(t.Path, filepath.Join(stage, "dist", filepath.Base(t.Path))); err != nil {
			return err
		}
	case KindRequirements:
		if err := copyFile(t.Path, filepath.Join(stage, "src", filepath.Base(t.Path))); err != nil {
			return err
		}
	default:
		return usagef("target kind %q", t.Kind)
	}
	if cfg.Wheelhouse != "" {
		if err := copyTree(cfg.Wheelhouse, filepath.Join(stage, "wheelhouse"), false); err != nil {
			return usagef("--wheelhouse: %w", err)
		}
	}
	return nil
}

// Needs returns what the phases of cfg will ask of a backend: one Spec a
// phase, with its network mode and the interpreter or image the user chose
// (no program, no workspace). moat.Select takes them, so that `auto` picks
// a backend that can enforce every phase, as `moat run` does for its one.
func (cfg Config) Needs() []*moat.Spec {
	phases := cfg.Phases
	if phases == nil {
		phases = Selectable
	}
	specs := []*moat.Spec{{Python: cfg.Python, Image: cfg.Image}} // the venv phase
	for _, p := range phases {
		s := &moat.Spec{Python: cfg.Python, Image: cfg.Image}
		s.Network, _ = cfg.PhaseNetwork(p) // a bad mode fails Run, before any sandbox
		specs = append(specs, s)
	}
	return specs
}

// spec is the sandbox run of one phase, from the stage directory in to
// the next one out (its network is set by Run).
func (cfg Config) spec(phase, in, out string) *moat.Spec {
	lim := cfg.Limits
	lim.Timeout = cfg.Timeouts[phase]
	if lim.Timeout <= 0 {
		lim.Timeout = DefaultTimeouts[phase]
	}
	s := &moat.Spec{
		Python: cfg.Python, Image: cfg.Image, Workspace: in, OutDir: out, OutLinks: true,
		Limits: lim, AllowDegraded: cfg.AllowDegraded, Userland: !cfg.NoUserland, NoReport: cfg.NoReport, Launcher: true,
		Env: []string{
			"PATH=/work/.venv/bin:/usr/local/bin:/usr/bin:/bin",
			"VIRTUAL_ENV=" + venvDir,
			"PIP_NO_INPUT=1", "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_CACHE_DIR=1",
		},
	}
	if phase == PhaseTest && cfg.Command != "" {
		// the user's command asked for it; pytest's run has no MOAT_ name
		s.Env = append(s.Env, "MOAT_JUNIT="+junitPath)
	}
	run := func(cwd string, argv ...string) {
		s.Args = append([]string{"-s", "-c", trampoline, cwd}, argv...)
	}
	projDir := srcDir
	if cfg.Target.Kind == KindSdist {
		projDir = srcDir + "/" + cfg.Target.Root
	}
	switch phase {
	case PhaseVenv:
		sdist := ""
		if cfg.Target.Kind == KindSdist {
			sdist = distDir + "/" + filepath.Base(cfg.Target.Path)
		}
		s.Args = []string{"-s", "-c", venvCode, sdist}
	case PhaseInstall:
		// -v: the output of build hooks (untrusted code) is shown, not hidden.
		argv := []string{venvPython, "-m", "pip", "install", "-v", "--no-input", "--disable-pip-version-check",
			"--no-cache-dir", "--progress-bar", "off", "--report", reportPath}
		if cfg.Index != "" {
			argv = append(argv, "--index-url", cfg.Index)
		} else {
			// Offline: nothing to fetch build backends from, so builds use
			// the venv's (the system's setuptools and wheel).
			argv = append(argv, "--no-index", "--no-build-isolation")
		}
		if cfg.Wheelhouse != "" {
			argv = append(argv, "--find-links", wheelDir)
		}
		switch cfg.Target.Kind {
		case KindProject:
			argv = append(argv, srcDir)
		case KindSdist, KindWheel:
			argv = append(argv, distDir+"/"+filepath.Base(cfg.Target.Path))
		case KindRequirements:
			argv = append(argv, "-r", srcDir+"/"+filepath.Base(cfg.Target.Path))
		}
		run(workDir, argv...)
	case PhaseImport:
		run("/tmp", venvPython, "-c", importCode)
	case PhaseTest:
		if cfg.Command != "" {
			run(projDir, "sh", cfg.Command)
		} else {
			// pytest with the witness (witness.py) registered first.
			run(projDir, venvPython, "-c", witnessCode(), "-p", "no:cacheprovider", "-o", "junit_family=xunit2", "--junitxml="+junitPath)
		}
	}
	return s
}

// fill records a run's outcome in pr.
func fill(pr *PhaseResult, res *moat.Result, err error) {
	if res != nil {
		pr.MoatStatus = res.Status
		pr.ExitCode = res.ExitCode
		pr.DurationMS = res.DurationMS
		pr.Stdout, pr.Stderr = res.Stdout, res.Stderr
		pr.StdoutTruncated, pr.StderrTruncated = res.StdoutTruncated, res.StderrTruncated
		pr.MaxRSSBytes = res.MaxRSSBytes
		pr.Degraded = res.Degraded
		pr.Events, pr.Findings = report.ForPhase(pr.Name, res)
		if pr.Name == PhaseVenv {
			pr.Findings = report.Shipped(pr.Findings, srcDir)
		}
		pr.EventsDropped = res.EventsDropped
		if len(pr.Events) > MaxPhaseEvents {
			pr.EventsDropped += len(pr.Events) - MaxPhaseEvents
			pr.Events = report.Bound(pr.Events, MaxPhaseEvents)
		}
	}
	if pr.Findings == nil {
		pr.Findings = []moat.Finding{}
	}
	switch {
	case err != nil:
		pr.Status, pr.Error = StatusError, termsafe.Line(err.Error(), 0)
	case res.Status == moat.StatusExited && res.Out != nil && res.Out.Error != "":
		// The next phase would start from part of this one's work (a
		// venv cut short by a full disk) and fail in a way that blames
		// the package: moat's failure instead (exit 125).
		pr.Status, pr.Error = StatusError, "the phase's work/ could not all be kept for the next phase: "+termsafe.Line(res.Out.Error, 0)
	case res.Status == moat.StatusExited && res.ExitCode == 0:
		pr.Status = StatusPassed
	case res.Status == moat.StatusExited:
		pr.Status = StatusFailed
	case res.Status == moat.StatusTimeout:
		pr.Status, pr.Note = StatusTimeout, fmt.Sprintf("killed after %s", time.Duration(pr.TimeoutMS)*time.Millisecond)
	case res.Status == moat.StatusCanceled:
		pr.Status, pr.Note = StatusCanceled, "interrupted: sandbox killed"
	case res.Status == moat.StatusError:
		pr.Status, pr.Error = StatusError, termsafe.Line(res.Error, 0)
	default: // memory, pids, output-limit, signaled
		pr.Status, pr.Note = StatusFailed, "killed: "+string(res.Status)
		if res.Status == moat.StatusSignaled {
			pr.Note = fmt.Sprintf("killed by signal %d", res.Signal)
		}
	}
}

// MaxPhaseEvents bounds the events each phase keeps in the report (the
// backend bounds them too: 3000 for native). Findings are drawn before
// this cut, from everything the backend returned.
const MaxPhaseEvents = 1000

// addFindings adds a phase's findings to the report's, most severe first,
// earlier phases first among equals.
func (r *Report) addFindings(pr *PhaseResult) {
	r.Findings = append(r.Findings, pr.Findings...)
	sort.SliceStable(r.Findings, func(i, j int) bool {
		return moat.Severity(r.Findings[i].Severity).Rank() > moat.Severity(r.Findings[j].Severity).Rank()
	})
	r.Verdict = report.Verdict(r.Findings)
}

// confirm marks the scan's findings and the phases' that agree.
func (r *Report) confirm() {
	if r.Scan == nil {
		return
	}
	scan.Confirm(r.Scan.Findings, r.Findings)
	for _, pr := range r.Phases {
		fs := slices.Clone(r.Scan.Findings)
		scan.Confirm(fs, pr.Findings)
	}
}

// readTests parses the JUnit XML the test phase left in its stage.
func (cfg Config) readTests(rep *Report, pr *PhaseResult, stage string) {
	f, err := openInStage(stage, reportsDir, "junit.xml")
	if err != nil {
		if cfg.Command == "" && pr.Status == StatusPassed {
			pr.Note = "pytest wrote no JUnit XML"
		}
		return
	}
	defer f.Close()
	t, err := ParseJUnit(f)
	if err != nil {
		pr.Note = termsafe.Line(err.Error(), 0)
		return
	}
	rep.Tests = t
	// pytest exits 5 when it collected nothing: not a failure of the package.
	if cfg.Command == "" && pr.MoatStatus == moat.StatusExited && pr.ExitCode == 5 && t.Passed+t.Failed+t.Errors+t.Skipped == 0 {
		pr.Status, pr.Note = StatusPassed, "pytest collected no tests"
	}
}

// checkClaims adds the findings that make the test results the
// package's claim: code in its tree that rewrites them, pytest's exit
// status disagreeing with its JUnit XML, and the witness's records (in
// the phase's events, runEvents) disagreeing with either, or missing.
func (cfg Config) checkClaims(rep *Report, pr *PhaseResult, stage string, runEvents []moat.Event) {
	if fi, err := os.Lstat(stage); err != nil || !fi.IsDir() || pr.MoatStatus == "" {
		return
	}
	evs := scanOutcomeHooks(stage)
	if cfg.Command == "" && rep.Tests != nil && pr.MoatStatus == moat.StatusExited {
		if e, ok := testMismatch(pr.ExitCode, rep.Tests); ok {
			evs = append(evs, e)
		}
	}
	if cfg.Command == "" {
		evs = append(evs, readWitness(runEvents).events(pr.MoatStatus == moat.StatusExited, pr.ExitCode, rep.Tests)...)
	}
	for i := range evs {
		evs[i].Phase = pr.Name
	}
	fs := report.TestClaims(evs, pr.Name)
	if len(fs) == 0 {
		return
	}
	pr.Events = append(pr.Events, evs...)
	pr.Findings = append(pr.Findings, fs...)
	rep.addFindings(&PhaseResult{Findings: fs})
}

// openInStage opens stage/dir/name for reading: dir must be a real
// directory and name a regular file, neither a link (the sandbox wrote
// them).
func openInStage(stage, dir, name string) (*os.File, error) {
	fi, err := os.Lstat(filepath.Join(stage, dir))
	if err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory", dir)
	}
	f, err := os.OpenFile(filepath.Join(stage, dir, name), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	return f, nil
}

// prepareOut requires an empty or new directory.
func prepareOut(dir string) error {
	fi, err := os.Lstat(dir)
	switch {
	case os.IsNotExist(err):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return usagef("--out: %w", err)
		}
		return nil
	case err != nil:
		return usagef("--out: %w", err)
	case !fi.IsDir():
		return usagef("--out %s: not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return usagef("--out: %w", err)
	}
	if len(ents) > 0 {
		return usagef("--out %s: not empty", dir)
	}
	return nil
}

// collectOut fills the --out directory: report.json, logs/PHASE.stdout
// and .stderr, junit.xml, and work/ (the final /work without the venv and
// the wheelhouse; links are never copied).
func collectOut(dir, stage, tmp string, rep *Report) (*moat.OutReport, error) {
	out := &moat.OutReport{Dir: dir}
	logs := filepath.Join(dir, "logs")
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return out, fmt.Errorf("--out: %w", err)
	}
	write := func(name string, data []byte) error {
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			out.Files++
			out.Bytes += int64(len(data))
		}
		return err
	}
	for _, pr := range rep.Phases {
		if pr.Status == StatusSkipped {
			continue
		}
		if err := write(filepath.Join(logs, pr.Name+".stdout"), []byte(pr.Stdout)); err != nil {
			return out, err
		}
		if err := write(filepath.Join(logs, pr.Name+".stderr"), []byte(pr.Stderr)); err != nil {
			return out, err
		}
	}
	if f, err := openInStage(stage, reportsDir, "junit.xml"); err == nil {
		data, err := io.ReadAll(io.LimitReader(f, maxJUnitBytes))
		f.Close()
		if err == nil {
			if err := write(filepath.Join(dir, "junit.xml"), data); err != nil {
				return out, err
			}
		}
	}
	// Move what is not an artifact out of the way, then copy the rest.
	if fi, err := os.Lstat(stage); err == nil && fi.IsDir() {
		aside := filepath.Join(tmp, "aside")
		_ = os.MkdirAll(aside, 0o700)
		for _, n := range []string{".venv", "wheelhouse"} {
			_ = os.Rename(filepath.Join(stage, n), filepath.Join(aside, n))
		}
		work := filepath.Join(dir, "work")
		if err := os.Mkdir(work, 0o755); err != nil {
			return out, fmt.Errorf("--out: %w", err)
		}
		// The stage was the sandbox's: what Pack left out is in the
		// Report, names with control characters are refused.
		r, err, _ := treecopyPipe(stage, work, treecopy.Limits{Bytes: moat.DefaultOutBytes, Files: moat.DefaultOutFiles}, treecopy.Options{})
		if r != nil {
			out.Files += r.Files
			out.Bytes += r.Bytes
			out.Skipped = append(out.Skipped, r.Skipped...)
		}
		if err != nil {
			out.Error = "work: " + termsafe.Line(err.Error(), 0)
		}
	}
	// The report last, with the out section as it stands.
	rep.Out = out
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return out, err
	}
	return out, write(filepath.Join(dir, "report.json"), append(data, '\n'))
}
