// Package sentry reads what gVisor's Sentry logs about the program:
// runsc --strace's syscall trace (execs, connects, forks, sockets of
// families it lacks) and, at debug level, the calls its OCI seccomp
// profile refused. The Sentry writes both to runsc's debug log, which the
// program cannot write to; the program controls only the traced
// arguments, which the Sentry prints quoted but for an exec's path, and
// its task name: those two raw, where a newline starts a line that is
// still the message (Parse joins it; a message it cannot read is an
// event of kind trace, never nothing). Both the
// gvisor backend (runsc of its own) and the docker backend (runsc as
// Docker's runtime, gVisor's --image) read it. No seccomp listener can
// be had under the Sentry (runsc 20221219 answers
// SECCOMP_FILTER_FLAG_NEW_LISTENER with EINVAL): this is the kernel side
// of the report there.
package sentry

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"iter"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// The kernel-side events of a gVisor run come from the Sentry's own
// syscall trace: runsc --strace --strace-syscalls=execve,execveat,connect
// writes one line to the boot process's debug log as each such call
// enters the Sentry. The program cannot avoid it (ctypes, native code and
// static binaries all end in the Sentry's syscall table), and cannot write
// to the log. What it controls is the content of the traced arguments, which
// the Sentry prints quoted (an exec's path raw), and its task name (comm,
// at most 15 bytes, raw):
// a forged-looking name can only add events that accuse the program.

// Syscalls are the calls traced (--strace-syscalls): execs and connects are events;
// the returns of clone, fork and vfork give each process its parent; a
// socket of a family the Sentry has no implementation of returns
// EAFNOSUPPORT, an event of kind socket (the families moat refuses that
// the Sentry has are refused by the OCI profile, before the trace).
const Syscalls = "execve,execveat,connect,clone,fork,vfork,socket"

// CwdSyscalls are traced besides Syscalls: the returns of chdir and
// fchdir, from which Parse follows each process's working directory
// (Options.Cwd) to name an exec of a relative path whole. moat passes
// them to its own runsc (gVisor direct); Docker's runsc (gVisor --image)
// has them where .ci/setup-runsc-trace.sh registered it, and a
// registration without them (an older one) is read with Syscalls alone:
// there a relative exec keeps its name.
const CwdSyscalls = "chdir,fchdir"

// ListenSyscalls are traced besides Syscalls: the returns of bind and
// listen, from which Parse makes a port opened (kind listener): a
// successful listen, with the address its socket was bound to (by the
// Sentry's name of the socket, socket:[N], the same in every process
// that holds it), and a successful bind of a datagram socket (its type
// from its socket's return in the same process) to an inet port. A
// listen of a socket bound by no traced bind is on every address, and so
// is one whose bind was not kept (fail closed); one of a socket the same
// process made for another family than inet (a Unix socket's) is no
// port. moat passes them to its own runsc (gVisor direct); Docker's runsc
// (gVisor --image) has them where .ci/setup-runsc-trace.sh registered
// it, and a registration without them (an older one) sees no port
// opened: a trace event says so (the report then takes the hook's binds).
const ListenSyscalls = "bind,listen"

// Options says what Parse knows beyond the log.
type Options struct {
	// Cwd is the working directory the sandbox's pid 1 starts in, set
	// only where the trace has CwdSyscalls: the processes' working
	// directories are then followed from it, through forks (a
	// CLONE_FS child shares its parent's) and successful chdir and
	// fchdir calls. "": relative exec paths are kept as given.
	Cwd string
	// CwdAll: Cwd is every process's working directory, not pid 1's
	// alone (an exec's message read by itself: Watch).
	CwdAll bool
	// Hash, if set, says what the file an exec event names (its whole
	// path, before the event's is cut to audit.MaxPath; ms the event's
	// time) is: the first maxHashes exec events are asked.
	Hash func(path string, ms int64) Hashed
	// Init says pid 1 is moat's init, which starts the program: the first
	// exec of the trace is that start, not an event (nothing of the
	// program's runs before it; it is the program's first process).
	Init bool
}

// DeniedSuffix ends the debug log's line of a call the OCI profile
// refused (at debug level, before the trace): "[tgid:tid] Syscall N:
// denied by seccomp". The program controls nothing on it.
const DeniedSuffix = ": denied by seccomp"

// MaxBytes bounds how much of the debug log is kept.
const MaxBytes = 32 << 20

