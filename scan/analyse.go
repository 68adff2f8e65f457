package scan

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// Analysers moat can run, by name.
var Analysers = []string{"bandit", "codeaudit"}

// ErrAnalyser marks an analyser that was asked for by name and cannot
// run here (not installed); the CLI exits 125.
var ErrAnalyser = errors.New("analyser unavailable")

//go:embed analyse.py
var driver string

// FindCodeAudit returns the directory holding Python Code Audit's
// source (the codeaudit package inside it): dir if given, else
// $MOAT_CODEAUDIT, else /usr/local/share/codeaudit or
// /usr/share/codeaudit (never under a directory named moat, which a
// native sandbox with the system's Python could list); "" if none holds it.
func FindCodeAudit(dir string) string {
	for _, d := range []string{dir, os.Getenv("MOAT_CODEAUDIT"), "/usr/local/share/codeaudit", "/usr/share/codeaudit"} {
		if d == "" {
			continue
		}
		if fi, err := os.Stat(filepath.Join(d, "codeaudit", "__init__.py")); err == nil && fi.Mode().IsRegular() {
			return d
		}
		if dir != "" && d == dir {
			return ""
		}
	}
	return ""
}

// analyserPython is the interpreter the analysers run with: Debian's,
// whose dist-packages hold bandit, pandas and altair.
func analyserPython(cfg Config) string {
	if cfg.Python != "" {
		return cfg.Python
	}
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// Unavailable says why an analyser cannot run here ("" when it can; the
// host's view: the sandbox binds the same runtime read-only).
func Unavailable(name string, cfg Config) string {
	switch name {
	case "bandit":
		for _, d := range []string{"/usr/lib/python3/dist-packages/bandit", "/usr/local/lib/python3/dist-packages/bandit"} {
			if _, err := os.Stat(d); err == nil {
				return ""
			}
		}
		return "bandit is not installed (Debian: apt-get install bandit)"
	case "codeaudit":
		if FindCodeAudit(cfg.CodeAudit) == "" {
			return "Python Code Audit's source not found (--codeaudit DIR, $MOAT_CODEAUDIT or /usr/local/share/codeaudit; .ci/setup-scan.sh installs it from third_party/codeaudit)"
		}
		if _, err := os.Stat("/usr/lib/python3/dist-packages/pandas"); err != nil {
			return "pandas is not installed (Debian: apt-get install python3-pandas python3-altair)"
		}
		return ""
	}
	return "no such analyser (want " + strings.Join(Analysers, ", ") + ")"
}

// ParseAnalysers reads --analysers: "none", "all" (those installed here,
// the others noted as unavailable) or names.
func ParseAnalysers(s string) (names []string, strict bool, err error) {
	switch s = strings.TrimSpace(s); s {
	case "", "none":
		return nil, false, nil
	case "all":
		return Analysers, false, nil
	}
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(Analysers, n) {
			return nil, false, fmt.Errorf("--analysers: unknown analyser %q (want none, all or some of %s)", n, strings.Join(Analysers, ","))
		}
		names = append(names, n)
	}
	return names, true, nil
}

// driverOut is what the driver prints: each analyser's results, or why
// it failed.
type driverOut struct {
	Tools map[string]struct {
		Error   string `json:"error"`
		Results []struct {
			File     string `json:"file"`
			Line     int    `json:"line"`
			Rule     string `json:"rule"`
			Name     string `json:"name"`
			Severity string `json:"severity"`
			Text     string `json:"text"`
		} `json:"results"`
		MS int64 `json:"ms"`
	} `json:"tools"`
}

