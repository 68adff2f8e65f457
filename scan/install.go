package scan

import (
	"bytes"
	"path"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
)

// knownBackends are build backends of well-known build tools.
var knownBackends = map[string]bool{
	"setuptools.build_meta": true, "setuptools.build_meta:__legacy__": true, "hatchling.build": true,
	"flit_core.buildapi": true, "flit.buildapi": true, "poetry.core.masonry.api": true, "poetry.masonry.api": true,
	"pdm.backend": true, "pdm.pep517.api": true, "maturin": true, "scikit_build_core.build": true,
	"mesonpy": true, "sipbuild.api": true, "enscons.api": true, "whey": true, "pbr.build": true,
	"jupyter_packaging.build_api": true, "uv_build": true, "hatchling.ouroboros": true, "setuptools_rust.build_meta": true,
}

type pyproject struct {
	BuildSystem struct {
		Requires     []string `toml:"requires"`
		BuildBackend string   `toml:"build-backend"`
		BackendPath  []string `toml:"backend-path"`
	} `toml:"build-system"`
	Project struct {
		Name    string            `toml:"name"`
		Version string            `toml:"version"`
		Scripts map[string]string `toml:"scripts"`
	} `toml:"project"`
	Tool struct {
		Hatch struct {
			Build struct {
				Hooks   map[string]map[string]any `toml:"hooks"`
				Targets map[string]struct {
					Hooks map[string]map[string]any `toml:"hooks"`
				} `toml:"targets"`
			} `toml:"build"`
		} `toml:"hatch"`
	} `toml:"tool"`
}

// reCmdclass: setup() given custom commands; reInstallCmd: one that
// replaces a command pip runs when it installs.
var (
	reCmdclass   = lazyre.New(`\bcmdclass\s*=`)
	reInstallCmd = lazyre.New(`['"](install|develop|egg_info|bdist_egg|install_scripts|install_lib|bdist_wheel|build_py|build|sdist)['"]\s*:|\b(install|develop|egg_info)\s*=\s*[A-Za-z_]`)
	reCmdBase    = lazyre.New(`^class\s+\w+\s*\(\s*(setuptools\.command\.|distutils\.command\.)?\w*\.?(install|develop|egg_info|install_scripts|bdist_egg)\s*\)`)
)

// installFiles finds the code that runs at install time and checks how
// it is wired: setup.py and its custom commands, pyproject.toml's build
// backend and hooks.
func (a *analysis) installFiles() {
	if a.p.kind == KindRequirements {
		return
	}
	if f := a.p.byName["setup.py"]; f != nil {
		a.install["setup.py"] = true
		a.setupPy(f)
	}
	f := a.p.byName["pyproject.toml"]
	if f == nil {
		return
	}
	var pp pyproject
	if _, err := toml.NewDecoder(bytes.NewReader(f.data)).Decode(&pp); err != nil {
		a.add("metadata-pyproject", moat.CategoryEvasion, moat.SeverityLow, "pyproject.toml does not parse (pip will refuse it)", hit{path: f.name, text: err.Error()})
		return
	}
	a.p.meta.pyName, a.p.meta.pyVersion = pp.Project.Name, pp.Project.Version
	a.p.meta.scripts = pp.Project.Scripts
	be := strings.TrimSpace(pp.BuildSystem.BuildBackend)
	line := lineOf(f.data, "build-backend")
	if len(pp.BuildSystem.BackendPath) > 0 {
		dirs := map[string]bool{}
		for _, d := range pp.BuildSystem.BackendPath {
			dirs[path.Clean(strings.TrimPrefix(d, "./"))] = true
		}
		for _, g := range a.p.files {
			if dirs[path.Dir(g.name)] && strings.HasSuffix(g.name, ".py") {
				a.install[g.name] = true
			}
		}
		a.add("install-backend", moat.CategoryExecution, moat.SeverityLow, "the build backend is the package's own code (backend-path): it runs at install", hit{path: f.name, line: line, text: be + " from " + strings.Join(pp.BuildSystem.BackendPath, ", ")})
	} else if be != "" && !knownBackends[be] {
		a.add("install-backend", moat.CategoryExecution, moat.SeverityLow, "an unusual build backend runs at install", hit{path: f.name, line: line, text: be})
	}
	hooks := []map[string]map[string]any{pp.Tool.Hatch.Build.Hooks}
	for _, t := range pp.Tool.Hatch.Build.Targets {
		hooks = append(hooks, t.Hooks)
	}
	for _, hs := range hooks {
		c, ok := hs["custom"]
		if !ok {
			continue
		}
		p := "hatch_build.py"
		if s, ok := c["path"].(string); ok && s != "" {
			p = path.Clean(strings.TrimPrefix(s, "./"))
		}
		a.install[p] = true
		a.add("install-hook", moat.CategoryExecution, moat.SeverityLow, "a custom hatch build hook runs at install", hit{path: f.name, line: lineOf(f.data, "hooks.custom"), text: p})
	}
}