var (
	// [tgid:tid] in the sandbox's root PID namespace, comm, E (entry) or
	// X (exit), the call and its arguments.
	// The task name and the traced path of an exec are printed raw: a
	// newline in either goes on the next lines of the log, which Parse
	// joins to the message (?s).
	straceLine = lazyRE(`^[IWE](\d{4}) (\d{2}:\d{2}:\d{2}\.\d{6})\s+\d+ strace\.go:\d+\] \[\s*(\d+):\s*(\d+)\] ((?s:.{0,16}?)) ([EX]) (execve|execveat|connect|clone|fork|vfork|socket|chdir|fchdir|bind|listen)\(((?s:.*))$`)
	// a trace message's start, whatever follows it
	straceHead = lazyRE(`^[IWE](\d{4}) (\d{2}:\d{2}:\d{2}\.\d{6})\s+\d+ strace\.go:\d+\] \[\s*(\d+):\s*\d+\] `)
	// the start of any message of the log: a line without one goes on
	// the message before it
	logHead = lazyRE(`^[DIWEF]\d{4} \d{2}:\d{2}:\d{2}\.\d{6}\s+\d+ [^ \]]+:\d+\] `)
	// a call the OCI profile refused: its number, of the native calling
	// convention (the profile admits no other architecture's)
	deniedLine = lazyRE(`^[DIWE](\d{4}) (\d{2}:\d{2}:\d{2}\.\d{6})\s+\d+ task_syscall\.go:\d+\] \[\s*(\d+):\s*\d+\] Syscall (\d+): denied by seccomp$`)
	// an exit's return value and errno, after the arguments
	straceRet = lazyRE(`\) = (-?\d+) \(0x[0-9a-f]+\)(?: errno=(\d+) \(([^)]*)\))?(?: \([^)]*\))?\s*$`)
	execPath  = lazyRE(`0x[0-9a-f]+ ([^,]*), 0x[0-9a-f]+ \[`)
	// execveat's directory (the Sentry names the descriptor: "0x3 /dir",
	// "AT_FDCWD /cwd", "0x9 (bad FD)"), its path, and its flags last
	execAt = lazyRE(`^(?:AT_FDCWD|0x[0-9a-f]+) ((?s:.*?)), 0x[0-9a-f]+ ((?s:.*?)), 0x[0-9a-f]+ \[((?s:.*)), 0x([0-9a-f]+)$`)
	// the same for a path with a comma (printed raw): up to the first
	// ", 0xADDR [" (an execveat's then starts at its directory)
	execPathComma = lazyRE(`0x[0-9a-f]+ ((?s:.*?)), 0x[0-9a-f]+ \[`)
	// a bind's or listen's descriptor and the Sentry's name of its
	// socket; a bind's or a connect's family, host ("" the unspecified)
	// and port
	sockFD   = lazyRE(`^0x([0-9a-f]+) (socket:\[\d+\])`)
	bindAddr = lazyRE(`\{Family: (AF_INET6?), Addr: ([^,]*), Port: (\d+)\}`)
	unixAddr = lazyRE(`\{Family: AF_UNIX, Addr: ("(?:[^"\\]|\\.)*")`)
)

