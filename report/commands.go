package report

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
)

// Every command the program ran is judged by its command line, each one:
// none is deduplicated away. A command line is what the kernel read from
// the caller's argv (native), or what the audit hook reported where the
// kernel saw no exec of it.

// maxListed bounds the command lines named in one finding's summary; the
// rest are counted.
const maxListed = 6

// maxCommands bounds the command lines judged in one phase.
const maxCommands = 2000

// cmdRule is one thing a command line can give away.
type cmdRule struct {
	cat  moat.Category
	sev  moat.Severity
	what string
	re   *lazyre.Regexp
}

// shellName matches a shell as the last word of a pipe.
const shellName = `(?:\S*/)?(?:ba|da|z|k|c|tc|fi|a|mk)?sh\b`

var cmdRules = []cmdRule{
	{moat.CategoryExecution, moat.SeverityCritical, "opened a reverse shell over /dev/tcp or /dev/udp",
		lazyre.New(`/dev/(?:tcp|udp)/`)},
	{moat.CategoryExecution, moat.SeverityCritical, "wired a socket to a shell",
		lazyre.New(`(?i)\b(?:nc|ncat|netcat)\b[^|;&]*\s-[a-z]*[ec]\b|\bsocat\b.*\bexec:|mkfifo\b.*\b(?:nc|ncat|netcat)\b|(?s)\bsocket\b.*\bdup2\b.*(?:pty\.spawn|/bin/(?:ba)?sh|subprocess)`)},
	{moat.CategoryExecution, moat.SeverityCritical, "piped a download into a shell or interpreter",
		lazyre.New(`\b(?:curl|wget|fetch)\b[^;&]*\|\s*(?:sudo\s+)?(?:` + shellName + `|(?:\S*/)?python[0-9.]*|(?:\S*/)?perl)`)},
	{moat.CategoryExecution, moat.SeverityHigh, "decoded a hidden command and ran it",
		lazyre.New(`\b(?:base64|base32|xxd)\b[^|]*(?:\s-d|\s--decode|\s-r)\b[^|]*\|\s*(?:sudo\s+)?(?:` + shellName + `|(?:\S*/)?python[0-9.]*)`)},
	// A download made executable and run, in one command line (a
	// dropper's one-liner: wget URL && chmod +x F && ./F, behind sudo,
	// nohup or timeout): the intent is on the line even when the chain
	// stops before the download (secretslib-0.1.0's first step, sudo apt
	// install of its tools, fails where there is no sudo or no root). Run
	// to its end, the stand-in the sink serves makes it critical too
	// (stage2).
	{moat.CategoryExecution, moat.SeverityHigh, "downloaded a program, made it executable and ran it (its command line)",
		lazyre.New(`\b(?:curl|wget)\b[^|]*?(?:&&|;)[^|]*?\bchmod\s+(?:-\S+\s+)*(?:[ugoa]*\+[rwx]*x[rwx]*|[0-7]*[1357][0-7]{0,2})\s+\S+[^|]*?(?:&&|;)\s*` +
			`(?:(?:sudo|nohup|setsid|exec)\s+|timeout\s+(?:-\S+\s+(?:\S+\s+)?)*\S+\s+)*(?:(?:\.{1,2}/|/|~/)\S|` + shellName + `\s+\S)`)},
	{moat.CategoryCredentialAccess, moat.SeverityHigh, "reached for the cloud metadata service",
		lazyre.New(`169\.254\.169\.254|(?i)metadata\.google\.internal|fd00:ec2::254|100\.100\.100\.200|169\.254\.170\.2`)},
	{moat.CategoryCredentialAccess, moat.SeverityHigh, "named a credential file",
		lazyre.New(`\.aws/credentials|\.aws/config|/etc/shadow|/etc/gshadow|\.ssh/id_|\.kube/config|\.git-credentials|\.netrc\b|` +
			`\.docker/config\.json|\.config/gcloud|\.azure/|\.npmrc|\.pypirc|\.gnupg/|_history\b|\.config/filezilla|\.electrum|` +
			`\btdata\b|\.mozilla/firefox|Login Data|/var/run/secrets/kubernetes\.io|\.vault-token`)},
	// A crontab counts when it is installed: crontab run as a command
	// (not -l, which lists it, nor -r), or a file written, copied or
	// linked into a cron directory. Reading one (`cat /etc/crontab`,
	// karma-jasmine-sinon's recon) installs nothing.
	{moat.CategoryPersistence, moat.SeverityHigh, "installed something that runs later",
		lazyre.New(`(?:^|[|;&(]\s*|\bsudo\s+|\s-c\s+['"]?)(?:\S*/)?crontab(?:\s+-u\s+\S+)?(?:\s*$|\s*[|;&)'"]|\s+-(?:$|[\s|;&)'"]|e\b)|\s+[^-\s])|` +
			`(?:>>?\s*|\btee\s+(?:-a\s+)?)\S*/cron|\b(?:cp|mv|install|ln)\s[^|;&]*/cron|\bsystemctl\b[^|;&]*\benable\b|authorized_keys|>>?\s*\S*\.(?:bashrc|profile|zshrc|bash_profile)\b|\.config/autostart`)},
}