// setupPy checks setup.py's custom commands.
func (a *analysis) setupPy(f *file) {
	lines := strings.Split(string(f.data), "\n")
	for i, l := range lines {
		t := strings.TrimSpace(l)
		h := hit{path: f.name, line: i + 1, text: clip(t)}
		switch {
		case reCmdBase.MatchString(t):
			a.add("install-cmdclass", moat.CategoryExecution, moat.SeverityLow, "a custom install command: its code runs when pip installs the package", h)
		case reCmdclass.MatchString(t) && reInstallCmd.MatchString(t):
			a.add("install-cmdclass", moat.CategoryExecution, moat.SeverityLow, "a custom install command: its code runs when pip installs the package", h)
		}
	}
}

// lineOf is the 1-based line of the first occurrence of s in data, 0 if
// none.
func lineOf(data []byte, s string) int {
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return bytes.Count(data[:i], []byte("\n")) + 1
}

// shadowCommands are names an entry-point script should not take: it
// would run instead of the system's command.
var shadowCommands = map[string]bool{"pip": true, "pip3": true, "python": true, "python3": true, "sudo": true, "ls": true,
	"git": true, "ssh": true, "curl": true, "wget": true, "bash": true, "sh": true, "apt": true, "apt-get": true, "npm": true,
	"docker": true, "kubectl": true, "aws": true, "gcloud": true, "az": true, "cd": true, "cat": true, "su": true, "pytest": true}

var reEntryLine = lazyre.New(`^\s*['"]?([A-Za-z0-9_.-]+)\s*=\s*[A-Za-z_][\w.]*(:[\w.]+)?`)

// startupHooks: .pth files, sitecustomize and usercustomize, entry points
// named like system commands.
func (a *analysis) startupHooks() {
	for _, f := range a.p.files {
		base := path.Base(f.name)
		switch {
		case strings.HasSuffix(base, ".pth"):
			for i, l := range strings.Split(string(f.data), "\n") {
				t := strings.TrimSpace(l)
				if strings.HasPrefix(t, "import ") || strings.HasPrefix(t, "import\t") {
					a.add("pth-code", moat.CategoryPersistence, moat.SeverityHigh, "a .pth file with code: it runs at every start of the interpreter", hit{path: f.name, line: i + 1, text: clip(t)})
				}
			}
			if _, ok := a.byKey["pth-code\x00"+f.name]; !ok {
				a.add("pth-file", moat.CategoryPersistence, moat.SeverityLow, "a .pth file (paths only, no code)", hit{path: f.name, text: base})
			}
		case base == "sitecustomize.py" || base == "usercustomize.py":
			a.add("startup-module", moat.CategoryPersistence, moat.SeverityHigh, "ships "+base+": it runs at every start of the interpreter", hit{path: f.name, text: base})
		case base == "entry_points.txt":
			section := ""
			for i, l := range strings.Split(string(f.data), "\n") {
				t := strings.TrimSpace(l)
				if strings.HasPrefix(t, "[") {
					section = t
					continue
				}
				if m := reEntryLine.FindStringSubmatch(t); m != nil && (section == "[console_scripts]" || section == "[gui_scripts]") && shadowCommands[m[1]] {
					a.add("entry-point-shadow", moat.CategoryPersistence, moat.SeverityMedium, "an entry-point script named like a system command", hit{path: f.name, line: i + 1, text: clip(t)})
				}
			}
		}
	}
	for name := range a.p.meta.scripts {
		if shadowCommands[name] {
			f := a.p.byName["pyproject.toml"]
			a.add("entry-point-shadow", moat.CategoryPersistence, moat.SeverityMedium, "an entry-point script named like a system command", hit{path: "pyproject.toml", line: lineOf(f.data, name), text: name})
		}
	}
}