// Parse reads the Sentry's debug log and returns the "kernel" exec
// and connect events in it, and the calls the OCI profile refused (kind
// denied, named by native's deny list), stamped relative to start (the
// log's clock is the host's local time), at most max and each kind
// within its kbudget.Reserve; dropped counts the rest. An exec's
// path is whole: execveat's from the directory the Sentry names for its
// descriptor (AT_EMPTY_PATH: /proc/self/fd/N, what it runs, the file in
// its detail), a relative one from the caller's working directory where
// o.Cwd is set; under audit.CwdUnnamed where that is not known.
func Parse(r io.Reader, start time.Time, max int, o Options) (evs []moat.Event, dropped int) {
	parent := map[int]int{} // child pid -> parent pid (fork, vfork, clone without CLONE_THREAD)
	cw := newCwds(o.Cwd)
	cw.all = o.CwdAll
	var rel []pendingExec    // exec events whose path is relative to a working directory
	full := map[int]string{} // an exec event's whole path, before it is cut
	seq := 0
	// Each kind within its reserve (kbudget.Reserve), as native's
	// and the micro-VM's kernel events: a flood of one kind (sockets of a
	// family the Sentry lacks, the cheapest) cannot crowd out the exec and
	// connect that follow; all within max.
	budget := kbudget.Budget{Max: max}
	add := func(ev moat.Event) {
		if budget.Keep(ev) {
			evs = append(evs, ev)
		}
	}
	// The sockets: each process's descriptors' family and type from
	// socket's returns, each socket's bound inet address (or "" for
	// another family) from bind's (ports.go).
	ports := newPorts()
	data, _ := io.ReadAll(io.LimitReader(r, MaxBytes))
	failed, ran := execOutcomes(data)
	for text := range messages(bytes.NewReader(data)) {
		seq++
		m := straceLine().FindStringSubmatch(text)
		if m == nil {
			if h := straceHead().FindStringSubmatch(text); h != nil {
				// A trace message moat cannot read (its call hidden by a
				// task name or path cut where moat does not join it):
				// fail closed, the program's attempt is an event.
				pid, _ := strconv.Atoi(h[3])
				add(unreadable(pid, stamp(h[1], h[2], start), text))
				continue
			}
			if d := deniedLine().FindStringSubmatch(text); d != nil {
				pid, _ := strconv.Atoi(d[3])
				nr, _ := strconv.ParseUint(d[4], 10, 32)
				_, name, ok := seccomp.DenyErrno(uint32(nr))
				if !ok {
					name = "syscall " + d[4]
				}
				if name == "clone3" {
					// glibc's start of every thread and process (it
					// falls back to clone, whose flags the profile
					// checks); its own flags are in memory, unlogged.
					continue
				}
				add(moat.Event{Source: moat.SourceKernel, Kind: moat.KindDenied, PID: pid, Name: name,
					TimeMS: stamp(d[1], d[2], start), Detail: "refused by the OCI profile in the Sentry (its debug log)"})
			}
			continue
		}
		pid, _ := strconv.Atoi(m[3])
		call, rest := m[7], m[8]
		ev := moat.Event{Source: moat.SourceKernel, PID: pid, Name: call, TimeMS: stamp(m[1], m[2], start)}
		exit := m[6] == "X"
		if exit && (call == "execve" || call == "execveat") {
			if !ran[seq] {
				continue // the exit of an exec its entry stands for
			}
			// an exit whose entry is not in the trace: the exec it
			// returned from, read from the exit's own arguments
			if loc := straceRet().FindStringIndex(rest); loc != nil {
				exit, rest = false, rest[:loc[0]]+")"
			}
		}
		if exit {
			loc := straceRet().FindStringSubmatchIndex(rest)
			if loc == nil {
				continue
			}
			args, ret, errno := rest[:loc[0]], rest[loc[2]:loc[3]], ""
			if loc[4] >= 0 {
				errno = rest[loc[4]:loc[5]]
			}
			switch call {
			case "clone", "fork", "vfork":
				if child, err := strconv.Atoi(ret); err == nil && child > 0 && errno == "" && !strings.Contains(args, "CLONE_THREAD") &&
					len(parent) < maxProcs {
					parent[child] = pid
					cw.fork(pid, child, seq, call == "clone" && strings.Contains(args, "CLONE_FS"))
				}
				continue
			case "chdir", "fchdir":
				if ret == "0" && errno == "" {
					// "0xADDR path" (chdir's path as given, raw) or
					// "0xFD /dir" (the Sentry's name of the descriptor)
					_, dir, _ := strings.Cut(args, " ")
					cw.chdir(pid, seq, dir, call == "fchdir")
				}
				continue
			case "bind", "listen":
				if ret != "0" || errno != "" {
					continue
				}
				ev, ok := ports.call(pid, call, args)
				if !ok {
					continue
				}
				ev.Source, ev.PID, ev.TimeMS = moat.SourceKernel, pid, stamp(m[1], m[2], start)
				add(ev)
				continue
			case "socket":
				if errno == "" {
					ports.socket(pid, args, ret)
					continue
				}
				if errno != "97" { // EAFNOSUPPORT: a family the Sentry lacks
					continue
				}
				fam, _, _ := strings.Cut(args, ",")
				if n, err := strconv.ParseUint(strings.TrimPrefix(fam, "0x"), 16, 32); err == nil && strings.HasPrefix(fam, "0x") {
					fam = seccomp.FamilyName(uint32(n))
				}
				ev.Kind, ev.Name = moat.KindSocket, audit.Clean(fam, 40)
				ev.Detail = audit.Clean("socket("+args+") returned EAFNOSUPPORT", 300)
			default:
				continue
			}
		} else {
			args := strings.TrimSuffix(strings.TrimRight(rest, " "), ")")
			switch call {
			case "connect":
				ev.Kind = moat.KindConnect
				if a := bindAddr().FindStringSubmatch(args); a != nil {
					ev.Addr = inetHostPort(a[1], a[2], a[3])
				} else if a := unixAddr().FindStringSubmatch(args); a != nil {
					p, err := strconv.Unquote(a[1])
					if err != nil {
						p = a[1]
					}
					ev.Path = audit.Clean(p, 200)
				} else {
					continue // AF_UNSPEC (disconnect) or no address
				}
			case "execve", "execveat":
				if o.Init {
					o.Init = false
					continue
				}
				ev.Kind = moat.KindExec
				if failed[seq] {
					ev.Kind = moat.KindExecFailed
				}
				var p, dir string
				at := false
				if call == "execveat" {
					if a := execAt().FindStringSubmatchIndex(args); a != nil {
						at, dir, p = true, args[a[2]:a[3]], args[a[4]:a[5]]
						flags, _ := strconv.ParseUint(args[a[8]:a[9]], 16, 64)
						ev.Detail = audit.Clean(argv(args[a[6]:]), 400)
						ev.Data = audit.Clean(loaderEnv(args[a[6]:]), 2000)
						if p == "" && flags&0x1000 != 0 { // AT_EMPTY_PATH: fexecve
							fd, _, _ := strings.Cut(strings.TrimPrefix(args, "0x"), " ")
							n, _ := strconv.ParseUint(fd, 16, 32)
							p = "/proc/self/fd/" + strconv.FormatUint(n, 10)
							ev.Detail = audit.Clean(ev.Detail+" (execveat of descriptor "+strconv.FormatUint(n, 10)+", AT_EMPTY_PATH: "+dir+")", 600)
							dir = ""
						}
					}
				}
				if !at {
					loc := execPath().FindStringSubmatchIndex(args)
					if loc == nil {
						loc = execPathComma().FindStringSubmatchIndex(args)
					}
					if loc == nil {
						add(unreadable(pid, ev.TimeMS, text))
						continue
					}
					p = args[loc[2]:loc[3]]
					ev.Detail = audit.Clean(argv(args[loc[1]:]), 400)
					ev.Data = audit.Clean(loaderEnv(args[loc[1]:]), 2000)
				}
				switch {
				case p == "" || strings.HasPrefix(p, "/"):
				case at && strings.HasPrefix(dir, "/") && !strings.HasSuffix(dir, " (deleted)"):
					p = path.Join(dir, p) // the directory the Sentry named
				case at && !strings.HasPrefix(args, "AT_FDCWD"):
					p = audit.CwdUnnamed + "/" + p // a descriptor of no name
				case o.Cwd != "":
					// from the working directory, once the forks are known
					before := len(evs)
					ev.Path = p
					add(ev)
					if len(evs) > before {
						rel = append(rel, pendingExec{i: before, pid: pid, seq: seq, name: p})
					}
					continue
				}
				ev.Path = audit.CleanPath(p, audit.MaxPath)
				before := len(evs)
				add(ev)
				if len(evs) > before {
					full[before] = p
				}
				continue
			default:
				continue
			}
		}
		add(ev)
	}
	// Relative execs named from the caller's working directory, once
	// every fork is known (a vfork's child may chdir and exec before its
	// parent's return is logged).
	for _, x := range rel {
		p := audit.CwdUnnamed + "/" + x.name
		if d, ok := cw.at(parent, x.pid, x.seq); ok {
			p = path.Join(d, x.name)
		}
		evs[x.i].Path = audit.CleanPath(p, audit.MaxPath)
		full[x.i] = p
	}
	hashed := 0
	for i := range evs {
		if o.Hash != nil && evs[i].Kind == moat.KindExec && hashed < maxHashes && strings.HasPrefix(full[i], "/") {
			hashed++
			h := o.Hash(full[i], evs[i].TimeMS)
			evs[i].SHA256, evs[i].Script = h.SHA256, audit.Clean(h.Script, 300)
			if h.Replaced {
				evs[i].SHA256, evs[i].Script = "", ""
				evs[i].Detail = audit.Clean(evs[i].Detail+" "+Replaced, 600)
			}
			// What ran the script: the interpreter its "#!" names (an
			// absolute name; a relative one is left unhashed), judged as
			// the script was.
			if interp := path.Clean(seccomp.ScriptInterpreter(h.Script)); evs[i].SHA256 != "" && path.IsAbs(interp) && hashed < maxHashes {
				hashed++
				if ih := o.Hash(interp, evs[i].TimeMS); !ih.Replaced {
					evs[i].ScriptSHA256 = ih.SHA256
				}
			}
		}
	}
	// The parents, once every fork is known: a vfork's child may exec
	// before its parent's return is logged.
	for i := range evs {
		var up []string
		for p, n := parent[evs[i].PID], 0; p > 0 && n < maxAncestors; p, n = parent[p], n+1 {
			if n == 0 {
				evs[i].PPID = p
			} else {
				up = append(up, strconv.Itoa(p))
			}
		}
		evs[i].Ancestors = strings.Join(up, ",")
	}
	if ev, n, ok := budget.Event("kernel events of the Sentry's trace"); ok {
		evs, dropped = append(evs, ev), n
	}
	return evs, dropped
}