// pipProbes are the command lines pip itself runs while it installs (its
// vendored distro and platform modules), on any package: moat's test
// harness, not the package. What such a probe starts is the probe's.
var pipProbes = map[string]bool{"lsb_release -a": true, "uname -rs": true, "uname -p": true, "uname -m": true, "uname -s": true}

// ownSet is the pids of pip's probes and of what they started: a probe
// counts only when it ran a system file, never one the run could have put
// first on PATH.
func (a *analysis) ownSet() map[int]bool {
	if a.own != nil {
		return a.own
	}
	a.own = map[int]bool{}
	for _, e := range a.evs {
		if e.Kind != moat.KindExec || e.Source != moat.SourceKernel {
			continue
		}
		if (pipProbes[e.Detail] && !writable(e.Path)) || a.ownAncestor(e) {
			a.own[e.PID] = true
		}
	}
	return a.own
}

// ownAncestor: a process above e (its parent, or the subshell's parent
// that forked without exec) is one of pip's probes.
func (a *analysis) ownAncestor(e moat.Event) bool {
	for _, p := range ancestors(e, maxAncestorsJudged) {
		if a.own[p] {
			return true
		}
	}
	return false
}

// ancestors lists e's parent and the pids above it, nearest first, at
// most n.
func ancestors(e moat.Event, n int) []int {
	var out []int
	if e.PPID != 0 {
		out = append(out, e.PPID)
	}
	for _, f := range strings.Split(e.Ancestors, ",") {
		if len(out) >= n {
			break
		}
		if p, err := strconv.Atoi(f); err == nil && p > 1 {
			out = append(out, p)
		}
	}
	return out
}

// maxAncestorsJudged: how far up a probe or a connection is looked for
// (a probe's shell script forks subshells that run cut and tr).
const maxAncestorsJudged = 4

// isOwn reports whether exec event e is moat's or pip's, not the
// program's: a "moat" event (moat's launcher), pip's probes and their
// children, and the audit hook's report of either.
func (a *analysis) isOwn(e moat.Event) bool {
	switch e.Source {
	case moat.SourceMoat:
		return true
	case moat.SourceKernel:
		return a.ownSet()[e.PID] && ((pipProbes[e.Detail] && !writable(e.Path)) || a.ownAncestor(e))
	case moat.SourceAudit:
		if pipProbes[e.Detail] {
			return true
		}
		for _, m := range a.evs {
			if m.Source == moat.SourceMoat && m.Kind == moat.KindExec && m.PID == e.PID &&
				strings.HasSuffix(m.Detail, argsOf(e.Detail)) {
				return true
			}
		}
	}
	return false
}

// argsOf is a command line without its first word (argv[0] is spelled
// differently by the kernel and the hook).
func argsOf(cmd string) string {
	if i := strings.IndexByte(cmd, ' '); i >= 0 {
		return cmd[i:]
	}
	return ""
}