// Analyse runs the external analysers over the package inside a sandbox
// of cfg.Backend with no network: the analysers parse hostile files, so
// they get nothing of the host but the Python runtime, read-only, and
// the package. The archive goes in as it is and is opened inside; a
// project directory is copied in without its links. Their results come
// back as JSON on stdout, untrusted: bounded and escaped here.
// An analyser that is not installed is noted as unavailable; the error
// is moat's failure (wrapping ErrAnalyser when strict and one is missing).
func Analyse(ctx context.Context, cfg Config, p *pkg) ([]moat.Finding, []Analyser, error) {
	var runs []Analyser
	var want []string
	for _, n := range cfg.Analysers {
		if why := Unavailable(n, cfg); why != "" {
			runs = append(runs, Analyser{Name: n, Status: "unavailable", Note: why})
			continue
		}
		want = append(want, n)
	}
	if len(want) == 0 {
		return nil, runs, nil
	}
	if p.kind == KindRequirements {
		for _, n := range want {
			runs = append(runs, Analyser{Name: n, Status: "skipped", Note: "a requirements file has no code to analyse"})
		}
		return nil, runs, nil
	}
	if cfg.Backend == nil {
		return nil, runs, errors.New("analysers: no backend")
	}
	stage, err := os.MkdirTemp("", "moat-scan-")
	if err != nil {
		return nil, runs, fmt.Errorf("analysers: staging: %w", err)
	}
	defer os.RemoveAll(stage)
	target, err := stageTarget(cfg.Target, stage)
	if err != nil {
		return nil, runs, fmt.Errorf("analysers: %w", err)
	}
	caDir := ""
	if slices.Contains(want, "codeaudit") {
		caDir = "/work/.codeaudit"
		lim := treecopy.Limits{Bytes: 64 << 20, Files: 10000}
		rep, uerr, perr := treecopy.Copy(FindCodeAudit(cfg.CodeAudit), filepath.Join(stage, ".codeaudit"), lim, treecopy.Options{})
		if uerr != nil || perr != nil {
			return nil, runs, fmt.Errorf("analysers: copy codeaudit: %w", errors.Join(uerr, perr))
		}
		if len(rep.Skipped) > 0 {
			return nil, runs, fmt.Errorf("analysers: copy codeaudit: %s", rep.Skipped[0])
		}
	}
	root := ""
	if cfg.Target.Kind == KindSdist {
		root = cfg.Target.Root
	}
	spec := &moat.Spec{
		Python: analyserPython(cfg), Workspace: stage, Network: moat.NetworkNone, NoReport: true,
		Args:   []string{"-s", "-c", driver, cfg.Target.Kind, target, strings.Join(want, ","), caDir, root},
		Limits: moat.Limits{Timeout: 5 * time.Minute, Memory: 1 << 30, Pids: 64, OutputLimit: 32 << 20, Disk: 2 << 30},
		Env:    []string{"HOME=/tmp", "MPLCONFIGDIR=/tmp"},
	}
	if dirs := blasDirs(); dirs != "" {
		spec.Env = append(spec.Env, "LD_LIBRARY_PATH="+dirs)
	}
	start := time.Now()
	res, err := cfg.Backend.Run(ctx, spec)
	ms := time.Since(start).Milliseconds()
	if err != nil {
		for _, n := range want {
			runs = append(runs, Analyser{Name: n, Status: "failed", Note: termsafe.Line(err.Error(), 300), DurationMS: ms})
		}
		return nil, runs, fmt.Errorf("analysers: %w", err)
	}
	var out driverOut
	line := lastJSONLine(res.Stdout)
	if res.Status != moat.StatusExited || res.ExitCode != 0 || json.Unmarshal([]byte(line), &out) != nil {
		why := fmt.Sprintf("the sandbox ended %s (exit %d): %s", res.Status, res.ExitCode, termsafe.Line(lastLine(res.Stderr), 300))
		for _, n := range want {
			runs = append(runs, Analyser{Name: n, Status: "failed", Note: why, DurationMS: ms})
		}
		return nil, runs, nil
	}
	a := &analysis{p: p, byKey: map[string]*finding{}, install: map[string]bool{}}
	a.installFiles()
	for _, n := range want {
		t, ok := out.Tools[n]
		r := Analyser{Name: n, Status: "ran", DurationMS: t.MS}
		switch {
		case !ok:
			r.Status, r.Note = "failed", "no output"
		case t.Error != "":
			r.Status, r.Note = "failed", termsafe.Line(t.Error, 300)
		}
		before := len(a.order)
		for i, x := range t.Results {
			if i == 5000 {
				break
			}
			name := path.Clean(strings.TrimPrefix(x.File, "/"))
			if x.File == "" || name == "." || strings.HasPrefix(name, "../") {
				continue
			}
			rule := n + "/" + termsafe.Name(x.Rule, 40)
			// Low, whatever the analyser says: they flag constructs
			// benign code is full of (subprocess, exec of a version file);
			// a lead to read beside moat's own findings, which grade.
			what := termsafe.Line(n+" ("+x.Severity+"): "+x.Name, 140)
			a.add(rule, category(rule, x.Name), moat.SeverityLow, what, hit{path: name, line: max(x.Line, 0), text: x.Text})
		}
		r.Findings = len(a.order) - before
		runs = append(runs, r)
	}
	var fs []moat.Finding
	for _, k := range a.order {
		f := a.byKey[k]
		fs = append(fs, f.finding(a.actsIn(f)))
	}
	return fs, runs, nil
}

