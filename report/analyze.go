// Package report turns what a sandboxed program did (a list of
// moat.Event) into findings (moat.Finding) and renders them: a short text
// summary, SARIF 2.1.0 for code scanning, and a self-contained HTML page.
//
// [Analyze] is a pure function over events, so it applies to one run or to
// each phase of `moat test` alike: events carry their phase, and findings
// are drawn per phase.
//
// # Trust
//
// Events are labelled by source. "kernel", "network", "fs" and "moat"
// events are moat's own observations; "audit" events come from the Python
// audit hook inside the program's process, so they are claims by the
// program: they can raise a finding (a forged event can only accuse the
// program that forged it) but never lower one, and a finding that rests on
// audit events alone says so. Nothing the program prints is an event.
package report

import (
	"fmt"
	"net/netip"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// maxEvidence bounds the events attached to one finding.
const maxEvidence = 12

// auditOnly is appended to findings that rest on audit events alone.
const auditOnly = " [seen only by the Python audit hook: the program's own claim]"

// Analyze draws findings from events, phase by phase, most severe first.
func Analyze(events []moat.Event) []moat.Finding {
	var phases []string
	by := map[string][]moat.Event{}
	for _, e := range events {
		e.Addr = unmapped(e.Addr)
		if e.Source == moat.SourceAudit || e.Source == moat.SourceKernel {
			e.Path = canonical(e.Path)
		}
		if _, ok := by[e.Phase]; !ok {
			phases = append(phases, e.Phase)
		}
		by[e.Phase] = append(by[e.Phase], e)
	}
	out := []moat.Finding{}
	for _, p := range phases {
		out = append(out, analyzePhase(by[p], p)...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return moat.Severity(out[i].Severity).Rank() > moat.Severity(out[j].Severity).Rank()
	})
	return out
}

// unmapped is addr ("host:port") with an IPv4 address mapped into IPv6
// written as IPv4 (red team, session 22): the native kernel witness says
// a connect to [::ffff:169.254.169.254]:80 as 169.254.169.254:80, the
// hook and gVisor's trace as the program passed it, and the two did not
// match (a high "seen by the kernel that the hook did not report" on a
// benign dual-stack connect) nor did the metadata service's address.
func unmapped(addr string) string {
	if !strings.HasPrefix(addr, "[") {
		return addr
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4In6() {
		return addr
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).String()
}

// canonical is p, an absolute path, with its empty and "." elements
// dropped (//, /./) and without a prefix that names the root again
// (/proc/self/root, /proc/PID/root, /proc/thread-self/root): every
// process of a run has the one root. ".." is kept: past a symbolic link
// the kernel's ".." is not the name's (/tmp/l/../../usr/bin/x, l a link
// the run made, is a file under /tmp). Red team, session 22: a file the
// run wrote, run as /proc/self/root/tmp/.c/a or //tmp/./.c/b, was a low
// "executed programs", not a high "executed a file the run wrote". A
// relative path is kept.
func canonical(p string) string {
	if !strings.HasPrefix(p, "/") || !strings.Contains(p, "//") && !strings.Contains(p, "/.") && !strings.HasPrefix(p, "/proc/") {
		return p
	}
	var parts []string
	for _, el := range strings.Split(p, "/") {
		if el != "" && el != "." {
			parts = append(parts, el)
		}
	}
	for len(parts) >= 3 && parts[0] == "proc" && parts[2] == "root" &&
		(parts[1] == "self" || parts[1] == "thread-self" || strings.Trim(parts[1], "0123456789") == "") {
		parts = parts[3:]
	}
	out := "/" + strings.Join(parts, "/")
	if strings.HasSuffix(p, "/") && out != "/" {
		out += "/"
	}
	return out
}

// Verdict is the highest severity among findings, or "clean".
func Verdict(fs []moat.Finding) string {
	best := 0
	for _, f := range fs {
		best = max(best, f.Severity.Rank())
	}
	if best == 0 {
		return "clean"
	}
	return string(moat.Severities[best-1])
}

type analysis struct {
	phase  string
	evs    []moat.Event
	out    []moat.Finding
	tokens []honeytoken.Token
	files  map[string]bool // planted token files

	own       map[int]bool      // pids of pip's probes (commands.go)
	interps   map[string]bool   // the interpreter's sha256s (commands.go)
	failed    map[string]bool   // paths of kernel exec-failed events (commands.go)
	sinkNames map[string]string // the name each address's sink flow asked for (connectTarget)

	hookPorts *bool // the hook's binds are the evidence of ports opened (listeners.go)
}

func (a *analysis) add(cat moat.Category, sev moat.Severity, summary string, ev []moat.Event) {
	allAudit := len(ev) > 0
	for _, e := range ev {
		if e.Source != "audit" {
			allAudit = false
		}
	}
	if allAudit && !strings.Contains(summary, auditOnly) {
		summary += auditOnly
	}
	if len(ev) > maxEvidence {
		ev = ev[:maxEvidence]
	}
	a.out = append(a.out, moat.Finding{Category: cat, Severity: sev, Summary: summary, Evidence: ev, Phase: a.phase})
}

func analyzePhase(evs []moat.Event, phase string) []moat.Finding {
	a := &analysis{phase: phase, evs: evs, files: map[string]bool{}}
	for _, e := range evs {
		if e.Source == "moat" && e.Kind == "honeytoken-planted" && e.Data != "" {
			t := honeytoken.Token{ID: e.Name, Value: e.Data, Host: e.Addr}
			if strings.HasPrefix(e.Path, "$") {
				t.Env = e.Path[1:]
			} else {
				t.Path = e.Path
				a.files[e.Path] = true
			}
			a.tokens = append(a.tokens, t)
		}
	}
	a.credentialAccess()
	a.netrcLookups()
	a.exfiltration()
	a.identity()
	a.persistence()
	a.execution()
	a.fdNative()
	a.procExec()
	a.swappedExec()
	a.hiddenExec()
	a.stage2()
	a.commands()
	a.fronting()
	a.metadata()
	a.drops()
	a.network()
	a.listeners()
	a.sockets()
	a.evasion()
	a.hookIntegrity()
	a.resources()
	a.outlived()
	return a.out
}

func (a *analysis) credentialAccess() {
	byPath := map[string][]moat.Event{}
	hookSaw := map[string]bool{}
	var order []string
	for _, e := range a.evs {
		if e.Source == "moat" || (e.Kind != "open" && e.Kind != "write") {
			continue
		}
		if a.files[e.Path] {
			hookSaw[e.Path] = true
			if a.netrcForRequest(e) {
				continue // an HTTP library's own netrc lookup (commands.go)
			}
			if byPath[e.Path] == nil {
				order = append(order, e.Path)
			}
			byPath[e.Path] = append(byPath[e.Path], e)
		}
	}
	// The kernel's witness (observe.Witness): a planted file whose access
	// time moved was read, by whatever means. It backs the hook's claim,
	// or, where the hook saw no open of the file, is the only witness of
	// a read done past the hook: also an evasion.
	var past []string
	var pastEv, altered, tools []moat.Event
	var alteredPaths []string
	for _, e := range a.evs {
		if e.Source != moat.SourceKernel || !a.files[e.Path] {
			continue
		}
		switch e.Kind {
		case moat.KindHoneytokenRead:
			switch {
			case byPath[e.Path] != nil:
				byPath[e.Path] = append([]moat.Event{e}, byPath[e.Path]...)
			case hookSaw[e.Path]:
				// the hook's open was judged a library's own (netrc)
			case a.toolReads(e.Path) != "":
				tools = append(tools, e)
			default:
				order = append(order, e.Path)
				byPath[e.Path] = []moat.Event{e}
				past = append(past, e.Path)
				pastEv = append(pastEv, e)
			}
		case moat.KindHoneytokenAltered:
			altered = append(altered, e)
			alteredPaths = append(alteredPaths, e.Path)
		}
	}
	switch len(order) {
	case 0:
	case 1:
		a.add(moat.CategoryCredentialAccess, "high", "read the planted fake credential file "+order[0], byPath[order[0]])
	default:
		// each file's first event (the kernel's where there is one) leads,
		// so that the evidence bound keeps every file
		var evs, rest []moat.Event
		for _, p := range order {
			evs = append(evs, byPath[p][0])
			rest = append(rest, byPath[p][1:]...)
		}
		a.add(moat.CategoryCredentialAccess, "high", fmt.Sprintf("read %d planted fake credential files: %s", len(order), strings.Join(order, ", ")), append(evs, rest...))
	}
	for _, e := range tools {
		a.add(moat.CategoryCredentialAccess, moat.SeverityLow, "read the planted "+e.Path+" (the kernel's access time): "+a.toolReads(e.Path), []moat.Event{e})
	}
	if len(past) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityHigh, "read planted fake credential files past the audit hook (the kernel's access times show the reads, the hook saw no open): "+joinBounded(past, 8), pastEv)
	}
	if len(altered) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityHigh, "altered planted fake credential files (their change times moved: access times set back, mode, links or content changed, or removed): "+joinBounded(uniq(alteredPaths), 8), altered)
	}
}