// commandEvents returns the exec events whose command lines are the
// program's: every kernel one, and every audit one that no kernel event
// shows (the same pid and arguments).
func (a *analysis) commandEvents() []moat.Event {
	var out []moat.Event
	for i, e := range a.evs {
		if e.Kind == moat.KindExecFailed && e.Source == moat.SourceKernel && !a.retried(i) && !a.isOwn(e) {
			out = append(out, e) // an attempt that failed is still the intent
			continue
		}
		if e.Kind != moat.KindExec || (e.Source != moat.SourceKernel && e.Source != moat.SourceAudit) || a.isOwn(e) || a.failedExec(e) || ranAfter(e) {
			continue
		}
		if e.Source == moat.SourceAudit && a.kernelCommand(e) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// retried: the failed exec i was followed by the same process trying the
// same command elsewhere (execvp's search of PATH).
func (a *analysis) retried(i int) bool {
	k := a.evs[i]
	for _, e := range a.evs[i+1:] {
		if e.Source == moat.SourceKernel && (e.Kind == moat.KindExec || e.Kind == moat.KindExecFailed) && e.PID == k.PID &&
			path.Base(e.Path) == path.Base(k.Path) && e.Detail == k.Detail {
			return true
		}
	}
	return false
}

// failedExec: e is the audit hook's report of an exec that the kernel saw
// fail (the file did not exist or could not run).
func (a *analysis) failedExec(e moat.Event) bool {
	if e.Source != moat.SourceAudit {
		return false
	}
	if a.failed == nil {
		a.failed = map[string]bool{}
		for _, k := range a.evs {
			if k.Source == moat.SourceKernel && k.Kind == moat.KindExecFailed {
				a.failed[k.Path] = true
			}
			// failing execs over their reserve: counted, not kept
			if k.Source == moat.SourceMoat && k.Kind == moat.KindEvents && strings.Contains(k.Detail, string(moat.KindExecFailed)) {
				a.failed[""] = true
			}
		}
	}
	return (a.failed[e.Path] || a.failed[""]) && !a.kernelSaw(moat.KindExec, path.Base(e.Path))
}

func (a *analysis) kernelCommand(e moat.Event) bool {
	args := argsOf(e.Detail)
	for _, k := range a.evs {
		if k.Source == moat.SourceKernel && k.Kind == moat.KindExec && path.Base(k.Path) == path.Base(e.Path) &&
			argsOf(k.Detail) == args {
			return true
		}
	}
	return false
}

// commands judges every command line (cmdRules, shells wired to sockets),
// one finding per rule naming every command that broke it, and lists the
// shell commands that broke none at low severity.
func (a *analysis) commands() {
	cmds := a.commandEvents()
	if len(cmds) > maxCommands {
		cmds = cmds[:maxCommands] // bounded; the kernel's own reserves bound them first
	}
	byRule := make([][]moat.Event, len(cmdRules))
	judged := map[int]bool{}
	for i, e := range cmds {
		line := e.Detail
		if line == "" {
			line = e.Path
		}
		for r, rule := range cmdRules {
			if rule.re.MatchString(line) {
				byRule[r] = append(byRule[r], e)
				judged[i] = true
			}
		}
	}
	for r, evs := range byRule {
		if len(evs) > 0 {
			a.add(cmdRules[r].cat, cmdRules[r].sev, cmdRules[r].what+": "+listCommands(evs), evs)
		}
	}
	a.runtimeInstalls(cmds)
	var reverse, bind, fed, interactive, stdin, plain, tried []moat.Event
	var notes, bindNotes, fedNotes, triedNotes []string
	for i, e := range cmds {
		if !shells[path.Base(e.Path)] && e.Kind == moat.KindExecFailed && e.Stdio != "" {
			// A reverse shell that failed to start: the program put a
			// socket on the new program's stdio, and the exec failed
			// (reqwestss-0.1.0 runs str(b'/bin/bash'), "b'/bin/bash'",
			// a file that does not exist). The intent is the kernel's
			// to see; no shell ran.
			tried = append(tried, e)
			triedNotes = append(triedNotes, fmt.Sprintf("%s with %s (pid %d)", e.Path, stdioNote(e.Stdio), e.PID))
			continue
		}
		if l, ok := a.bindShell(e); ok {
			// Its stdio a socket, or reading its commands from stdin,
			// after its process or a parent opened a port: the
			// accepted connection, a bind shell.
			bind = append(bind, l, e)
			bindNotes = append(bindNotes, fmt.Sprintf("listened on %s, then started %s with %s (pid %d, parent %d)",
				listenAddr(l), e.Path, stdioNote(e.Stdio), e.PID, e.PPID))
			continue
		}
		if !shells[path.Base(e.Path)] {
			if a.interpreterShell(e) {
				c := a.firstPlain(a.connectsBefore(e))
				reverse = append(reverse, c, e)
				notes = append(notes, fmt.Sprintf("connected to %s, then started %s reading its code from %s (pid %d, parent %d)",
					c.Addr, e.Path, firstNonEmpty(stdioNote(e.Stdio), "stdin"), e.PID, e.PPID))
			}
			continue
		}
		args := strings.Fields(argsOf(e.Detail))
		conns := a.connectsBefore(e)
		switch {
		case e.Stdio != "":
			reverse = append(reverse, e)
			notes = append(notes, fmt.Sprintf("%s with fds %s on a socket", e.Path, e.Stdio))
		case !hasScript(args) && len(conns) > 0 && !a.downloads(conns):
			c := a.firstPlain(conns)
			reverse = append(reverse, c, e)
			notes = append(notes, fmt.Sprintf("connected to %s, then started %s (pid %d, parent %d)", c.Addr, e.Path, e.PID, e.PPID))
		case !hasScript(args) && len(conns) > 0:
			fed = append(fed, conns[0], e)
			fedNotes = append(fedNotes, fmt.Sprintf("downloaded %s, then started %s reading stdin (pid %d, parent %d)", a.sinkRequest(conns[0]), e.Path, e.PID, e.PPID))
		case slices.Contains(args, "-i") || slices.Contains(args, "-il") || slices.Contains(args, "-li"):
			interactive = append(interactive, e)
		case !judged[i] && !hasScript(args):
			stdin = append(stdin, e)
		case !judged[i]:
			plain = append(plain, e)
		}
	}
	if len(reverse) > 0 {
		a.add(moat.CategoryExecution, moat.SeverityCritical, "reverse shell: "+joinBounded(uniq(notes), 3), reverse)
	}
	if len(bind) > 0 {
		a.add(moat.CategoryExecution, moat.SeverityCritical, "bind shell: "+joinBounded(uniq(bindNotes), 3), bind)
	}
	if len(fed) > 0 {
		a.add(moat.CategoryExecution, moat.SeverityCritical, "fed a download to a shell: "+joinBounded(uniq(fedNotes), 3), fed)
	}
	if len(tried) > 0 {
		a.add(moat.CategoryExecution, moat.SeverityHigh, "tried to start a program with its stdio on a socket, a reverse shell that failed to start (the exec failed): "+joinBounded(uniq(triedNotes), 3), tried)
	}
	if len(interactive) > 0 {
		a.add(moat.CategoryExecution, moat.SeverityHigh, "started an interactive shell: "+listCommands(interactive), interactive)
	}
	if len(stdin) > 0 {
		a.add(moat.CategoryExecution, moat.SeverityMedium, "started a shell that reads its commands from stdin: "+listCommands(stdin), stdin)
	}
	if len(plain) > 0 {
		a.add(moat.CategoryExecution, moat.SeverityLow, "ran shell commands: "+listCommands(plain), plain)
	}
}

// scriptInterpreters: interpreters other than a shell that a reverse
// shell can be made of (python -i on the socket, perl's and ruby's
// one-liners' shape), beside Python under any name (isPython, or the
// runtime's own interpreter file).
var scriptInterpreters = map[string]bool{"perl": true, "ruby": true, "irb": true, "node": true, "nodejs": true,
	"php": true, "lua": true, "tclsh": true, "wish": true, "expect": true}

// interpreterShell: e runs an interpreter, not a shell, that reads its
// code from a socket or its stdin (its stdio a socket, or no script: -i,
// no argument, "-", python's -m code or code.interact) after its process
// or its parent made a connection that carried no HTTP request (red team,
// session 18: `python -i` and `code.interact()` with their stdio on the
// connection were a medium network finding only, where sh was critical).
func (a *analysis) interpreterShell(e moat.Event) bool {
	base := path.Base(e.Path)
	if !isPython(base) && !scriptInterpreters[strings.TrimRight(base, "0123456789.")] && !a.interpreter(e) {
		return false
	}
	conns := a.connectsBefore(e)
	if len(conns) == 0 || a.downloads(conns) {
		return false
	}
	if e.Stdio != "" {
		return true
	}
	line := argsOf(e.Detail)
	args := strings.Fields(line)
	return !hasScript(args) || slices.Contains(args, "-i") || slices.Contains(args, "-") ||
		strings.Contains(line, "-m code") || strings.Contains(line, "code.interact") || strings.Contains(line, "InteractiveConsole")
}

// bindShell: e, an exec, runs a shell or an interpreter on the
// connection a port its process or a parent opened accepted: its stdio a
// socket after any port opened; or, where no witness names its stdio
// (gVisor's trace), reading its commands from stdin (no script, or as
// interpreterShell reads it) after a port opened on an address other
// than loopback, on a port named or not seen bound. l is that port's
// event (lastListen).
func (a *analysis) bindShell(e moat.Event) (l moat.Event, ok bool) {
	if e.Kind != moat.KindExec || !a.shellLike(e) {
		return l, false
	}
	ls := a.listensBefore(e)
	if e.Stdio == "" {
		// Reading stdin, not a socket: a port on loopback, or one the
		// kernel chose (port 0 bound: a caller must learn it from the
		// program, as of a suite's server on "::", listeners' low), is
		// no bind shell's; a suite pipes code to a child interpreter
		// beside such a server (benign/server_stdin.py). A shell with
		// its stdio on the accepted socket is one on any port (above).
		ls = slices.DeleteFunc(ls, func(l moat.Event) bool { return !exposed(l.Addr) || l.Addr != "" && port(l.Addr) == 0 })
		line := argsOf(e.Detail)
		args := strings.Fields(line)
		stdin := !hasScript(args) || slices.Contains(args, "-i") || slices.Contains(args, "-") ||
			strings.Contains(line, "-m code") || strings.Contains(line, "code.interact")
		if !stdin {
			return l, false
		}
	}
	if len(ls) == 0 {
		return l, false
	}
	return lastListen(ls), true
}

// shellLike: e runs a shell or an interpreter that a shell on a socket
// can be made of (interpreterShell's).
func (a *analysis) shellLike(e moat.Event) bool {
	base := path.Base(e.Path)
	return shells[base] || isPython(base) || scriptInterpreters[strings.TrimRight(base, "0123456789.")] || a.interpreter(e)
}

// stdioNote names a process's stdio on a socket ("fds 0,1,2 on a socket").
func stdioNote(stdio string) string {
	if stdio == "" {
		return ""
	}
	return "fds " + stdio + " on a socket"
}

// hasScript: a shell's arguments name a command (-c) or a script file.
func hasScript(args []string) bool {
	for _, a := range args {
		if a == "-c" || !strings.HasPrefix(a, "-") {
			return true
		}
	}
	return false
}

// connectsBefore lists the connections e's process, or its parent, tried
// to non-loopback addresses before e ran (at most maxConnectsJudged). For
// a shell with no command or script to run, its stdio is then likely one
// of them (a pty between them included, as pty.spawn makes), or what one
// of them downloaded (a script piped into sh).
func (a *analysis) connectsBefore(e moat.Event) []moat.Event {
	var out []moat.Event
	for _, c := range a.evs {
		if c.TimeMS > e.TimeMS || len(out) >= maxConnectsJudged {
			break
		}
		if c.Kind != moat.KindConnect || c.Addr == "" || loopback(c.Addr) || port(c.Addr) == 53 {
			continue
		}
		if c.PID == e.PID || slices.Contains(ancestors(e, 2), c.PID) {
			out = append(out, c)
		}
	}
	return out
}

// maxConnectsJudged bounds the connections looked at for one shell.
const maxConnectsJudged = 64

// downloads reports whether every one of conns was a download: the
// network sink (the program cannot forge its events) answered an HTTP
// request on a connection to that address. A shell started with no script
// after downloads alone was fed what they fetched (the stage2_chain and
// pymafka shape); one connection that carried no request is a channel a
// shell can be wired to: a reverse shell. Both are critical, so a reverse
// shell that makes a download first to look like a dropper gains nothing;
// a shell whose own stdio is a socket (Stdio) is a reverse shell however
// it was made.
func (a *analysis) downloads(conns []moat.Event) bool {
	for _, c := range conns {
		if a.sinkRequest(c) == "" {
			return false
		}
	}
	return true
}

// sinkRequest names the HTTP request the sink answered on a connection to
// c's address ("host/path (GET)"), or "" if it saw none.
func (a *analysis) sinkRequest(c moat.Event) string {
	for _, n := range a.evs {
		if n.Source != moat.SourceNetwork || n.Kind != moat.KindConnect || n.Addr != c.Addr {
			continue
		}
		for _, proto := range []string{"http ", "https "} { // "tcp http GET host=…", "tls sni=… decrypted https GET host=…"
			if _, req, ok := strings.Cut(n.Detail, proto); ok {
				method, _, _ := strings.Cut(req, " ")
				return firstNonEmpty(n.Name, n.Addr) + n.Path + " (" + method + ")"
			}
		}
	}
	return ""
}

// firstPlain is the first of conns that carried no HTTP request.
func (a *analysis) firstPlain(conns []moat.Event) moat.Event {
	for _, c := range conns {
		if a.sinkRequest(c) == "" {
			return c
		}
	}
	return conns[0]
}

// listCommands names the command lines of evs, each bounded, the first
// maxListed of them, and counts the rest.
func listCommands(evs []moat.Event) string {
	var s []string
	for _, e := range evs {
		c := e.Detail
		if c == "" {
			c = e.Path
		}
		if len(c) > 160 {
			c = c[:160] + "…"
		}
		s = append(s, "`"+c+"`")
	}
	s = uniq(s)
	out := joinBounded(s, maxListed)
	if len(evs) > 1 {
		out = fmt.Sprintf("%d commands: %s", len(evs), out)
	}
	return out
}

// metadata: a connection or lookup of the cloud instance metadata
// service, where a stealer gets the machine's cloud credentials.
func (a *analysis) metadata() {
	var evs []moat.Event
	for _, e := range a.evs {
		if e.Source == moat.SourceMoat || e.Source == moat.SourceFS {
			continue
		}
		host := e.Addr
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host = strings.Trim(host[:i], "[]")
		}
		name := strings.ToLower(strings.TrimSuffix(e.Name, "."))
		if metadataAddr(host) || metadataHost[name] {
			evs = append(evs, e)
		}
	}
	if len(evs) > 0 {
		a.add(moat.CategoryCredentialAccess, moat.SeverityHigh, "reached for the cloud instance metadata service (cloud credentials)"+a.metadataServed(), evs)
	}
}

// metadataAddr: host is the metadata service's address in any of its
// spellings (red team, session 22: a connect to ::ffff:169.254.169.254,
// IPv4 through an IPv6 socket, was a medium "attempted connections").
func metadataAddr(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		host = a.Unmap().WithZone("").String()
	}
	return metadataHost[host]
}