// category places an analyser's rule in the report's vocabulary.
func category(rule, name string) moat.Category {
	s := strings.ToLower(rule + " " + name)
	switch {
	case strings.Contains(s, "request") || strings.Contains(s, "url") || strings.Contains(s, "socket") || strings.Contains(s, "bind") ||
		strings.Contains(s, "ftp") || strings.Contains(s, "http") || strings.Contains(s, "telnet") || strings.Contains(s, "b310") || strings.Contains(s, "b104"):
		return moat.CategoryNetwork
	case strings.Contains(s, "password") || strings.Contains(s, "secret") || strings.Contains(s, "b105") || strings.Contains(s, "b106"):
		return moat.CategoryCredentialAccess
	}
	return moat.CategoryExecution
}

// stageTarget puts the target in stage as the sandbox will see it and
// returns its path inside.
func stageTarget(t Target, stage string) (string, error) {
	base := filepath.Base(t.Path)
	switch t.Kind {
	case KindSdist, KindWheel:
		in, err := openRegular(t.Path)
		if err != nil {
			return "", err
		}
		defer in.Close()
		out, err := os.OpenFile(filepath.Join(stage, base), os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644)
		if err != nil {
			return "", err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return "", err
		}
		return "/work/" + base, out.Close()
	case KindProject:
		lim := treecopy.Limits{Bytes: maxDirBytes, Files: maxDirFiles}
		if _, uerr, perr := treecopy.Copy(t.Path, filepath.Join(stage, "project"), lim, treecopy.Options{AnyNames: true}); uerr != nil || perr != nil {
			return "", fmt.Errorf("copy project: %w", errors.Join(uerr, perr))
		}
		return "/work/project", nil
	}
	return "", fmt.Errorf("target kind %q", t.Kind)
}

// blasDirs are the directories of the BLAS and LAPACK libraries numpy
// (under pandas, codeaudit's) loads. Debian reaches them through links in
// /etc/alternatives, which a sandbox binding only the runtime's own files
// does not have; the directories they lead to, under /usr, it does.
func blasDirs() string {
	var dirs []string
	for _, lib := range []string{"libblas.so.3", "liblapack.so.3"} {
		ms, _ := filepath.Glob("/usr/lib/*-linux-gnu/" + lib)
		for _, m := range ms {
			if real, err := filepath.EvalSymlinks(m); err == nil && strings.HasPrefix(real, "/usr/") && !slices.Contains(dirs, filepath.Dir(real)) {
				dirs = append(dirs, filepath.Dir(real))
			}
		}
	}
	return strings.Join(dirs, ":")
}

func lastJSONLine(s string) string {
	for _, l := range slices.Backward(strings.Split(strings.TrimRight(s, "\n"), "\n")) {
		if strings.HasPrefix(l, "{\"tools\"") {
			return l
		}
	}
	return ""
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