// CutEvent is the "moat" event of a trace cut at MaxBytes (lines: how
// many lines were not kept past it): everything the program did after
// went unseen, so it is a flood of the kernel side (the report's evasion
// finding); false if nothing was cut.
func CutEvent(lines int) (moat.Event, bool) {
	if lines <= 0 {
		return moat.Event{}, false
	}
	return moat.Event{Source: moat.SourceMoat, Kind: moat.KindEvents, Name: string(moat.SourceKernel),
		Detail: "the Sentry's trace was cut at " + strconv.Itoa(MaxBytes>>20) + " MiB: " + strconv.Itoa(lines) +
			" lines past it not read, so what the program did after went unseen"}, true
}

// sameArgs reports whether an exec's entry and exit print the same
// arguments: the same text, or, where Keep cut both (cutMark), the same
// start and one end a suffix of the other (the exit's is shorter by its
// return).
func sameArgs(entry, exit string) bool {
	if entry == exit {
		return true
	}
	eh, et, ok1 := strings.Cut(entry, cutMark)
	xh, xt, ok2 := strings.Cut(exit, cutMark)
	if !ok1 || !ok2 || strings.Contains(et, cutMark) || strings.Contains(xt, cutMark) {
		return false
	}
	return (strings.HasPrefix(eh, xh) || strings.HasPrefix(xh, eh)) && (strings.HasSuffix(et, xt) || strings.HasSuffix(xt, et))
}