var metadataHost = map[string]bool{"169.254.169.254": true, "metadata.google.internal": true, "fd00:ec2::254": true,
	"100.100.100.200": true, "169.254.170.2": true, "metadata": true}

// interpreter reports whether exec event e ran the runtime's real
// interpreter: the file's hash is that of a "moat" interpreter event.
// Only where no hash could be had (audit events, other backends) does
// the name decide.
// runtimeFile: e ran a file whose hash is the runtime's interpreter's,
// by moat's reading (the kernel's exec event), never by its name: a venv's
// bin/python the run made (a link to the interpreter, or its copy) runs
// nothing but the interpreter. A dropped file of any other content is
// still "executed a file the run wrote".
func (a *analysis) runtimeFile(e moat.Event) bool {
	return e.Source == moat.SourceKernel && e.SHA256 != "" && a.interpreter(e) && a.interps[e.SHA256]
}

func (a *analysis) interpreter(e moat.Event) bool {
	if a.interps == nil {
		a.interps = map[string]bool{}
		for _, m := range a.evs {
			if m.Source == moat.SourceMoat && m.Kind == moat.KindInterpreter && m.SHA256 != "" {
				a.interps[m.SHA256] = true
			}
		}
	}
	if e.SHA256 != "" && len(a.interps) > 0 {
		return a.interps[e.SHA256]
	}
	return isPython(path.Base(e.Path))
}