var rcFiles = map[string]bool{".bashrc": true, ".profile": true, ".bash_profile": true, ".bash_login": true, ".bash_logout": true,
	".zshrc": true, ".zprofile": true, ".zshenv": true, ".zlogin": true, "config.fish": true, ".xprofile": true, ".xinitrc": true}

func (a *analysis) persistence() {
	var same []moat.Event
	var samePaths []string
	defer func() {
		if len(same) > 0 {
			a.add(moat.CategoryPersistence, moat.SeverityLow, fmt.Sprintf("wrote bytecode for %d sources it did not change, verified to be what each source compiles to (compileall, py_compile): %s", len(same), joinBounded(samePaths, 4)), same)
		}
	}()
	// Site directories where the run wrote a package's RECORD: a module
	// there may be pip's (pip install --user), not a plant.
	records := map[string]bool{}
	// The directories of the run's own interpreter: a venv made from it
	// names one of them as its home.
	interp := map[string]bool{}
	for _, e := range a.evs {
		if e.Source == "fs" && e.Kind == "file-created" && path.Base(e.Path) == "RECORD" && strings.HasSuffix(path.Dir(e.Path), ".dist-info") {
			records[path.Dir(path.Dir(e.Path))] = true
		}
		if e.Source == moat.SourceMoat && e.Kind == moat.KindInterpreter && e.Path != "" {
			interp[path.Dir(e.Path)] = true
		}
	}
	for _, e := range a.evs {
		if e.Source == "fs" && e.Kind == moat.KindBytecode {
			if e.Name == BytecodeSame {
				// Verified in a sandbox with the run's interpreter: its
				// code is its source's (compileall, py_compile, a child
				// interpreter without the hook). Nothing runs that the
				// source does not show: one low note for them all.
				same = append(same, e)
				samePaths = append(samePaths, e.Path)
				continue
			}
			// Bytecode poisoning: the report would show the innocent
			// source while every later interpreter runs this file. Not
			// verified (fail closed) or verified to differ.
			a.add(moat.CategoryPersistence, "high", fmt.Sprintf("planted bytecode, run by later imports in place of what the source says: %s (%s)", e.Path, e.Detail), []moat.Event{e})
			continue
		}
		if e.Source != "fs" || (e.Kind != "file-created" && e.Kind != "file-changed") {
			continue
		}
		p, base := e.Path, path.Base(e.Path)
		verb := "created"
		if e.Kind == "file-changed" {
			verb = "changed"
		}
		switch {
		case strings.HasSuffix(base, ".pth"):
			switch {
			case pthHasCode(e.Data):
				a.add(moat.CategoryPersistence, "high", fmt.Sprintf("%s a .pth file with code, run by every Python start: %s", verb, p), []moat.Event{e})
			case strings.HasSuffix(e.Detail, observe.NotReadWhole):
				// fail closed: what was not read may be code
				a.add(moat.CategoryPersistence, "high", fmt.Sprintf("%s a .pth file too big to read whole, run by every Python start: %s", verb, p), []moat.Event{e})
			}
		case base == "sitecustomize.py" || base == "usercustomize.py":
			a.add(moat.CategoryPersistence, "high", fmt.Sprintf("%s %s, run by every Python start: %s", verb, base, p), []moat.Event{e})
		case rcFiles[base]:
			a.add(moat.CategoryPersistence, "high", fmt.Sprintf("%s a shell startup file: %s", verb, p), []moat.Event{e})
		case strings.Contains(p, "/cron") || base == "crontab":
			a.add(moat.CategoryPersistence, "high", fmt.Sprintf("%s a crontab: %s", verb, p), []moat.Event{e})
		case strings.Contains(p, "/.config/autostart/") || strings.Contains(p, "/.config/systemd/user/"):
			a.add(moat.CategoryPersistence, "high", fmt.Sprintf("%s an autostart entry: %s", verb, p), []moat.Event{e})
		case base == "authorized_keys" && strings.Contains(p, "/.ssh/"):
			a.add(moat.CategoryPersistence, "high", fmt.Sprintf("%s SSH authorized_keys: %s", verb, p), []moat.Event{e})
		case strings.Contains(p, "/bin/") && e.Kind == "file-changed" && !strings.Contains(p, "/.local/bin/"):
			a.add(moat.CategoryPersistence, "high", fmt.Sprintf("changed an entry-point script: %s", p), []moat.Event{e})
		case base == "pyvenv.cfg" || strings.HasSuffix(base, "._pth"):
			if what := startupPath(p, e.Data, strings.HasSuffix(e.Detail, observe.NotReadWhole), interp); what != "" {
				a.add(moat.CategoryPersistence, moat.SeverityHigh, fmt.Sprintf("%s %s: %s", verb, what, p), []moat.Event{e})
			}
		case !strings.HasPrefix(e.Detail, "d"):
			if what := laterCode(p, e.Data, strings.HasSuffix(e.Detail, observe.NotReadWhole)); what != "" {
				sev := moat.SeverityHigh
				if userSite(p) != "" && records[siteDir(p)] {
					sev, what = moat.SeverityMedium, what+" (the run also wrote a package's RECORD there: pip install --user, or a plant dressed as one)"
				}
				a.add(moat.CategoryPersistence, sev, fmt.Sprintf("%s %s: %s", verb, what, p), []moat.Event{e})
			}
		}
	}
}

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "csh": true, "tcsh": true,
	"fish": true, "ash": true, "busybox": true, "mksh": true}