// execOutcomes pairs, in the log data, each exec's entry with its exit on
// the same task ([tgid:tid]), by message number (as Parse counts them):
// failed holds the entries whose exit returned an errno, their arguments
// the same; ran the exits of no such entry that returned none. An entry
// without its exit (the task killed, the log cut) is not in failed: the
// exec counts as run. The program controls what the Sentry prints of a
// path raw, and so can forge a whole message after a newline; what such a
// forgery can do here is bounded so that it hides nothing: an exit
// matches only an entry of the same arguments (the same path, argv and
// envp, and their addresses), and a second exit for one entry, the
// forged one taken first, is then one of no entry, which ran.
func execOutcomes(data []byte) (failed, ran map[int]bool) {
	failed, ran = map[int]bool{}, map[int]bool{}
	type entry struct {
		seq  int
		args string
	}
	open := map[string]entry{} // task -> its exec entry not yet matched
	seq := 0
	for text := range messages(bytes.NewReader(data)) {
		seq++
		m := straceLine().FindStringSubmatch(text)
		if m == nil || (m[7] != "execve" && m[7] != "execveat") {
			continue
		}
		task := m[3] + ":" + m[4]
		rest := m[8]
		if m[6] == "E" {
			if len(open) < maxProcs {
				open[task] = entry{seq, strings.TrimSuffix(strings.TrimRight(rest, " "), ")")}
			}
			continue
		}
		loc := straceRet().FindStringSubmatchIndex(rest)
		if loc == nil {
			continue
		}
		errno := loc[4] >= 0
		e, ok := open[task]
		delete(open, task)
		switch {
		case ok && sameArgs(e.args, rest[:loc[0]]):
			failed[e.seq] = errno
		case !errno:
			ran[seq] = true
		}
	}
	return failed, ran
}

// unreadable is the event of a trace message Parse could not read: kind
// trace, the message (escaped, cut) in its detail.
func unreadable(pid int, ms int64, text string) moat.Event {
	return moat.Event{Source: moat.SourceKernel, Kind: moat.KindTrace, PID: pid, Name: "unreadable", TimeMS: ms,
		Detail: audit.Clean("a line of the Sentry's trace moat could not read (a raw newline in a task name or path?): "+text, 400)}
}

// Bounds of a message of the log joined from several lines.
const (
	maxMessage      = 64 << 10
	maxMessageLines = 1 << 13 // a path of PATH_MAX newlines and a task name of 15
)

// messages yields the messages of the log in r (at most MaxBytes of it):
// each line that starts one, with the lines after it that start none
// joined to it by their newline.
func messages(r io.Reader) iter.Seq[string] {
	return func(yield func(string) bool) {
		sc := bufio.NewScanner(io.LimitReader(r, MaxBytes))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var cur strings.Builder
		lines := 0
		for sc.Scan() {
			l := sc.Text()
			if cur.Len() > 0 && !logHead().MatchString(l) && lines < maxMessageLines && cur.Len()+1+len(l) <= maxMessage {
				cur.WriteByte('\n')
				cur.WriteString(l)
				lines++
				continue
			}
			if cur.Len() > 0 && !yield(cur.String()) {
				return
			}
			cur.Reset()
			lines = 0
			if logHead().MatchString(l) {
				cur.WriteString(l)
			}
		}
		if cur.Len() > 0 {
			yield(cur.String())
		}
	}
}

// Bounds of the process tree kept from the trace.
const (
	maxProcs     = 1 << 16
	maxAncestors = 12
)

// argv decodes the Sentry's quoted argument list ("a", "b"], ...) into
// one line, at most 16 arguments.
func argv(s string) string {
	var parts []string
	for len(parts) < 16 {
		s = strings.TrimLeft(s, ", ")
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			break
		}
		u, err := strconv.Unquote(q)
		if err != nil {
			break
		}
		parts = append(parts, u)
		s = s[len(q):]
	}
	return strings.Join(parts, " ")
}

// loaderEnv reads, from the rest of an exec's trace line after its argv's
// opening bracket ("a", "b"], 0x… ["K=V", ...]), the environment
// variables that make the loader map code into what runs (LD_PRELOAD,
// LD_AUDIT), newline-separated, as seccomp.LoaderEnv does on the
// other backends. An environment the line does not hold to its closing
// bracket (cut by the Sentry or by the reader's line bound) or longer
// than maxEnv gives moat.EnvUnread first: not read is not clean (red
// team, session 19).
func loaderEnv(s string) string {
	quoted := func(s string, f func(string)) (string, bool) {
		for n := 0; n < maxEnv; n++ {
			s = strings.TrimLeft(s, ", ")
			q, err := strconv.QuotedPrefix(s)
			if err != nil {
				return s, true
			}
			if u, err := strconv.Unquote(q); err == nil && f != nil {
				f(u)
			}
			s = s[len(q):]
		}
		return s, false
	}
	s, _ = quoted(s, nil) // argv
	s = strings.TrimPrefix(s, "]")
	_, s, ok := strings.Cut(s, "[")
	if !ok {
		return ""
	}
	var out []string
	rest, whole := quoted(s, func(v string) {
		if strings.HasPrefix(v, "LD_PRELOAD=") || strings.HasPrefix(v, "LD_AUDIT=") {
			out = append(out, v)
		}
	})
	if !whole || !strings.HasPrefix(rest, "]") {
		out = append([]string{moat.EnvUnread}, out...)
	}
	return strings.Join(out, "\n")
}

// maxEnv bounds the environment variables loaderEnv looks at.
const maxEnv = 8192

// stamp converts the log's "MMDD hh:mm:ss.micro" (host local time) to
// milliseconds since start, never negative.
func stamp(mmdd, clock string, start time.Time) int64 {
	t, ok := logTime(mmdd, clock, start)
	if !ok {
		return 0
	}
	return max(0, t.Sub(start).Milliseconds())
}

