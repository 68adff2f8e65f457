// Package scanorder is the order in which the file-system diff reads the
// files a run wrote: the files that run code later first, then by path.
// The diff's read budget is spent in this order, so wherever the files
// are read (inside a native sandbox, or by a container's init that sends
// them to the host to be read there) the same files are read before the
// budget ends, and throwaway files written first cannot crowd out a .pth.
//
// It is a leaf package (strings only): the containers' init imports it,
// and must stay light.
package scanorder

import "strings"

// Interesting names the files whose first bytes the diff keeps: those
// that run code at the next login, interpreter start or command.
func Interesting(p string) bool { return strings.Contains(p, "/bin/") || configures(p) }

// configures: p is a file of Interesting's other than a bin directory's
// (a startup file, a configuration, a hook).
func configures(p string) bool {
	base := p[strings.LastIndexByte(p, '/')+1:]
	switch {
	case strings.HasSuffix(base, ".pth"), base == "sitecustomize.py", base == "usercustomize.py",
		strings.HasPrefix(base, ".") && (strings.HasSuffix(base, "rc") || strings.HasSuffix(base, "profile") || base == ".bash_login"),
		strings.HasSuffix(base, ".desktop"), strings.HasSuffix(base, ".service"), strings.HasSuffix(base, ".timer"),
		strings.Contains(p, "cron"),
		// where a later interpreter start finds its standard library
		// and sys.path (red team, session 19)
		base == "pyvenv.cfg", strings.HasSuffix(base, "._pth"):
		return true
	}
	// What later runs code or decides what later installs fetch: pip's
	// and distutils' configuration, git's configuration and hooks, SSH's
	// client configuration, IPython's and Jupyter's startup, fish's and
	// the session's environment, sitecustomize in any importable form.
	switch base {
	case "pip.conf", "pip.ini", ".pydistutils.cfg", "pydistutils.cfg", ".gitconfig", ".bash_aliases",
		".login", ".logout", ".zlogout", ".pam_environment",
		// and what other tools run or obey later (red team, session 18)
		".bash_completion", ".envrc", "direnvrc", ".exrc", ".emacs", ".tmux.conf", ".screenrc", ".gdbinit",
		".hgrc", ".yarnrc", ".yarnrc.yml", "uv.toml", "kernel.json", "tasks.json", "mimeapps.list",
		".pre-commit-config.yaml", "conftest.py":
		return true
	}
	if strings.Contains(p, "/.git/hooks/") || strings.HasSuffix(p, "/.git/config") {
		return true
	}
	for _, d := range []string{"/.config/git/", "/.ssh/", "/.ipython/", "/.jupyter/", "/.config/fish/",
		"/.config/environment.d/", "/sitecustomize/", "/usercustomize/",
		"/.bashrc.d/", "/.bash_completion.d/", "/bash-completion/", "/.vim/", "/.config/nvim/", "/.emacs.d/",
		"/.config/emacs/", "/.config/tmux/", "/.config/gdb/", "/.config/hg/", "/.aws/config", "/.cargo/config",
		"/.config/pypoetry/", "/.docker/cli-plugins/", "/.local/lib/python"} {
		if strings.Contains(p, d) {
			return true
		}
	}
	stem, _, _ := strings.Cut(base, ".")
	return stem == "sitecustomize" || stem == "usercustomize"
}

// Less orders path a before b: the Interesting first (those in a bin
// directory after the others: a venv's copies of the interpreter, 6 MiB
// each, spent the budget before its pyvenv.cfg was read), then by their
// bytes.
func Less(a, b string) bool {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra > rb
	}
	return a < b
}

// rank: 2 for a file that configures what runs later, 1 for another in
// a bin directory, 0 for the rest.
func rank(p string) int {
	switch {
	case configures(p):
		return 2
	case strings.Contains(p, "/bin/"):
		return 1
	}
	return 0
}