func isPython(base string) bool {
	return strings.HasPrefix(base, "python") || base == "pytest" || base == "py.test"
}

func writable(p string) bool {
	for _, d := range []string{"/work/", "/tmp/", "/home/", "/dev/shm/", "/var/tmp/"} {
		if strings.HasPrefix(p, d) {
			return true
		}
	}
	return false
}

// fdNative: native code loaded from a file held only by a descriptor (a
// memfd or a deleted file, through /proc/self/fd): an extension module
// imported, or a library loaded through ctypes (red team, session 22:
// nothing before; its exec is high, fdPath). No kernel witness traces a
// mapping: the hook's word, said as such.
func (a *analysis) fdNative() {
	var evs []moat.Event
	var paths []string
	for _, e := range a.evs {
		if e.Source == moat.SourceAudit && (e.Kind == moat.KindNativeImport || e.Kind == moat.KindNativeLoad) && fdPath(e.Path) {
			evs = append(evs, e)
			paths = append(paths, e.Path)
		}
	}
	if len(evs) > 0 {
		a.add(moat.CategoryExecution, moat.SeverityHigh, "loaded native code from a file held only by a descriptor (a memfd or a deleted file): "+joinBounded(uniq(paths), 3), evs)
	}
}

// procExec: an exec of a file named through /proc by a link other than
// the root's (taken off by canonical) or a descriptor's (fdPath): the
// working directory's (/proc/self/cwd/x), a directory descriptor's
// (/proc/self/fd/N/x), another process's. Red team, session 22: a file
// the run wrote, run so, was a low "executed programs" on gVisor and the
// containers, and nothing on native, whose witness, resolving no magic
// link, took the exec for a failed one. No program needs such a name but
// its own (/proc/self/exe); the kernel's failed exec counts too.
func (a *analysis) procExec() {
	var evs []moat.Event
	var paths []string
	for _, e := range a.evs {
		if e.Source == moat.SourceMoat || e.Kind != moat.KindExec && e.Kind != moat.KindExecFailed {
			continue
		}
		if !strings.HasPrefix(e.Path, "/proc/") || fdPath(e.Path) || procExe(e.Path) {
			continue
		}
		evs = append(evs, e)
		paths = append(paths, e.Path)
	}
	if len(evs) > 0 {
		a.add(moat.CategoryExecution, moat.SeverityHigh, "executed a file by a name through /proc (a working directory's or a directory descriptor's link: its own name hidden): "+joinBounded(uniq(paths), 3), evs)
	}
}

