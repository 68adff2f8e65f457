// Package audit is the Python side of moat's behaviour report: an audit
// hook (PEP 578) that moat installs in every interpreter of a sandbox, and
// the parser for the lines it writes.
//
// # How the hook gets in
//
// Where the backend can add a file to a site directory of the runtime,
// [Hook()] is the module [Module] there, run by a .pth line ([PthLine]):
// native mounts a read-only overlay on the directory, containers a tmpfs
// on an empty one. Otherwise the sandbox init writes [Hook()] as
// sitecustomize.py into the read-only directory [Dir] and puts it first on
// PYTHONPATH, so site.py imports it before the program's first line; it
// then steps aside and imports the environment's own sitecustomize, if
// there is one. Interpreters started with -S skip site.py and the .pth
// line: where the backend owns the file system view (native, gVisor,
// docker, podman, the micro-VM's runtime image), the runtime's encodings
// package, which every interpreter imports from source at its start, ends
// with a loader ([Startup], [CompileStartup]) that, under -S only, loads
// [Module] from the site directory by its file and installs the hook with
// the channel of the .pth line; install's early argument keeps it to once
// per process. The hook writes one
// JSON object per line (at most PIPE_BUF bytes, so lines of concurrent
// processes do not mix) into the FIFO [FIFO], which the init drains.
// The hook finds its channel next to its own directory (DIR/../audit), so
// other backends put it elsewhere: containers in /tmp/.moat (a FIFO the
// container init relays), gVisor at the same paths with an append-only file
// that moat tails from the host.
//
// # Limits (what it cannot see)
//
//   - Interpreters started with -I or -E skip PYTHONPATH, and so the hook
//     where it is there (Kubernetes, an image's first runs); -S skips it
//     where no encodings package carries the loader; an interpreter with
//     a standard library of its own (PYTHONHOME) always does. Where the
//     kernel sees execs, a Python process that never said hello is an
//     evasion finding.
//   - Python code can reach any object, the hook's state too (through the
//     garbage collector's lists). The hook leaves no path to it in the
//     import system (the extension loader it wraps raises an audit event
//     and holds nothing else), runs no code of the program inside itself
//     (which could walk its frames), and reports what it sees done: the
//     object lists read, another audit hook added, its frames walked
//     ("tamper" events). PYTHONPATH is hidden from os.environ (children
//     still inherit it, and an environment built for a child gets it
//     back), and no sitecustomize module of moat's stays in sys.modules;
//     /proc/self/environ still shows it.
//   - Native code (ctypes, extension modules, a compiled binary) does not
//     raise audit events. The kernel-side events of the native backend
//     (seccomp user notification: every execve and connect) do not depend
//     on the hook, and a kernel event without a matching audit event is
//     itself a finding (evasion).
//   - Everything the hook writes is a claim by the program: any process in
//     the sandbox can open the FIFO and write lines that look like events.
//     [Parse] accepts only known kinds, bounds and escapes every field, and
//     always labels the result Source "audit". Audit events may raise
//     findings (a forged line can only accuse the program itself), never
//     lower one, and a critical finding resting on them says so.
package audit

import (
	_ "embed"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/moat-sandbox/moat"
)

//go:embed hook.py
var hookSource string

// Hook returns the source of the hook moat installs (hook.py) with its comment
// lines taken out: a program that reads the module finds code that names
// nothing of moat (TestHookNamesNothing).
var Hook = sync.OnceValue(func() string { return uncommented(hookSource) })