// pythonScript: e ran a script whose "#!" line names the runtime's
// interpreter, by moat's reading: the kernel's exec event carries the
// file's hash and its "#!" line, read together when the exec was seen
// (native, the containers' init, the micro-VM's agent: at the seccomp
// listener; gVisor: as the trace's exec was read). The interpreter named
// must be one the program cannot change: the runtime's (its path, or a
// python, python3 or python3.N beside it, read-only), or /usr/bin/env or /bin/env
// with such a name as its argument (whose exec of it is an event of its own,
// judged as such). Such a script is Python code run by the interpreter,
// under the audit hook, as `python script` would be: a test's helper
// script, kept or removed. A binary dropped and run, a script of another
// interpreter or of a written one (a venv's bin/python the run made could
// have been anything when the script ran) is none, unless the hash of
// what its "#!" named, read with the script (ScriptSHA256), is the
// interpreter's: a venv's console script in the run that made the venv.
func (a *analysis) pythonScript(e moat.Event) bool {
	line, ok := strings.CutPrefix(e.Script, "#!")
	if e.Source != moat.SourceKernel || e.SHA256 == "" || !ok {
		return false
	}
	if a.runtimeSum(e.ScriptSHA256) {
		return true // what ran it is the interpreter, by its hash
	}
	fields := strings.Fields(line)
	switch {
	case len(fields) == 0:
		return false
	case fields[0] == "/usr/bin/env" || fields[0] == "/bin/env":
		return len(fields) == 2 && PythonName(fields[1])
	}
	return a.runtimePython(fields[0])
}