// ranAfter: e is a kernel exec event of what a process ran, by the
// kernel's link after the exec (moat.ExecRan, moat.ExecSwapped), not a
// call: it has no command line, and no audit event answers it.
func ranAfter(e moat.Event) bool {
	return e.Source == moat.SourceKernel && e.Kind == moat.KindExec && (e.Name == moat.ExecRan || e.Name == moat.ExecSwapped)
}

// swappedExec: an exec ran another file than the one the kernel's
// witness read (seccomp.ExecCheck): the name in the caller's memory, the
// file it names, or that file's content changed while the exec waited,
// which no program does but one hiding what it runs from the witness.
func (a *analysis) swappedExec() {
	var evs []moat.Event
	var paths []string
	for _, e := range a.evs {
		if ranAfter(e) && e.Name == moat.ExecSwapped {
			evs = append(evs, e)
			paths = append(paths, e.Path)
		}
	}
	if len(evs) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityHigh, fmt.Sprintf("%d exec(s) ran another file than the one the kernel's witness read (its name changed, or the file was rewritten, while the exec waited: hiding what runs): %s", len(evs), joinBounded(uniq(paths), 3)), evs)
	}
}

// hiddenExec: an exec whose caller's memory the kernel's witness was
// refused (permission denied): a process of the program's own user that
// made itself non-dumpable (prctl(PR_SET_DUMPABLE, 0)), which the
// containers' init, holding no capability, may then not read: the exec's
// name, its file and what ran are all unknown. Red team, session 24: a
// dropped program so run was "executed programs: ." alone on docker and
// podman. No program but one hiding from a tracer does that before an
// exec. So too a process that could be read at its exec and no longer
// after (seccomp.Ran.Hidden: it ran a file its user may not read, mode
// 0111, or made itself non-dumpable at once).
func (a *analysis) hiddenExec() {
	var evs []moat.Event
	for _, e := range a.evs {
		if e.Source == moat.SourceKernel && (e.Kind == moat.KindExec || e.Kind == moat.KindExecFailed) &&
			(strings.Contains(e.Detail, "memory unreadable") && strings.Contains(e.Detail, "permission denied") ||
				ranAfter(e) && strings.Contains(e.Detail, "hid its memory after the exec")) {
			evs = append(evs, e)
		}
	}
	if len(evs) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityHigh, fmt.Sprintf("%d exec(s) whose caller hid its memory from the kernel's witness (non-dumpable, or running a file it may not read): what it ran is unknown", len(evs)), evs)
	}
}

// procExe: p is /proc/self/exe (/proc/PID/exe): a program run again.
func procExe(p string) bool {
	parts := strings.Split(strings.TrimPrefix(p, "/proc/"), "/")
	return len(parts) == 2 && parts[1] == "exe" && (parts[0] == "self" || parts[0] == "thread-self" || strings.Trim(parts[0], "0123456789") == "")
}

// fdPath: p names an open descriptor (/proc/self/fd/N, /proc/PID/fd/N,
// /dev/fd/N), not a file by its name.
func fdPath(p string) bool {
	p = path.Clean(p)
	dir, n := path.Split(p)
	if n == "" || strings.Trim(n, "0123456789") != "" {
		return false
	}
	switch dir {
	case "/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/":
		return true
	}
	pid, ok := strings.CutPrefix(dir, "/proc/")
	pid, ok2 := strings.CutSuffix(pid, "/fd/")
	return ok && ok2 && pid != "" && strings.Trim(pid, "0123456789") == ""
}