// logTime is the log's "MMDD hh:mm:ss.micro" (host local time) as a time,
// in the year of ref (a time near it) or the next.
func logTime(mmdd, clock string, ref time.Time) (time.Time, bool) {
	t, err := time.ParseInLocation("0102 15:04:05.000000", mmdd+" "+clock, ref.Location())
	if err != nil {
		return time.Time{}, false
	}
	t = t.AddDate(ref.Year(), 0, 0)
	if t.Before(ref.AddDate(0, -6, 0)) { // the run crossed a new year
		t = t.AddDate(1, 0, 0)
	}
	return t, true
}

// lazyRE compiles a pattern on first use, not when moat starts: every moat
// process, the native sandbox's init too, would pay for it otherwise.
func lazyRE(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// Keep copies to kept the lines of r that the report reads, up to
// MaxBytes (then counts them in cut), and reads r to its end
// whatever it holds: a line longer than the reader's buffer is skipped,
// but for the start of a trace line. It is KeepWithin with no budget.
func Keep(r io.Reader, kept *bytes.Buffer, cut *int) { KeepWithin(r, kept, cut, nil) }

// KeepWithin is Keep with the trace's execs and connects judged as they
// are read, each within b (kbudget.Budget, as Parse judges them
// again): an exec's entry is held until its exit says whether it ran,
// then both lines are kept or counted in b; a connect's entry is kept or
// counted, its exit (which Parse does not read) never kept. So a flood of
// them (failing execs of long argv, distinct commands, connects to
// distinct hosts) costs b's counts, not the bound, and cannot push what
// follows past MaxBytes; b's Event is the flood's. With b nil every
// trace line is kept, within MaxBytes.
func KeepWithin(r io.Reader, kept *bytes.Buffer, cut *int, b *kbudget.Budget) {
	KeepWatching(r, kept, cut, b, Watch{})
}

// KeepWatching is KeepWithin with w told of each exec that ran (with a
// budget: an exec's entry and exit are read together only then).
func KeepWatching(r io.Reader, kept *bytes.Buffer, cut *int, b *kbudget.Budget, w Watch) {
	br := bufio.NewReaderSize(r, 64<<10)
	long := false
	more := false         // the last line kept was of the trace: its message may go on
	var head, tail []byte // of a long trace line (trace: it is one)
	trace := false
	keep := func(line []byte) {
		if kept.Len()+len(line) > MaxBytes {
			*cut++
		} else {
			kept.Write(line)
		}
	}
	j := judge{b: b, keep: keep, held: map[string][]byte{}, w: w}
	if w.Cwd != "" {
		j.dirs = []string{w.Cwd}
	}
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			if !long {
				trace = bytes.Contains(line, []byte(" strace.go:"))
				head = append(head[:0], line[:min(len(line), keepHead)]...)
				tail = tail[:0]
			}
			if trace {
				tail = lastBytes(append(tail, line...), keepTail)
			}
			long, more = true, false
			continue
		case long:
			long = false // the end of a long line
			if trace {
				j.line(cutLine(head, lastBytes(append(tail, line...), keepTail)))
			}
		case len(line) > 0 && bytes.Contains(line, []byte(" strace.go:")):
			j.line(cutLine(line, nil))
			more = true
		case len(line) > 0 && bytes.HasSuffix(bytes.TrimRight(line, "\n"), []byte(DeniedSuffix)):
			j.flushLast()
			keep(line)
			more = false
		case len(line) > 0 && more && !logHead().Match(line):
			j.next(cutLine(line, nil)) // a trace message's next line (a raw newline in a name or path)
		default:
			j.flushLast()
			more = false
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			j.flush()
			return
		}
	}
}

// Hashed is what Options.Hash says of the file an exec ran.
type Hashed struct {
	// SHA256 is its hash, "" where it could not be had; Script its "#!"
	// line (seccomp.ScriptLine), read with it.
	SHA256, Script string
	// Replaced says the file was changed right after the exec (Watch),
	// so its hash is not what ran: the event gets none, and says so.
	Replaced bool
}

// Replaced ends the detail of an exec event whose file was changed
// right after the exec, before moat read it (Options.Hash).
const Replaced = "[the file was replaced right after this exec: what ran is not known]"

// Watch, given to KeepWithin, is told of each exec the trace says ran,
// as its exit is read (while the program runs): msg is the exec's entry
// and exit, for Parse with each of dirs as the working directory (the
// directory the first process starts in, and every absolute one a
// successful chdir or fchdir named, at most maxWatchDirs), at the time the
// exit was logged. So the file an exec ran can be read before the program
// changes it (gVisor direct: a dropped binary run, then the interpreter
// renamed over it), and a change after at seen.
type Watch struct {
	Cwd string
	Ran func(msg []byte, at time.Time, dirs []string)
}

// maxWatchDirs bounds the working directories a Watch is given.
const maxWatchDirs = 16

// KeptWhat names, in the event of a kbudget.Budget given to KeepWithin
// (its Event), the events it counted.
const KeptWhat = "execs and connects of the Sentry's trace, judged as it was written"

// judge holds each task's exec entry until its exit, and judges execs
// and connects within b (KeepWithin).
type judge struct {
	b    *kbudget.Budget
	keep func([]byte)
	held map[string][]byte // task ("tgid:tid") → its exec entry's lines
	// last is the message the next line (a raw newline's) goes on: a
	// held entry's task, or "" where that message is kept already (or
	// judged: then drop says whether it was not kept).
	last  string
	drop  bool
	w     Watch
	dirs  []string // Watch's: the working directories seen
	ports int      // inet binds' returns kept
}

