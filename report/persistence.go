package report

import (
	"fmt"
	"path"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
	"github.com/moat-sandbox/moat/internal/observe"
)

// unescapeLines undoes, in an fs event's Data, the escaping of the
// characters that end a line for site.py, git, ssh or a shell
// (audit.Clean writes them as \xNN or \uNNNN), and of the tab, so that
// the rules below read the file's lines as their programs do.
var unescapeLines = strings.NewReplacer(`\x0a`, "\n", `\x0d`, "\n", `\x0b`, "\n", `\x0c`, "\n",
	`\x1c`, "\n", `\x1d`, "\n", `\x1e`, "\n", `\x85`, "\n", `\u2028`, "\n", `\u2029`, "\n", `\x09`, "\t")

// gitCommand: a git configuration key whose value git runs (or a hook
// directory it runs from), or an alias to a shell command.
var gitCommand = lazyre.New(`(?im)^[ \t]*(hookspath|fsmonitor|sshcommand|askpass|pager|editor|textconv|smudge|clean|process|external|helper|program|gitproxy|uploadpack|receivepack|command|cmd|tool)[ \t]*=|^[ \t]*[a-z0-9-]+[ \t]*=[ \t]*"?!|^[ \t]*\[[ \t]*include`)

// sshCommand: an ssh client configuration key whose value ssh runs.
var sshCommand = lazyre.New(`(?im)^[ \t]*(proxycommand|localcommand|knownhostscommand|match[ \t].*\bexec)\b`)

// laterCode says what runs later from a file the run created or changed,
// beyond the rules of [analysis.persistence]: "" when nothing. data is the
// event's Data (its first KiB, escaped); notWhole says the diff did not
// read the file to its end, so what it holds past that is unknown (such a
// file is judged by its place alone: fail closed).
func laterCode(p, data string, notWhole bool) string {
	base := path.Base(p)
	lines := unescapeLines.Replace(data)
	stem, _, _ := strings.Cut(base, ".")
	if strings.HasPrefix(base, "__init__.") {
		stem = path.Base(path.Dir(p)) // a package's
	}
	switch {
	case stem == "sitecustomize" || stem == "usercustomize":
		// a .pyc, an extension module or a package imports as well as a .py
		return "a " + stem + " module, run by every Python start"
	case base == "pip.conf" || base == "pip.ini":
		return "a pip configuration, obeyed by every later pip install (its index, its options)"
	case base == ".pydistutils.cfg" || base == "pydistutils.cfg":
		return "a distutils configuration, obeyed by every later setup.py build and install"
	case strings.Contains(p, "/.git/hooks/") && !strings.HasSuffix(base, ".sample"):
		return "a git hook, run by git commands in that repository"
	case base == ".gitconfig" || strings.Contains(p, "/.config/git/") || strings.HasSuffix(p, "/.git/config"):
		if notWhole || gitCommand.MatchString(lines) {
			return "a git configuration that runs a command (hooks path, fsmonitor, ssh command, pager, filter, alias, include)"
		}
	case strings.HasSuffix(p, "/.ssh/rc"):
		return "an SSH rc file, run by every SSH login"
	case strings.HasSuffix(p, "/.ssh/config"):
		if notWhole || sshCommand.MatchString(lines) {
			return "an SSH client configuration that runs a command (ProxyCommand, LocalCommand, Match exec)"
		}
	case strings.Contains(p, "/.local/bin/"):
		return "a command in ~/.local/bin, which a login shell puts first on PATH"
	case strings.Contains(p, "/.ipython/") && (strings.Contains(p, "/startup/") || strings.HasPrefix(base, "ipython_config")),
		strings.Contains(p, "/.jupyter/") && strings.HasSuffix(base, ".py"):
		return "an IPython or Jupyter startup file, run by every IPython or Jupyter start"
	case strings.Contains(p, "/.config/fish/") && strings.HasSuffix(base, ".fish"),
		base == ".bash_aliases" || base == ".login" || base == ".logout" || base == ".zlogout":
		return "a shell startup file"
	case strings.Contains(p, "/.config/environment.d/") || base == ".pam_environment":
		return "a session environment file, read by every login (LD_PRELOAD, PYTHONPATH, PATH)"
	}
	return ""
}

// pthHasCode: site.py executes the lines of a .pth file that start with
// "import" followed by a space or tab, a line ended by any character
// site.py ends one at (observe.PthLines).
func pthHasCode(data string) bool {
	for _, l := range observe.PthLines(unescapeLines.Replace(data)) {
		l = strings.TrimLeft(l, " ")
		if strings.HasPrefix(l, "import ") || strings.HasPrefix(l, "import\t") {
			return true
		}
	}
	return false
}

// outlived: processes still running when the program ended, which moat
// killed (native's init lists them). One that left the program's session
// (setsid: a daemon) is medium evasion: malware that waits for the run to
// end acts where no report sees it. Others (a test's server left running)
// are low.
func (a *analysis) outlived() {
	var daemons, rest []moat.Event
	var dn, rn []string
	for _, e := range a.evs {
		if e.Source != moat.SourceMoat || e.Kind != moat.KindOutlived {
			continue
		}
		if strings.HasPrefix(e.Detail, "in a session of its own") {
			daemons, dn = append(daemons, e), append(dn, e.Path)
		} else {
			rest, rn = append(rest, e), append(rn, e.Path)
		}
	}
	if len(daemons) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityMedium, fmt.Sprintf("%d processes daemonized (a session of their own) and were still running when the program ended; moat killed them, and what they would have done later is not in this report: %s",
			len(daemons), joinBounded(uniq(dn), 4)), daemons)
	}
	if len(rest) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityLow, fmt.Sprintf("%d processes were still running when the program ended (moat killed them): %s", len(rest), joinBounded(uniq(rn), 4)), rest)
	}
}