func (a *analysis) execution() {
	written := map[string]bool{}
	var downloads []moat.Event
	for _, e := range a.evs {
		if (e.Source == "fs" && (e.Kind == "file-created" || e.Kind == "file-changed")) || (e.Source == "audit" && (e.Kind == "write" || e.Kind == "chmod")) {
			written[e.Path] = true
		}
		if e.Kind == "http" || (e.Source == "network") {
			downloads = append(downloads, e)
		}
	}
	seen := map[string]bool{}
	a.preloads()
	var others []moat.Event
	for i, e := range a.evs {
		if e.Kind == moat.KindExecFailed && e.Source == moat.SourceKernel && writable(e.Path) && written[e.Path] && !a.isOwn(e) && !seen["failed|"+e.Path] {
			// A dropped file the kernel saw fail to run (no interpreter
			// for its #! in the sandbox, a format it lacks) is the same
			// intent as one that ran.
			seen["failed|"+e.Path] = true
			a.add(moat.CategoryExecution, "high", "tried to execute a file the run wrote (the exec failed): "+e.Path, []moat.Event{e})
			continue
		}
		if e.Kind != "exec" || e.Source == "moat" || a.isOwn(e) || a.failedExec(e) {
			continue
		}
		base := path.Base(e.Path)
		if a.pathMiss(i, written) {
			continue // execvp trying the next directory of PATH: this one failed
		}
		target, isLoader := loaderTarget(e)
		key := string(e.Source) + "|" + e.Path + "|" + target
		if seen[key] {
			continue
		}
		seen[key] = true
		if e.Source == "audit" && a.kernelSaw("exec", base) {
			continue // the kernel event speaks for it
		}
		switch {
		case isLoader && target != "":
			// ld.so maps the program itself: the kernel sees an exec of
			// the loader alone, never of what it runs (a file the run
			// wrote, even one not executable, a copy of the interpreter
			// run with -S that never says hello).
			sev, what := moat.SeverityMedium, "ran a program through the dynamic loader (no exec of its own: the kernel saw only the loader's)"
			if writable(target) {
				sev, what = moat.SeverityHigh, "ran a file from a writable directory through the dynamic loader (no exec of its own: the kernel saw only the loader's)"
			}
			a.add(moat.CategoryExecution, sev, what+": "+target, []moat.Event{e})
		case shells[base] && !(writable(e.Path) && written[e.Path]):
			// judged by its command line, each one (commands.go); one
			// the run wrote is judged by what it is, below
		case fdPath(e.Path):
			// fexecve's way, or a memfd's: a program that is on no
			// file system (the classic fileless dropper).
			a.add(moat.CategoryExecution, "high", "executed a file held only by a descriptor (a memfd or a deleted file): "+e.Path, []moat.Event{e})
		case writable(e.Path) && written[e.Path] && a.pythonScript(e):
			// a Python script the run wrote, run by the interpreter:
			// Python under the hook, listed with the programs run
			others = append(others, e)
		case e.Source == moat.SourceAudit && writable(e.Path) && a.hookOnly() && a.ranPython(e):
			// no kernel witness here (a gVisor RuntimeClass, runsc not
			// registered to trace): the hook's word, as every event's
			// there, that what ran said hello: Python under the hook
			others = append(others, e)
		case writable(e.Path) && (written[e.Path] && !a.runtimeFile(e) || !written[e.Path] && !a.interpreter(e) && !a.venvScript(e)):
			ev := []moat.Event{e}
			what := "executed a file from a writable directory"
			if written[e.Path] {
				what = "executed a file the run wrote"
			}
			if len(downloads) > 0 {
				what += " after a download attempt"
				ev = append(ev, downloads[0])
			}
			a.add(moat.CategoryExecution, "high", what+": "+e.Path, ev)
		case a.interpreter(e):
		default:
			others = append(others, e)
		}
	}
	if len(others) > 0 {
		var names []string
		for _, e := range others {
			names = append(names, path.Base(e.Path))
		}
		a.add(moat.CategoryExecution, "low", "executed programs: "+joinBounded(uniq(names), 12), others)
	}
}

// preloads: a library from a writable directory that the dynamic loader
// was told to map into an exec (LD_PRELOAD, LD_AUDIT in its environment,
// which the kernel's side reads from the caller's memory: native and the
// micro-VM) runs there with no exec of its own (red team, session 18:
// /bin/true with a dropped LD_PRELOAD was a low "executed programs"). An
// environment the witness could not read to its end (moat.EnvUnread) is
// high too: what was not read is not clean.
func (a *analysis) preloads() {
	seen := map[string]bool{}
	for _, e := range a.evs {
		if e.Source != moat.SourceKernel || e.Kind != moat.KindExec || e.Data == "" || a.isOwn(e) {
			continue
		}
		for _, v := range strings.Split(e.Data, `\x0a`) {
			if v == moat.EnvUnread {
				if !seen[v+e.Path] {
					seen[v+e.Path] = true
					a.add(moat.CategoryExecution, moat.SeverityHigh, fmt.Sprintf("started %s with an environment longer than moat reads: a library in LD_PRELOAD or LD_AUDIT past it would run there unseen",
						e.Path), []moat.Event{e})
				}
				continue
			}
			name, val, ok := strings.Cut(v, "=")
			if !ok || (name != "LD_PRELOAD" && name != "LD_AUDIT") {
				continue
			}
			for _, lib := range strings.FieldsFunc(val, func(r rune) bool { return r == ':' || r == ' ' }) {
				if !writable(lib) || seen[lib] {
					continue
				}
				seen[lib] = true
				a.add(moat.CategoryExecution, moat.SeverityHigh, fmt.Sprintf("loaded a library from a writable directory into %s through %s (no exec of its own): %s",
					e.Path, name, lib), []moat.Event{e})
			}
		}
	}
}

// loaderTarget: e runs the dynamic loader (ld-linux*.so*, ld-musl-*,
// ld.so; isLoader), and target is the program it was asked to load: its
// first argument that is no option of the loader's ("" for ldd's --list
// and --verify, which run nothing, and when none is named).
func loaderTarget(e moat.Event) (target string, isLoader bool) {
	base := path.Base(e.Path)
	if !strings.HasPrefix(base, "ld-linux") && !strings.HasPrefix(base, "ld-musl") && base != "ld.so" {
		return "", false
	}
	args := strings.Fields(argsOf(e.Detail))
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--list" || a == "--verify" || a == "--help" || a == "--version" || strings.HasPrefix(a, "--list-"):
			return "", true
		case a == "--library-path" || a == "--preload" || a == "--argv0" || a == "--audit" || a == "--inhibit-rpath" ||
			strings.HasPrefix(a, "--glibc-hwcaps-"):
			i++ // the option's value
		case strings.HasPrefix(a, "-"):
		default:
			return a, true
		}
	}
	return "", true
}

