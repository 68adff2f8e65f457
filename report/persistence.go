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
	return laterTool(p, base, stem, lines, notWhole)
}

// startupPath says what a later interpreter start takes from a
// pyvenv.cfg or a ._pth file the run created or changed: "" when nothing
// of the run's choosing. A venv's pyvenv.cfg names, as its home, where
// every start of the venv's python finds its standard library (CPython's
// getpath): a home in a writable directory that is not the run's
// interpreter's is a standard library the run can write, run before
// site and any hook by every later start (red team, session 19: moat
// test's install phase rewrote the venv's pyvenv.cfg, and the import and
// test phases ran the package's copy of the standard library, verdict
// low). A ._pth file beside an interpreter replaces its whole sys.path
// and turns site off, on Linux too since Python 3.11. interp: the
// directories of the run's interpreter.
func startupPath(p, data string, notWhole bool, interp map[string]bool) string {
	if strings.HasSuffix(path.Base(p), "._pth") {
		return "a ._pth file, which replaces sys.path (and turns site off) for every start of the interpreter beside it"
	}
	if notWhole {
		return "a venv configuration too big to read whole (its home may name a standard library the run wrote)"
	}
	for _, l := range strings.Split(unescapeLines.Replace(data), "\n") {
		k, v, ok := strings.Cut(l, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "home") {
			continue
		}
		v = strings.TrimSpace(v)
		home := path.Clean(v)
		if !path.IsAbs(v) || writable(home+"/") && !interp[home] {
			return "a venv configuration whose home is " + v + ", a writable directory: every later start of the venv's python takes its standard library from there"
		}
	}
	return ""
}

// laterTool: what other tools a developer runs read and run code from
// (red team, session 18: each of these, with `curl … | sh` in it, gave
// no finding at all).
func laterTool(p, base, stem, lines string, notWhole bool) string {
	low := strings.ToLower(lines)
	switch {
	case strings.Contains(p, "/.bashrc.d/") || strings.Contains(p, "/.bash_completion.d/") || base == ".bash_completion" ||
		strings.Contains(p, "/.local/share/bash-completion/"):
		return "a shell startup or completion file, sourced by every interactive shell"
	case base == ".envrc" || base == "direnvrc":
		return "a direnv file, run by the shell on entering its directory"
	case base == ".vimrc" || base == ".exrc" || base == ".gvimrc" || strings.Contains(p, "/.vim/") && (strings.HasSuffix(base, ".vim") || strings.HasSuffix(base, ".lua")),
		strings.Contains(p, "/.config/nvim/") && (strings.HasSuffix(base, ".vim") || strings.HasSuffix(base, ".lua")),
		base == ".emacs" || (strings.Contains(p, "/.emacs.d/") || strings.Contains(p, "/.config/emacs/")) && strings.HasSuffix(base, ".el"),
		base == ".tmux.conf" || strings.HasSuffix(p, "/.config/tmux/tmux.conf") || base == ".screenrc",
		base == ".gdbinit" || strings.HasSuffix(p, "/.config/gdb/gdbinit") || base == ".psqlrc":
		return "an editor's, terminal multiplexer's or debugger's startup file, which can run shell commands"
	case base == ".hgrc" || strings.HasSuffix(p, "/.config/hg/hgrc"):
		return "a Mercurial configuration (its hooks and aliases run commands)"
	case strings.HasSuffix(p, "/.aws/config"):
		if notWhole || strings.Contains(low, "credential_process") {
			return "an AWS configuration that runs a command (credential_process) for every SDK or CLI call"
		}
	case strings.Contains(p, "/.docker/cli-plugins/"):
		return "a Docker CLI plugin, run by the docker command"
	case strings.Contains(p, "/jupyter/kernels/") && base == "kernel.json":
		return "a Jupyter kernel spec, whose command runs at every start of that kernel"
	case strings.HasSuffix(p, "/.vscode/tasks.json"):
		if notWhole || strings.Contains(low, "folderopen") || strings.HasSuffix(lines, "…") {
			return "a VS Code task run when the folder is opened"
		}
	case strings.Contains(p, "/.local/share/applications/") && strings.HasSuffix(base, ".desktop"), base == "mimeapps.list":
		return "a desktop entry or default application, run when a file or link is opened"
	case base == ".npmrc" || base == ".yarnrc" || base == ".yarnrc.yml" || base == ".condarc" ||
		strings.HasSuffix(p, "/.config/uv/uv.toml") || strings.Contains(p, "/.config/pypoetry/") || strings.Contains(p, "/.cargo/config"):
		return "a package manager's configuration, obeyed by every later install or build (its index, the commands it runs)"
	case base == ".pre-commit-config.yaml":
		return "a pre-commit configuration, whose hooks git commits run"
	case base == "conftest.py" && (strings.HasPrefix(p, "/work/") || strings.HasPrefix(p, "/home/") && strings.Count(p, "/") == 3):
		return "a conftest.py, run by every later pytest run beneath it"
	case userSite(p) != "":
		return "a module in the user site directory, imported before the system's packages of that name: " + userSite(p)
	case path.Dir(p) == "/work" || path.Dir(path.Dir(p)) == "/work" && base == "__init__.py":
		if name := importName(p); name != "" && stdlibModules[name] && name != "test" {
			return "a module named as the standard library's " + name + ", imported in its place by every program started in /work"
		}
	}
	return ""
}

// userSite: the module name a file in a user site directory
// (~/.local/lib/pythonX.Y/site-packages) imports as, "" for one that is
// not there or imports as nothing (metadata, a data file).
func userSite(p string) string {
	_, rest, ok := strings.Cut(p, "/.local/lib/python")
	if !ok {
		return ""
	}
	_, rest, ok = strings.Cut(rest, "/site-packages/")
	if !ok {
		return ""
	}
	return importName(rest)
}

// siteDir: the site-packages directory p is in.
func siteDir(p string) string {
	i := strings.Index(p, "/site-packages/")
	return p[:i+len("/site-packages")]
}

// importName: the top-level module a file imports as, by its name: a
// NAME.py, NAME.pyc or NAME.*.so, or NAME/__init__.py; "" otherwise.
func importName(p string) string {
	p = strings.TrimPrefix(p, "/work/")
	parts := strings.Split(p, "/")
	base := parts[len(parts)-1]
	stem, ext, _ := strings.Cut(base, ".")
	switch {
	case len(parts) == 1 && (ext == "py" || ext == "pyc" || strings.HasSuffix(ext, "so")):
		return stem
	case len(parts) == 2 && base == "__init__.py":
		return parts[0]
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
// killed (every backend's moat init lists them: package survivors). One that left the program's session
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