// maxPortLines bounds the inet binds' returns a judge keeps.
const maxPortLines = 4096

// maxHeld bounds the exec entries held at once: past it, an entry is kept
// at once (judged by Parse alone).
const maxHeld = 64

// line takes one trace line (cut to keepHead+keepTail).
func (j *judge) line(l []byte) {
	j.flushLast()
	j.last, j.drop = "", false
	if j.b == nil {
		j.keep(l)
		return
	}
	m := straceLine().FindSubmatch(bytes.TrimRight(l, "\n"))
	if m == nil {
		j.keep(l) // Parse's to read (an unreadable message is an event)
		return
	}
	task, exit, call := string(m[3])+":"+string(m[4]), string(m[6]) == "X", string(m[7])
	if j.w.Ran != nil && exit && (call == "chdir" || call == "fchdir") {
		j.chdir(m[8])
	}
	switch {
	case (call == "bind" || call == "listen") && !exit:
		return // Parse reads binds and listens from their returns
	case call == "listen":
		// kept, as a socket's return is: each is a port opened or, of a
		// Unix socket, as cheap for the program as a socket
	case call == "bind":
		// A Unix or netlink socket's bind is no port, and an inet
		// bind is kept for its listen: at most maxPortLines of them
		// (past it a listen is on every address, failing closed), so a
		// loop of binds cannot push what follows past MaxBytes.
		if bytes.Contains(m[8], []byte("{Family: AF_INET")) && j.ports < maxPortLines {
			j.ports++
			j.keep(l)
		}
		return
	case call == "connect" && exit:
		return // Parse reads connects from their entries
	case call == "connect":
		if ev, ok := oneEvent(l); ok && !j.b.Keep(ev) {
			j.drop = true
			return
		}
	case (call == "execve" || call == "execveat") && !exit:
		if len(j.held) < maxHeld {
			if old, ok := j.held[task]; ok {
				j.keep(old) // an entry with no exit: Parse's to read
			}
			j.held[task] = append([]byte(nil), l...)
			j.last = task
			return
		}
	case call == "execve" || call == "execveat":
		entry, ok := j.held[task]
		if !ok {
			break
		}
		delete(j.held, task)
		pair := append(entry, l...)
		ev, ok := oneEvent(pair)
		if ok && !j.b.Keep(ev) {
			j.drop = true
			return
		}
		j.keep(pair)
		if at, tok := logTime(string(m[1]), string(m[2]), time.Now()); ok && tok && ev.Kind == moat.KindExec && j.w.Ran != nil {
			j.w.Ran(pair, at, j.dirs)
		}
		return
	}
	j.keep(l)
}

// chdir notes the directory of a successful chdir or fchdir's exit
// (rest: its arguments and return) for Watch.
func (j *judge) chdir(rest []byte) {
	loc := straceRet().FindSubmatchIndex(rest)
	if loc == nil || string(rest[loc[2]:loc[3]]) != "0" || loc[4] >= 0 || len(j.dirs) >= maxWatchDirs {
		return
	}
	_, dir, _ := strings.Cut(string(rest[:loc[0]]), " ")
	if !strings.HasPrefix(dir, "/") || strings.HasSuffix(dir, " (deleted)") || slices.Contains(j.dirs, path.Clean(dir)) {
		return
	}
	j.dirs = append(j.dirs, path.Clean(dir))
}

// next takes a line that goes on the last trace message.
func (j *judge) next(l []byte) {
	switch {
	case j.last != "":
		if h := j.held[j.last]; len(h)+len(l) <= maxMessage {
			j.held[j.last] = append(h, l...)
		}
	case !j.drop:
		j.keep(l)
	}
}

// flushLast: the last message ended (a line of another kind).
func (j *judge) flushLast() { j.last, j.drop = "", false }

// flush keeps the entries still held at the log's end (a task that died
// in its exec), for Parse to read.
func (j *judge) flush() {
	for _, task := range slices.Sorted(maps.Keys(j.held)) {
		j.keep(j.held[task])
	}
	clear(j.held)
}

// oneEvent is the event Parse makes of one message (an exec's entry and
// exit, a connect's entry); false if it makes none.
func oneEvent(msg []byte) (moat.Event, bool) {
	evs, _ := Parse(bytes.NewReader(msg), time.Time{}, 0, Options{})
	for _, ev := range evs {
		if ev.Source == moat.SourceKernel {
			return ev, true
		}
	}
	return moat.Event{}, false
}

// What Keep keeps of a trace line longer than keepHead+keepTail (an
// exec's long argv or environment): its start, which names the task, the
// call and the path (at most PATH_MAX), then cutMark, then its end, which
// holds an exit's return and errno. A flood of such lines costs the bound
// this much a line, not the line.
const (
	keepHead = 8 << 10
	keepTail = 512
	// cutMark joins the two: a NUL, which no line of the log holds (the
	// Sentry quotes arguments; a path and a task name are C strings).
	cutMark = "\x00"
)