// pathMiss: k is a kernel exec that execvp's search of PATH made and that
// failed, because the same process's next exec tried the same name, with
// the same arguments, in another directory (a successful execve replaces
// the image; what it runs would not repeat the attempt as its first
// exec). The next exec, not one within some milliseconds: on a loaded
// machine gVisor's witness, which cannot tell a failed exec from one that
// ran, saw setuptools_scm's search for hg 53 ms apart, and a clock bound
// bought nothing (a program of the attacker's can repeat the name at
// once). A file the run wrote is never a miss: running it is the finding.
func (a *analysis) pathMiss(i int, written map[string]bool) bool {
	k := a.evs[i]
	if k.Source != "kernel" || written[k.Path] {
		return false
	}
	for _, e := range a.evs[i+1:] {
		if e.Source != "kernel" || e.PID != k.PID || (e.Kind != moat.KindExec && e.Kind != moat.KindExecFailed) || e.TimeMS < k.TimeMS {
			continue
		}
		return e.Path != k.Path && path.Base(e.Path) == path.Base(k.Path) && e.Detail == k.Detail
	}
	return false
}

func (a *analysis) kernelSaw(kind moat.Kind, base string) bool {
	for _, e := range a.evs {
		if e.Source == "kernel" && e.Kind == kind && path.Base(e.Path) == base {
			return true
		}
	}
	return false
}

func loopback(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		h := hostport
		if i := strings.LastIndexByte(h, ':'); i >= 0 {
			h = h[:i]
		}
		return h == "localhost"
	}
	return ap.Addr().IsLoopback() || ap.Addr().IsUnspecified()
}

func port(hostport string) int {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(hostport[i+1:])
	return n
}

func (a *analysis) network() {
	var conns, names, tarpits []moat.Event
	var targets, hosts, tarpitAddrs []string
	for _, e := range a.evs {
		switch {
		case e.Source == "moat" || e.Source == "fs":
		case e.Kind == "connect" && e.Addr != "" && !loopback(e.Addr):
			if e.Source == "audit" && a.kernelConnect(e.Addr) {
				continue
			}
			if port(e.Addr) == 53 && a.sinkResolver(e.Addr) {
				continue // a lookup the sink answered: "looked up names"
			}
			if unanswered(e.Addr) && !a.sinkSaw(e.Addr) {
				tarpits = append(tarpits, e)
				tarpitAddrs = append(tarpitAddrs, e.Addr)
				continue
			}
			conns = append(conns, e)
			targets = append(targets, a.connectTarget(e))
		case e.Source == "network" && e.Kind != "dns" && e.Kind != moat.KindEvents:
			conns = append(conns, e)
			targets = append(targets, firstNonEmpty(e.Name, e.Addr))
		case e.Kind == "dns" && e.Name != "" && e.Name != "localhost" && !isIP(e.Name):
			names = append(names, e)
			hosts = append(hosts, e.Name)
		}
	}
	if len(conns) > 0 {
		a.add(moat.CategoryNetwork, "medium", "attempted network connections to "+joinBounded(uniq(targets), 5), conns)
	}
	if len(tarpits) > 0 {
		a.add(moat.CategoryNetwork, "low", "tried to reach private-network or reserved addresses with no network to reach them (as test suites do to provoke a connect timeout): "+joinBounded(uniq(tarpitAddrs), 5), tarpits)
	}
	if len(names) > 0 {
		a.add(moat.CategoryNetwork, "low", "looked up names: "+joinBounded(uniq(hosts), 5), names)
	}
}

// connectTarget names a connection's destination for a summary: the
// name the sink saw asked for (a sinkhole address stands for a name;
// the flow's SNI, Host or lookup says which), with its port, else the
// address.
func (a *analysis) connectTarget(e moat.Event) string {
	if a.sinkNames == nil {
		a.sinkNames = map[string]string{}
		for _, n := range a.evs {
			if n.Source == moat.SourceNetwork && n.Addr != "" && n.Name != "" && !isIP(n.Name) && a.sinkNames[n.Addr] == "" {
				a.sinkNames[n.Addr] = n.Name
			}
		}
	}
	if name := a.sinkNames[e.Addr]; name != "" && port(e.Addr) != 0 {
		return fmt.Sprintf("%s:%d", name, port(e.Addr))
	}
	return e.Addr
}

// unanswered: hostport is a private-network address (RFC 1918, IPv6
// unique local) or a reserved one (240.0.0.0/4) on a port other than
// DNS's. requests' suite connects to
// 10.255.255.1 to provoke a connect timeout; with no network (moat test's
// test phase) nothing answers and nothing leaves. It is a network finding
// only if the sink saw the connection (sinkSaw: under a sinkhole it is
// answered, and what was sent is judged): so a medium connection stays
// medium wherever something could have received it, and a private
// resolver chosen for DNS stays medium everywhere.
func unanswered(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil || ap.Port() == 53 {
		return false
	}
	a := ap.Addr().Unmap()
	return a.IsPrivate() || reserved.Contains(a)
}

// reserved is 240.0.0.0/4 (RFC 1112's class E, "reserved for future
// use"): no network routes it, and Linux refuses to send to it. urllib3's
// suite connects to 240.0.0.0:80 as its TARPIT_HOST on Linux.
var reserved = netip.MustParsePrefix("240.0.0.0/4")

// sinkSaw: the network sink recorded a flow to addr.
func (a *analysis) sinkSaw(addr string) bool {
	for _, e := range a.evs {
		if e.Source == moat.SourceNetwork && e.Addr == addr {
			return true
		}
	}
	return false
}

func (a *analysis) kernelConnect(addr string) bool {
	for _, e := range a.evs {
		if e.Source == "kernel" && e.Kind == "connect" && e.Addr == addr {
			return true
		}
	}
	return false
}