// runtimeSum: sum is the hash of the runtime's interpreter (a
// ScriptSHA256: a venv's bin/python the run made, a link to it, runs a
// console script under the hook as the interpreter itself would).
func (a *analysis) runtimeSum(sum string) bool {
	return sum != "" && a.interpreter(moat.Event{SHA256: sum}) && a.interps[sum]
}

// PythonName: base is an interpreter's name, python, python3 or python3.N.
func PythonName(base string) bool {
	v, ok := strings.CutPrefix(base, "python")
	major, minor, _ := strings.Cut(v, ".")
	digits := func(s string) bool { return s != "" && strings.Trim(s, "0123456789") == "" }
	return ok && (v == "" || digits(major) && (minor == "" && !strings.Contains(v, ".") || digits(minor)))
}

// runtimePython: p (a script's "#!" interpreter, as the kernel takes it)
// is the runtime's interpreter or a python, python3 or python3.N beside it, where
// the program cannot write.
func (a *analysis) runtimePython(p string) bool {
	for _, m := range a.evs {
		if m.Source == moat.SourceMoat && m.Kind == moat.KindInterpreter && m.Path != "" &&
			(m.Path == p || path.Dir(m.Path) == path.Dir(p) && path.Clean(p) == p && PythonName(path.Base(p)) && !writable(p)) {
			return true
		}
	}
	return false
}