// uncommented is src without its lines that hold only a comment (the
// hook has no multi-line string a line could be part of).
func uncommented(src string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(src, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// Paths inside the sandbox.
const (
	Dir  = "/.moat/py"    // read-only; first on PYTHONPATH
	FIFO = "/.moat/audit" // the hook writes here; the init reads
)

// The hook as a site directory's .pth line: where a backend can add files
// to a site directory of the runtime (site.getsitepackages()), it writes
// [Hook()] as Module+".py" and [PthLine] as PthFile there. Python runs the
// line while site.py processes the directory, before sitecustomize and the
// program, also in a venv with the system site packages, under -I and
// under pip's isolated builds (which replace PYTHONPATH). Nothing is then
// on PYTHONPATH or added to sys.path, and the names are those of an
// editable install (PEP 660) of a developer's own tool.
const (
	Module  = "__editable___devtools_0_1_finder"
	PthFile = "__editable__.devtools-0.1.pth"
)

// PthLine is the .pth line that installs the hook with its channel (a
// FIFO, or an append-only file) at channel.
func PthLine(channel string) string {
	return "import " + Module + "; " + Module + ".install(" + strconv.Quote(channel) + ")\n"
}

// MaxLine bounds one line from the hook; longer lines are dropped.
const MaxLine = 4096

// kinds the hook may report; anything else is dropped.
var kinds = map[string]bool{
	"hello": true, "open": true, "write": true, "remove": true, "rmdir": true, "mkdir": true,
	"chmod": true, "rename": true, "replace": true, "symlink": true, "link": true, "rmtree": true,
	"exec": true, "connect": true, "listener": true, "dns": true, "http": true, "socket": true,
	"native-load": true, "native-symbol": true, "native-import": true, "tamper": true, "signal": true, "testreport": true,
}

type line struct {
	K      string `json:"k"`
	PID    int    `json:"pid"`
	PPID   int    `json:"ppid"` // a hello's parent (os.getppid)
	Path   string `json:"path"`
	Addr   string `json:"addr"`
	Name   string `json:"name"`
	Detail string `json:"detail"`
	Data   string `json:"data"`
}

// Parse turns one line from the FIFO into an Event with Source "audit",
// or reports false for anything malformed or unknown. TimeMS and Phase
// are the caller's to set: the time in a line would be the program's
// word, so there is none.
func Parse(b []byte) (moat.Event, bool) {
	if len(b) > MaxLine {
		return moat.Event{}, false
	}
	var l line
	if err := json.Unmarshal(b, &l); err != nil || !kinds[l.K] {
		return moat.Event{}, false
	}
	if l.PID < 0 || l.PID > 1<<22 {
		l.PID = 0
	}
	if l.PPID < 0 || l.PPID > 1<<22 || l.K != "hello" {
		l.PPID = 0
	}
	return moat.Event{
		Source: moat.SourceAudit,
		Kind:   moat.Kind(l.K),
		PID:    l.PID,
		PPID:   l.PPID,
		Path:   CleanPath(l.Path, MaxPath),
		Addr:   Clean(l.Addr, 300),
		Name:   Clean(l.Name, 400),
		Detail: Clean(l.Detail, 400),
		Data:   Clean(l.Data, 1024),
	}, true
}

// Clean makes s safe to store in an Event: valid UTF-8, every control
// character (newlines too) escaped as \xNN, at most n bytes.
func Clean(s string, n int) string {
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= n {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\x` + hex2(s[i]))
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			b.WriteString(`\x` + hex2(byte(r)))
		case r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			// line separators and bidi overrides: shown, not obeyed
			b.WriteString(`\u` + strings.ToLower(hex4(r)))
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// MaxPath bounds an event's path: a longer one is cut in its middle
// ([CleanPath]), never at its end.
const MaxPath = 1024

// CutMark ends the marker that [CleanPath] puts where it left bytes
// out ("…[N bytes cut]…"), and CwdUnnamed starts a path relative to a
// working directory that could not be named (the hook's words when the
// kernel and its own walk up the tree both fail): the report calls
// either incomplete.
const (
	CutMark    = " bytes cut]…"
	CwdUnnamed = "<cwd not named>"
)

// CleanPath is [Clean] for a path: at most about n bytes and, where the
// path is longer, its start (the tree: /home, /work, a site directory)
// and its end (the file's name, which is what tells) are kept around a
// marker saying how much was left out ("…[N bytes cut]…"), so that
// neither a deep directory nor a long name can hide the other half.
func CleanPath(s string, n int) string {
	c := Clean(s, 4*len(s)+8) // every byte escaped takes at most 4
	if len(c) <= n {
		return c
	}
	head := max(n/3, 16)
	tail := max(n-head-24, 16)
	for head > 0 && !utf8.RuneStart(c[head]) {
		head--
	}
	t := len(c) - tail
	for t < len(c) && !utf8.RuneStart(c[t]) {
		t++
	}
	return c[:head] + "…[" + strconv.Itoa(t-head) + CutMark + c[t:]
}

func hex2(c byte) string {
	const h = "0123456789abcdef"
	return string([]byte{h[c>>4], h[c&15]})
}

func hex4(r rune) string {
	return hex2(byte(r>>8)) + hex2(byte(r))
}
