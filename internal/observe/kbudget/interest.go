package kbudget

import (
	"path"
	"strings"

	"github.com/moat-sandbox/moat"
)

// Interest names why a kernel event would, on its own, make a finding of
// medium or above in the report (package report's command rules, the
// metadata service, credential paths, /dev/tcp, a pip install, a shell wired to a socket
// or started interactive, a port opened on an address other than loopback, an exec of a file in a writable directory or by
// descriptor, a connect to a host that is not this one), or "" if it
// would not. [Budget] keeps such events past their kind's reserve,
// so that a flood of plain ones cannot hide them.
//
// It is a cheap superset of the report's rules, by substring, not a
// judgement: an event of interest is only kept, the report judges it.
// What it misses is within its kind's reserve like any other event. Plain
// string work, no regexp and no package net: the sandbox init depends on
// this package and must start at once (cmd/moat TestInitStartsEarly).
func Interest(ev moat.Event) string {
	switch ev.Kind {
	case moat.KindConnect:
		if ev.Addr == "" || connectHost(ev.Addr) == "loopback" || strings.HasSuffix(ev.Addr, ":53") {
			return "" // a Unix socket, this machine, a lookup
		}
		return "connect"
	case moat.KindListener:
		if ev.Addr != "" && connectHost(ev.Addr) == "loopback" {
			return "" // this machine's own: a test suite's server
		}
		return "listener" // every address (0.0.0.0, ::, not seen bound) or one reachable from outside
	case moat.KindExec, moat.KindExecFailed:
	default:
		return ""
	}
	if ev.Stdio != "" {
		return "socket-stdio"
	}
	if ev.Name == moat.ExecSwapped {
		return "exec-swapped" // the kernel ran another file than the one read
	}
	line := strings.ToLower(ev.Detail)
	if line == "" {
		line = strings.ToLower(ev.Path)
	}
	for _, r := range interestRules {
		for _, s := range r.subs {
			if strings.Contains(line, s) {
				return r.name
			}
		}
	}
	args := strings.Fields(line)
	base := path.Base(ev.Path)
	if shellNames[base] && len(args) > 1 {
		for _, a := range args[1:] {
			if a == "-i" || a == "-il" || a == "-li" {
				return "interactive-shell"
			}
		}
	}
	if interactiveInterpreter(base, ev.Detail) {
		return "interactive-interpreter" // python -i, perl with no script: a reverse shell's other shape
	}
	switch base {
	case "nc", "ncat", "netcat", "socat", "mkfifo", "crontab":
		return "socket-shell"
	}
	if strings.HasPrefix(base, "ld-linux") || strings.HasPrefix(base, "ld-musl") || base == "ld.so" {
		return "exec-loader" // a program loaded by ld.so, with no exec of its own
	}
	if ev.Kind == moat.KindExec {
		if !strings.HasPrefix(ev.Path, "/") || strings.HasPrefix(ev.Path, "/proc/") || strings.HasPrefix(ev.Path, "/dev/") ||
			strings.HasPrefix(ev.Path, "/memfd:") {
			return "exec-unnamed" // relative, by descriptor, a memfd
		}
		for _, d := range []string{"/work/", "/tmp/", "/home/", "/root/", "/var/tmp/", "/run/user/"} {
			if strings.HasPrefix(ev.Path, d) {
				return "exec-writable"
			}
		}
	}
	return ""
}

// interestRules: a command line holding one of subs (lower case) is of
// interest for name. Superset of report's cmdRules.
var interestRules = []struct {
	name string
	subs []string
}{
	{"dev-tcp", []string{"/dev/tcp/", "/dev/udp/"}},
	{"metadata", []string{"169.254.169.254", "metadata.google.internal", "fd00:ec2::254", "100.100.100.200", "169.254.170.2"}},
	{"credential", []string{".aws/", "/etc/shadow", "/etc/gshadow", ".ssh/", ".kube/", ".git-credentials", ".netrc",
		".docker/config", "gcloud", ".azure", ".npmrc", ".pypirc", ".gnupg", "_history", "filezilla", ".electrum",
		"tdata", ".mozilla", "login data", "/secrets/", ".vault-token"}},
	{"socket-shell", []string{"netcat", "ncat ", "nc ", "socat", "mkfifo", "dup2", "pty.spawn"}},
	{"download-pipe", []string{"curl", "wget"}},
	{"decode-pipe", []string{"base64", "base32", "xxd"}},
	{"pip-install", []string{" install", "easy_install"}}, // a package installed at run time (report's runtimeInstalls)
	{"persistence", []string{"crontab", "/cron", "systemctl", "authorized_keys", ".bashrc", ".profile", ".zshrc",
		".bash_profile", "autostart"}},
}

// shellNames are the shells whose -i makes an interactive shell.
var shellNames = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "csh": true,
	"tcsh": true, "fish": true, "ash": true, "busybox": true, "mksh": true}

// interactiveInterpreter: base is an interpreter other than a shell
// (Python, perl, ruby, node, php, lua, tcl) and its command line detail
// (argv, in its own case: python's -I is not -i) reads code from its
// stdin: -i, "-", no script, python's -m code or code.interact. A
// superset of report's interpreterShell, which also wants a connection
// before it (red team, session 18: `python -i` on a socket); kept past
// the exec reserve so that a flood of execs cannot hide it.
func interactiveInterpreter(base, detail string) bool {
	name := strings.TrimRight(base, "0123456789.")
	switch name {
	case "python", "pypy", "perl", "ruby", "irb", "node", "nodejs", "php", "lua", "tclsh", "wish", "expect":
	default:
		return false
	}
	if strings.Contains(detail, "-m code") || strings.Contains(detail, "code.interact") || strings.Contains(detail, "InteractiveConsole") {
		return true
	}
	args := strings.Fields(detail)
	if len(args) > 0 {
		args = args[1:] // argv[0]
	}
	for _, a := range args {
		switch {
		case a == "-i" || a == "-" || a == "--interactive":
			return true
		case a == "-c" || a == "-e" || a == "-m" || !strings.HasPrefix(a, "-"):
			return false // a script, a command or a module: read from no stdin
		}
	}
	return true // no script: the program is read from stdin
}