// venvScript: e ran a Python entry point of a venv's bin directory
// (pytest, pip), a script whose hash is its own, not the interpreter's.
// Not a finding from a writable directory unless the run wrote it; still
// listed, with its hash, among the programs run.
func (a *analysis) venvScript(e moat.Event) bool {
	return isPython(path.Base(e.Path)) && path.Base(path.Dir(e.Path)) == "bin"
}

// drops: events that were counted and not kept are themselves a finding:
// a flood that fills a budget is how a program hides what follows. The
// kernel's are medium (a benign program does not make hundreds of execs
// or failing execs); the rest low.
func (a *analysis) drops() {
	var kernel, other []moat.Event
	for _, e := range a.evs {
		if e.Source != moat.SourceMoat || e.Kind != moat.KindEvents {
			continue
		}
		if e.Name == string(moat.SourceKernel) {
			kernel = append(kernel, e)
		} else {
			other = append(other, e)
		}
	}
	if len(kernel) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityMedium, "flooded the kernel-side witness: "+kernel[0].Detail, kernel)
	}
	if len(other) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityLow, other[0].Detail, other)
	}
	// The sink's dropped events are searched (their overflow event); past
	// even that bound, what followed the flood went unseen.
	for _, e := range a.evs {
		if e.Source == moat.SourceNetwork && e.Kind == moat.KindEvents && strings.Contains(e.Detail, "cut") {
			a.add(moat.CategoryEvasion, moat.SeverityMedium, "flooded the network sink past what moat searches: "+e.Detail, []moat.Event{e})
			break
		}
	}
	var failed []moat.Event
	paths := map[string]bool{}
	for _, e := range a.evs {
		if e.Source == moat.SourceKernel && e.Kind == moat.KindExecFailed {
			failed = append(failed, e)
			paths[e.Path] = true
		}
	}
	if len(paths) >= failedExecFlood {
		a.add(moat.CategoryEvasion, moat.SeverityMedium, fmt.Sprintf("%d execs of %d files that do not exist or cannot run (a flood that fills event budgets)", len(failed), len(paths)), failed)
	}
}