// sinkResolver says whether the network sink answered DNS queries sent
// to addr: the resolver the sandbox's resolv.conf names (a container
// engine's may name the host's, which the sink answers in its place).
func (a *analysis) sinkResolver(addr string) bool {
	for _, e := range a.evs {
		if e.Source == moat.SourceNetwork && e.Kind == "dns" && e.Addr == addr {
			return true
		}
	}
	return false
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func (a *analysis) evasion() {
	// Kernel events that the audit hook of an audited process did not see.
	var unseen []moat.Event
	hello := false
	for _, e := range a.evs {
		if e.Source == "audit" && e.Kind == "hello" {
			hello = true
		}
		if e.Source != "kernel" || (e.Kind != "exec" && e.Kind != "connect" && e.Kind != moat.KindExecFailed && e.Kind != moat.KindListener) {
			continue
		}
		if e.Kind == "connect" && e.Addr == "" || ranAfter(e) {
			continue // unix sockets: libc's own (nscd); what an exec ran: no call
		}
		if e.Kind == moat.KindListener && !exposed(e.Addr) {
			continue // loopback: the hook says only the binds of other addresses
		}
		if a.audited(e) && !a.auditMatch(e) {
			unseen = append(unseen, e)
		}
	}
	if len(unseen) > 0 {
		a.add(moat.CategoryEvasion, "high", fmt.Sprintf("%d syscall(s) seen by the kernel that Python's audit hook did not report: native code (ctypes or an extension) bypassed it", len(unseen)), unseen)
	}
	// What a container's init or the host found wrong with the report
	// itself: the program wrote into the init's output, changed moat's
	// hook directory, or pushed a walk or the event stream past its cap.
	for _, e := range a.evs {
		if e.Source != moat.SourceMoat {
			continue
		}
		switch e.Kind {
		case moat.KindProtocolViolation:
			a.add(moat.CategoryEvasion, "critical", "something other than moat's init wrote into its output (forged or broken frames); the run's report is not believed: "+e.Detail, []moat.Event{e})
		case moat.KindInitKilled:
			a.add(moat.CategoryEvasion, "high", "killed the sandbox's init: "+e.Detail, []moat.Event{e})
		case moat.KindReportTampered:
			a.add(moat.CategoryEvasion, "high", "changed moat's reporting path inside the sandbox: "+e.Detail, []moat.Event{e})
		case moat.KindReportCut:
			a.add(moat.CategoryEvasion, "medium", "the report is incomplete: "+e.Detail, []moat.Event{e})
		}
	}
	// Paths too long to keep whole (cut in their middle, the file's name
	// kept) or relative to a working directory nobody could name: what
	// they hide is not in the report.
	var cut []moat.Event
	var cutPaths []string
	for _, e := range a.evs {
		if strings.Contains(e.Path, audit.CutMark) || strings.HasPrefix(e.Path, audit.CwdUnnamed) {
			cut = append(cut, e)
			cutPaths = append(cutPaths, e.Path)
		}
	}
	if len(cut) > 0 {
		a.add(moat.CategoryEvasion, "medium", fmt.Sprintf("the report is incomplete: %d path(s) too long to name whole (past %d bytes, cut in the middle) or from a working directory that could not be named: %s", len(cut), audit.MaxPath, joinBounded(uniq(cutPaths), 2)), cut)
	}
	if !hello && a.tokens != nil {
		a.add(moat.CategoryEvasion, "low", "the Python audit hook never ran (interpreter started with -I, -E or -S?); only kernel-side events are available", nil)
	}
	var ctypes []moat.Event
	syscallSym := false
	for _, e := range a.evs {
		if e.Source == "audit" && (e.Kind == "native-load" || e.Kind == "native-symbol") {
			ctypes = append(ctypes, e)
			if e.Kind == "native-symbol" && (e.Name == "syscall" || strings.HasPrefix(e.Name, "execv") || e.Name == "connect" || e.Name == "bind" || e.Name == "listen") {
				syscallSym = true
			}
		}
	}
	switch {
	case syscallSym:
		a.add(moat.CategoryEvasion, "medium", "called libc's raw syscall or exec/connect/bind/listen functions through ctypes, which bypasses audit hooks", ctypes)
	case len(ctypes) > 0:
		a.add(moat.CategoryEvasion, "low", "loaded native code through ctypes", ctypes)
	}
	var denied, tiocsti []moat.Event
	var names []string
	for _, e := range a.evs {
		if e.Source == "kernel" && e.Kind == "denied" {
			if e.Name == "ioctl" {
				tiocsti = append(tiocsti, e)
				continue
			}
			denied = append(denied, e)
			names = append(names, e.Name)
		}
	}
	if len(tiocsti) > 0 {
		a.add(moat.CategoryEvasion, "high", "tried to inject input into the terminal (ioctl TIOCSTI/TIOCLINUX), denied", tiocsti)
	}
	if len(denied) > 0 {
		a.add(moat.CategoryEvasion, "medium", "tried syscalls the sandbox denies: "+joinBounded(uniq(names), 8), denied)
	}
}

// sockets: attempts to open sockets of address families the sandbox
// refuses (kind "socket", the family in Name). vsock, packet, alg and the
// like have no use in a test run and are how a program reaches the
// hypervisor, the link layer or kernel crypto: high. A netlink protocol
// other than route (sock_diag, uevent, ...) is kernel probing: medium.
func (a *analysis) sockets() {
	var evs []moat.Event
	var names []string
	sev := moat.SeverityMedium
	for _, e := range a.evs {
		if e.Kind != moat.KindSocket || (e.Source != moat.SourceKernel && e.Source != moat.SourceAudit) {
			continue
		}
		evs = append(evs, e)
		names = append(names, e.Name)
		if e.Name != "AF_NETLINK" {
			sev = moat.SeverityHigh
		}
	}
	if len(evs) > 0 {
		a.add(moat.CategoryNetwork, sev, "tried to open sockets of address families the sandbox refuses: "+joinBounded(uniq(names), 8), evs)
	}
}

// audited: e's process had said hello (its hook ran) and has not exec'd
// another image since.
func (a *analysis) audited(k moat.Event) bool {
	h := int64(-1)
	var hello moat.Event
	for _, e := range a.evs {
		if e.PID != k.PID {
			continue
		}
		if e.Source == "audit" && e.Kind == "hello" && e.TimeMS <= k.TimeMS+slackMS {
			h, hello = e.TimeMS, e
		}
	}
	if h < 0 {
		return false
	}
	// A hello no earlier than k (the slack allows for the two channels'
	// delays) is the image's that k started, if k is the exec of the
	// interpreter that said it, or the image's after a later exec of the
	// same pid (sh's child became bash, then Python): either way k was
	// not a hooked process's. So too for a script whose "#!" names the
	// runtime's interpreter (a console script such as pip3, which a shell
	// started: the hello names the interpreter, not the script), or, where
	// the witness read no "#!" line (gVisor --image), whose path is the
	// hello's argv[0], as the kernel passes a script's.
	if h >= k.TimeMS && k.Kind == moat.KindExec && (k.Path == hello.Path || a.pythonScript(k) ||
		k.Script == "" && k.Path != "" && strings.HasPrefix(hello.Detail+" ", k.Path+" ")) {
		return false
	}
	after := false // past k in the events' order
	for _, e := range a.evs {
		if e.Source == "kernel" && e.Kind == "exec" && e.PID == k.PID && e.TimeMS > h && e.TimeMS < k.TimeMS {
			return false
		}
		if after && h >= k.TimeMS && e.Source == "kernel" && e.Kind == "exec" && e.PID == k.PID && e.TimeMS <= h {
			return false
		}
		after = after || e == k
	}
	return true
}

const slackMS = 2000

func (a *analysis) auditMatch(k moat.Event) bool {
	for _, e := range a.evs {
		if e.Source != "audit" || e.TimeMS > k.TimeMS+slackMS {
			continue
		}
		switch k.Kind {
		case "exec", moat.KindExecFailed:
			if e.Kind == "exec" && e.TimeMS >= k.TimeMS-5*slackMS && path.Base(e.Path) == path.Base(k.Path) {
				return true
			}
		case "connect":
			if e.Kind == "connect" && (e.Addr == k.Addr || (e.PID == k.PID && a.resolvedTo(e.Addr, k.Addr))) {
				return true
			}
			if port(k.Addr) == 53 && (e.Kind == "dns" || e.Kind == "http") {
				return true
			}
			// glibc's getaddrinfo connects a datagram socket to each
			// answer to sort them (RFC 3484; nothing is sent): after
			// the process's audited lookup of localhost or its own
			// name, connects to loopback answers are libc's. The hook
			// reports each name once a process, so the lookup may be
			// long before (requests' suite looks localhost up for
			// minutes). Loopback is the sandbox's own: such a connect
			// reaches nothing outside, so excusing it hides no network
			// use.
			if e.Kind == "dns" && e.PID == k.PID && loopback(k.Addr) {
				return true
			}
		case moat.KindListener:
			// The hook's bind of the same port (of the same process
			// where the port is the kernel's choice, 0); a listen of a
			// socket not seen bound had no bind for the hook to see
			// either (the kernel bound it): no address, no match.
			if e.Kind == moat.KindListener && k.Addr != "" && port(e.Addr) == port(k.Addr) && (port(k.Addr) != 0 || e.PID == k.PID) {
				return true
			}
		}
	}
	return false
}

// resolvedTo: hostport, as the audit hook names a connect whose address
// was a host name (Python's socket.connect(("localhost", port)) resolves
// it inside the call, with no audited lookup), is the address the kernel
// saw: the same port, and the name's answer. A name's answer is known for
// loopback only (localhost and the host's own name resolve there, and
// loopback is the sandbox's own: excusing it hides no network use) or
// from the sink's DNS answer for that name, which the program cannot
// forge. Any other kernel address is still one the hook did not report.
func (a *analysis) resolvedTo(hostport, kaddr string) bool {
	i := strings.LastIndexByte(hostport, ':')
	if i < 0 || isIP(hostport[:i]) || port(hostport) != port(kaddr) {
		return false
	}
	if loopback(kaddr) {
		return true
	}
	return a.sinkAnswer(strings.TrimSuffix(hostport[:i], "."), kaddr)
}

func (a *analysis) resources() {
	for _, e := range a.evs {
		if e.Source != "moat" || e.Kind != "limit" {
			continue
		}
		switch e.Name {
		case "timeout":
			a.add(moat.CategoryResourceAbuse, "medium", "ran until the timeout (a CPU burn, miner or hang): "+e.Detail, []moat.Event{e})
		case "memory", "pids":
			a.add(moat.CategoryResourceAbuse, "medium", "exhausted a limit and was killed: "+e.Detail, []moat.Event{e})
		default:
			a.add(moat.CategoryResourceAbuse, "low", "reached a limit: "+e.Detail, []moat.Event{e})
		}
	}
}

func uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func joinBounded(s []string, n int) string {
	if len(s) > n {
		return strings.Join(s[:n], ", ") + fmt.Sprintf(" and %d more", len(s)-n)
	}
	return strings.Join(s, ", ")
}
