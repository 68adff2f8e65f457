package report

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/moat-sandbox/moat"
)

// Packages installed at run time: a payload that fetches its second stage
// as another package (`os.system("pip install NAME")`, `python -m pip
// install git+https://...`) brings code that no install phase of moat's
// vetted. Every pip of the program's (not moat's launcher's, nor pip's own
// probes: commandEvents) is read for what it installs; a local path (a
// test suite installing its own fixture project) is not a download.

// pipValueOptions are pip install's options that take a value as the
// next word.
var pipValueOptions = map[string]bool{
	"-c": true, "--constraint": true, "-e": true, "--editable": true, "-t": true, "--target": true,
	"--platform": true, "--python-version": true, "--implementation": true, "--abi": true,
	"--root": true, "--prefix": true, "--src": true, "--upgrade-strategy": true, "-C": true,
	"--config-settings": true, "--global-option": true, "--install-option": true,
	"--no-binary": true, "--only-binary": true, "--progress-bar": true, "--root-user-action": true,
	"--report": true, "-i": true, "--index-url": true, "--extra-index-url": true, "-f": true,
	"--find-links": true, "--python": true, "--log": true, "--proxy": true, "--retries": true,
	"--timeout": true, "--exists-action": true, "--trusted-host": true, "--cert": true,
	"--client-cert": true, "--cache-dir": true, "--use-feature": true, "--use-deprecated": true,
	"--keyring-provider": true, "--log-file": true,
}

// pipInstalls returns what one command line (argv joined by spaces, or a
// shell's -c line) asks pip to install from elsewhere than a local path:
// package names and URLs, and "-r FILE" as the requirements it names.
func pipInstalls(line string) []string {
	var out []string
	// A shell line holds several commands.
	for _, cmd := range strings.FieldsFunc(line, func(r rune) bool {
		return r == ';' || r == '&' || r == '|' || r == '\n' || r == '(' || r == ')' || r == '`'
	}) {
		w, ok := pipArgs(strings.Fields(strings.NewReplacer("'", "", "\"", "").Replace(cmd)))
		if !ok || buildEnv(w) || offline(w) {
			continue
		}
		for j := 0; j < len(w); j++ {
			a := w[j]
			switch {
			case a == "-r" || a == "--requirement":
				if j+1 < len(w) {
					out = append(out, "requirements of "+w[j+1])
					j++
				}
			case strings.HasPrefix(a, "--requirement=") || strings.HasPrefix(a, "-r") && len(a) > 2:
				out = append(out, "requirements of "+strings.TrimPrefix(strings.TrimPrefix(a, "--requirement="), "-r"))
			case pipValueOptions[a]:
				j++
			case strings.HasPrefix(a, "-"):
			case a == ">" || a == ">>" || a == "<" || strings.HasPrefix(a, ">") || strings.HasPrefix(a, "2>") || strings.HasPrefix(a, "<"):
				j = len(w) // a redirection ends the arguments
			default:
				if !localPath(a) {
					out = append(out, a)
				}
			}
		}
	}
	return out
}

// pipArgs: the arguments after "install" where w is a pip install (pip,
// pip3, pip3.11, python -m pip, uv pip, easy_install), behind sudo, env,
// nohup or variable assignments, or as a shell's -c line.
func pipArgs(w []string) ([]string, bool) {
	if len(w) > 2 && shells[path.Base(w[0])] && strings.HasPrefix(w[1], "-") && strings.Contains(w[1], "c") {
		w = w[2:] // sh -c LINE: the line's first command
	}
	for len(w) > 0 && (slices.Contains([]string{"sudo", "nohup", "exec", "command", "env"}, path.Base(w[0])) || strings.Contains(w[0], "=") && !strings.HasPrefix(w[0], "-")) {
		w = w[1:]
	}
	if len(w) == 0 {
		return nil, false
	}
	skip := 0
	base := path.Base(w[0])
	switch {
	case base == "easy_install" || strings.HasPrefix(base, "easy_install-"):
		return w[1:], true
	case strings.HasPrefix(base, "pip") && strings.Trim(strings.TrimPrefix(base, "pip"), "0123456789.") == "":
		skip = 1
	case base == "uv" && len(w) > 1 && w[1] == "pip":
		skip = 2
	case PythonName(base):
		for k := 1; k+1 < len(w) && skip == 0; k++ {
			if w[k] == "-m" && w[k+1] == "pip" {
				skip = k + 2
			} else if !strings.HasPrefix(w[k], "-") {
				return nil, false // a script, not -m pip
			}
		}
		if skip == 0 {
			return nil, false
		}
	default:
		return nil, false
	}
	// pip's own options before the command.
	for k := skip; k < len(w); k++ {
		if w[k] == "install" {
			return w[k+1:], true
		}
		if !strings.HasPrefix(w[k], "-") {
			return nil, false // another command (download, show, list, ...)
		}
	}
	return nil, false
}

// buildEnv: pip's own install of a build's requirements into its
// isolated build environment (`--prefix /tmp/pip-build-env-...`), which a
// pip install with an index runs for an sdist.
func buildEnv(w []string) bool {
	for i, a := range w {
		if v, ok := strings.CutPrefix(a, "--prefix="); ok && strings.Contains(v, "/pip-build-env-") ||
			a == "--prefix" && i+1 < len(w) && strings.Contains(w[i+1], "/pip-build-env-") {
			return true
		}
	}
	return false
}

// offline: --no-index with no URL anywhere: packages only from local
// --find-links directories (ensurepip's bootstrap, a wheelhouse).
func offline(w []string) bool {
	if !slices.Contains(w, "--no-index") {
		return false
	}
	for _, a := range w {
		if strings.Contains(a, "://") {
			return false
		}
	}
	return true
}

// localPath: a pip argument that names a file or directory here (".",
// "./dist/x.whl", "/work/pkg", "~/src"), not a package of an index or a
// URL.
func localPath(a string) bool {
	if strings.Contains(a, "://") || strings.HasPrefix(a, "git+") {
		return false
	}
	return strings.HasPrefix(a, ".") || strings.HasPrefix(a, "/") || strings.HasPrefix(a, "~") ||
		strings.Contains(a, "/") || strings.HasSuffix(a, ".whl") || strings.HasSuffix(a, ".tar.gz") || strings.HasSuffix(a, ".zip")
}

// runtimeInstalls: the packages the program installed, or tried to, by
// pip at run time.
func (a *analysis) runtimeInstalls(cmds []moat.Event) {
	var evs []moat.Event
	var what []string
	for _, e := range cmds {
		line := e.Detail
		if line == "" {
			line = e.Path
		}
		if got := pipInstalls(line); len(got) > 0 {
			evs = append(evs, e)
			what = append(what, got...)
		}
	}
	if len(evs) == 0 {
		return
	}
	a.add(moat.CategoryExecution, moat.SeverityMedium,
		fmt.Sprintf("installed packages at run time, code no install phase vetted (a second stage fetched as a package): %s", joinBounded(uniq(what), 8)), evs)
}