// failedExecFlood: failing execs of this many different files in one run
// are a flood; a PATH search fails a few times per command, and a test
// suite that looks for a tool the machine lacks (pygments' fc-list) looks
// along the same PATH each time: the same few files.
const failedExecFlood = 40

// netrcForRequest: e is a read of ~/.netrc by a process that read no other
// planted credential file: what requests, pip and curl do to find
// credentials for the host they request (documented behaviour; pip reads
// it even when the request then fails offline), not theft. Sending the
// netrc's secret anywhere is still exfiltration, and a process that also
// reads another credential file (a stealer's sweep) is still high.
func (a *analysis) netrcForRequest(e moat.Event) bool {
	if path.Base(e.Path) != ".netrc" || e.Kind != moat.KindOpen {
		return false
	}
	for _, o := range a.evs {
		if o.PID == e.PID && o.Source != moat.SourceMoat && (o.Kind == moat.KindOpen || o.Kind == moat.KindWrite) &&
			a.files[o.Path] && path.Base(o.Path) != ".netrc" {
			return false
		}
	}
	return true
}

// netrcLookups notes, at low severity, the netrc reads that
// netrcForRequest took for a library's own.
func (a *analysis) netrcLookups() {
	var evs []moat.Event
	for _, e := range a.evs {
		if e.Source != moat.SourceMoat && a.files[e.Path] && a.netrcForRequest(e) {
			evs = append(evs, e)
		}
	}
	if len(evs) > 0 {
		a.add(moat.CategoryCredentialAccess, moat.SeverityLow, "read the planted ~/.netrc and no other credential file, as HTTP libraries and pip do to find a host's credentials", evs)
	}
}

// toolReads names the program the kernel saw run that reads the planted
// file p by itself, as documented, whatever it is asked to do: wget (and
// curl -n) read ~/.netrc for every host, an interactive bash reads
// ~/.bash_history. "" if none ran. The kernel's witness of the read (an
// access time) cannot say which process read it; such a read alone is
// not theft (the value sent anywhere still is exfiltration).
func (a *analysis) toolReads(p string) string {
	base := path.Base(p)
	for _, e := range a.evs {
		if e.Source != moat.SourceKernel || e.Kind != moat.KindExec || a.failedExec(e) || ranAfter(e) {
			continue
		}
		args := strings.Fields(e.Detail)
		has := func(flags ...string) bool {
			for _, f := range args {
				if slices.Contains(flags, f) || strings.HasPrefix(f, "--netrc-file") {
					return true
				}
			}
			return false
		}
		prog := path.Base(e.Path)
		switch {
		case base == ".netrc" && (prog == "wget" || prog == "curl" && has("-n", "--netrc", "--netrc-optional")):
			return prog + " reads it for the hosts it fetches from"
		case base == ".bash_history" && prog == "bash" && has("-i"):
			return "an interactive bash reads its history"
		}
	}
	return ""
}