// cutLine returns line cut to its start and end (cutMark between) if it
// is longer than keepHead+keepTail, ending in a newline; with end set,
// line is the start of a line already cut and end its last bytes.
func cutLine(line, end []byte) []byte {
	if end == nil {
		if len(line) <= keepHead+keepTail {
			return line
		}
		end = line[len(line)-keepTail:]
		line = line[:keepHead]
	}
	out := make([]byte, 0, len(line)+len(cutMark)+len(end)+1)
	out = append(append(append(out, line...), cutMark...), end...)
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	return out
}

// lastBytes returns the last n bytes of b, in b's own array.
func lastBytes(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	return append(b[:0], b[len(b)-n:]...)
}

// maxHashes bounds the exec events hashed (Options.Hash).
const maxHashes = 256

// pendingExec is an exec event (evs[i]) of a relative name, named from
// the working directory of pid at message seq once the log is read.
type pendingExec struct {
	i, pid, seq int
	name        string
}

// cwds follows the working directories of the sandbox's processes
// through the trace: each chdir or fchdir that returned 0, in the order
// of the log, kept for the group of processes sharing it (a process, and
// the children it cloned with CLONE_FS); a process's start is its
// parent's directory at the fork. Everything is the program's doing,
// so it is bounded: past maxChdirs, or deeper or longer than the bounds
// below, a directory is unknown (the exec unnamed), never guessed.
type cwds struct {
	root  string
	all   bool              // root is every process's, not pid 1's alone
	group map[int]int       // pid -> the pid whose directory it shares (CLONE_FS)
	forkS map[int]int       // child -> the message of its parent's clone return
	sets  map[int][]*cwdSet // group -> its changes, in order
	n     int
	lost  int // the message past which changes were no longer kept (0: none lost)
}

// cwdSet is one change of directory: dir as the call named it (a
// relative chdir from the directory before), resolved once.
type cwdSet struct {
	seq, pid int
	dir      string
	abs      bool
	done, ok bool
	whole    string
}

// Bounds of the directories followed.
const (
	maxChdirs = 1 << 16
	maxCwd    = 64 << 10
	maxDepth  = 1 << 14
)

func newCwds(root string) *cwds {
	return &cwds{root: root, group: map[int]int{}, forkS: map[int]int{}, sets: map[int][]*cwdSet{}}
}

func (c *cwds) of(pid int) int {
	if g, ok := c.group[pid]; ok {
		return g
	}
	return pid
}

func (c *cwds) fork(parent, child, seq int, shareFS bool) {
	c.forkS[child] = seq
	if shareFS {
		c.group[child] = c.of(parent)
	}
}

// chdir records a successful change of pid's directory to dir (fd: the
// Sentry's name of fchdir's descriptor, absolute, or not a directory's
// name at all).
func (c *cwds) chdir(pid, seq int, dir string, fd bool) {
	if c.lost > 0 {
		return
	}
	if c.n++; c.n > maxChdirs {
		c.lost = seq
		return
	}
	set := &cwdSet{seq: seq, pid: pid, dir: dir, abs: strings.HasPrefix(dir, "/")}
	if fd && (!set.abs || strings.HasSuffix(dir, " (deleted)")) {
		set.done = true // a descriptor of no name: unknown from here
	}
	g := c.of(pid)
	c.sets[g] = append(c.sets[g], set)
}

// at returns pid's working directory at message seq (parent: the
// process tree), or false where it is not known.
func (c *cwds) at(parent map[int]int, pid, seq int) (string, bool) {
	return c.atDepth(parent, pid, seq, 0)
}

func (c *cwds) atDepth(parent map[int]int, pid, seq, depth int) (string, bool) {
	if c.lost > 0 && seq > c.lost || depth > maxDepth {
		return "", false
	}
	g := c.of(pid)
	sets := c.sets[g]
	for i := len(sets) - 1; i >= 0; i-- {
		s := sets[i]
		if s.seq >= seq {
			continue
		}
		if !s.done {
			s.done = true
			if s.abs {
				s.whole, s.ok = path.Clean(s.dir), true
			} else if d, ok := c.atDepth(parent, s.pid, s.seq, depth+1); ok {
				s.whole, s.ok = path.Join(d, s.dir), true
			}
			if len(s.whole) > maxCwd {
				s.whole, s.ok = "", false
			}
		}
		return s.whole, s.ok
	}
	if p, ok := parent[g]; ok {
		return c.atDepth(parent, p, c.forkS[g], depth+1)
	}
	if (g == 1 || c.all) && c.root != "" {
		return c.root, true
	}
	return "", false
}

// inetHostPort is an inet address of the trace as host:port. The Sentry
// names the unspecified address (0.0.0.0, ::) with an empty host, as
// netstack keeps it: a bind there is to every address, and a connect
// there reaches this machine (a getaddrinfo of a passive or empty host
// connects a datagram socket to its answer to sort them, waitress's
// suite). Without a host, the address was ":8080", which no rule knows
// as this machine's (a medium connect and a high "seen by the kernel
// alone" on gVisor, session 24).
func inetHostPort(family, host, port string) string {
	switch {
	case host == "" && family == "AF_INET6":
		host = "::"
	case host == "":
		host = "0.0.0.0"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return audit.Clean(host+":"+port, 300)
}
