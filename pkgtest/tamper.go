package pkgtest

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Bounds of the scan for code that rewrites test results.
const (
	maxHookFiles     = 20000   // files looked at
	maxHookFileBytes = 1 << 20 // bytes read of one file
	maxHookBytes     = 64 << 20
	maxHookEvents    = 20
)

var (
	// A hook is defined by its name, however bound: a def, an
	// assignment (`pytest_runtest_makereport = hookimpl(...)(f)`), a
	// class attribute or a plugin object registered by hand; and pytest's
	// own classes can be patched from any module it imports.
	pytestHook = lazyre.New(`\b(pytest_runtest_makereport|pytest_runtest_logreport|pytest_report_teststatus|pytest_terminal_summary|pytest_sessionfinish|pytest_runtest_protocol|pytest_runtest_call|pytest_pyfunc_call|pytest_collectreport|pytest_unconfigure|pytest_runtest_logfinish|pytest_runtest_teardown)\b|\bpluginmanager\s*\.\s*register\s*\(|\b_pytest\b|\bTestReport\b`)
	// What a hook does to the results, each with its description.
	rewrites = []struct {
		re   *lazyre.Regexp
		what string
	}{
		{lazyre.New(`\.outcome\s*=[^=]|\bsetattr\s*\([^,]*,\s*['"]outcome['"]|\[\s*['"]outcome['"]\s*\]\s*=[^=]`), "sets a report's outcome"},
		{lazyre.New(`\bsetattr\s*\([^,]*,\s*['"](longrepr|exitstatus|testsfailed|stats|passed|failed)['"]`), "sets a result's attribute by name"},
		{lazyre.New(`\b(TestReport|CallInfo|_pytest\.[\w.]+)\s*\.\s*\w+\s*=[^=]`), "patches pytest's own classes"},
		{lazyre.New(`\.(force_result|force_exception)\s*\(`), "replaces a hook's result"},
		{lazyre.New(`\.longrepr\s*=\s*None`), "clears a failure's report"},
		{lazyre.New(`\b(testsfailed|exitstatus)\s*=[^=]`), "changes the exit status"},
		{lazyre.New(`\.stats\s*(\[[^\]]*\]\s*=[^=]|\.(pop|clear|update|setdefault)\s*\()`), "edits the summary's counts"},
		{lazyre.New(`\bos\._exit\s*\(\s*(0+|0x0+|False)?\s*\)`), "exits 0 from a hook"},
	}
	junitEdit = lazyre.New(`(?i)junit`)
)

// scanOutcomeHooks looks through the stage a test phase left for Python
// code that rewrites pytest's results: every conftest.py, and every .py
// file outside site-packages (the package's own tree), and in the venv's
// site-packages what pytest or Python load by themselves (scanSitePlugins):
// pytest11 entry points' modules, modules a .pth imports, and
// sitecustomize/usercustomize. (The rest of site-packages is the
// package's installed copy, or its dependencies, whose code runs only
// when imported: the tests' imports of the package are its own tree's.)
// A file counts when it defines a pytest hook that changes outcomes,
// counts or the exit status, or when it names the JUnit XML and writes
// files. It returns "fs" events of kind outcome-hook, paths as inside the
// sandbox (/work/...). Links are not followed; the walk is bounded.
func scanOutcomeHooks(stage string) []moat.Event {
	evs := scanSitePlugins(stage)
	files, total := 0, 0
	_ = filepath.WalkDir(stage, func(p string, d fs.DirEntry, err error) error {
		if err != nil || files >= maxHookFiles || total >= maxHookBytes || len(evs) >= maxHookEvents {
			if err == nil {
				return filepath.SkipAll
			}
			return nil
		}
		if d.IsDir() {
			if d.Name() == "site-packages" || d.Name() == "__pycache__" || filepath.Dir(p) == stage && d.Name() == reportsDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".py") {
			return nil
		}
		files++
		data, err := readBounded(p, maxHookFileBytes)
		if err != nil {
			return nil
		}
		total += len(data)
		if what := outcomeRewrite(data); what != "" {
			rel, _ := filepath.Rel(stage, p)
			evs = append(evs, outcomeEvent(rel, what))
		}
		return nil
	})
	return evs
}

// Bounds of the scan of site-packages.
const (
	maxSiteEntries = 5000
	maxPluginFiles = 200
	maxPthBytes    = 16 << 20
)

var (
	pthImport   = lazyre.New(`(?:^|[;\s])(?:import\s+([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)|from\s+([A-Za-z_][\w.]*)\s+import\b|__import__\(\s*['"]([\w.]+)['"]|import_module\(\s*['"]([\w.]+)['"])`)
	entryModule = lazyre.New(`^\s*[^=#\s][^=]*=\s*([A-Za-z_][\w.]*)`)
)

// scanSitePlugins scans, in each site-packages of the stage's venv, the
// code that runs in pytest without the tests importing it: the modules of
// every pytest11 entry point (*.dist-info or *.egg-info entry_points.txt),
// every module a .pth file imports (and the .pth's own code), and
// sitecustomize and usercustomize.
func scanSitePlugins(stage string) []moat.Event {
	var evs []moat.Event
	sites, _ := filepath.Glob(filepath.Join(stage, ".venv", "lib", "python*", "site-packages"))
	budget, pthBytes := maxPluginFiles, 0
	for _, site := range sites {
		if !realDir(stage, site) {
			continue
		}
		ents, err := os.ReadDir(site)
		if err != nil {
			continue
		}
		why := map[string]string{} // module -> how it is loaded
		var order []string
		add := func(mod, how string) {
			if _, ok := why[mod]; !ok && len(why) < maxPluginFiles {
				why[mod] = how
				order = append(order, mod)
			}
		}
		add("sitecustomize", "sitecustomize")
		add("usercustomize", "usercustomize")
		for i, e := range ents {
			if i >= maxSiteEntries {
				break
			}
			n := e.Name()
			switch {
			case e.IsDir() && (strings.HasSuffix(n, ".dist-info") || strings.HasSuffix(n, ".egg-info")):
				data, err := readBounded(filepath.Join(site, n, "entry_points.txt"), maxHookFileBytes)
				if err != nil {
					continue
				}
				for _, m := range pytest11(data) {
					add(m, "a pytest11 entry point of "+n)
				}
			case e.Type().IsRegular() && strings.HasSuffix(n, ".pth") && pthBytes < maxHookBytes:
				// site.py reads a .pth whole: an import line past a padding.
				data, err := readBounded(filepath.Join(site, n), int64(min(maxPthBytes, maxHookBytes-pthBytes)))
				if err != nil {
					continue
				}
				pthBytes += len(data)
				rel, _ := filepath.Rel(stage, filepath.Join(site, n))
				if what := outcomeRewrite(data); what != "" && len(evs) < maxHookEvents {
					evs = append(evs, outcomeEvent(rel, what+" (code of a .pth file: it runs at every start of Python)"))
				}
				for _, line := range observe.PthLines(string(data)) { // "\r" ends a line too
					if l := strings.TrimSpace(line); !strings.HasPrefix(l, "import ") && !strings.HasPrefix(l, "import\t") {
						continue // only import lines run (site.py)
					}
					for _, m := range pthImport.FindAllStringSubmatch(line, 16) {
						for _, g := range m[1:] {
							for _, mod := range strings.Split(g, ",") {
								if mod = strings.TrimSpace(mod); mod != "" {
									add(mod, "imported by "+n)
								}
							}
						}
					}
				}
			}
		}
		for _, mod := range order {
			for _, p := range moduleFiles(stage, site, mod, &budget) {
				if len(evs) >= maxHookEvents {
					return evs
				}
				data, err := readBounded(p, maxHookFileBytes)
				if err != nil {
					continue
				}
				if what := outcomeRewrite(data); what != "" {
					rel, _ := filepath.Rel(stage, p)
					evs = append(evs, outcomeEvent(rel, what+" (a module of "+mod+", loaded by pytest or Python by itself: "+why[mod]+")"))
				}
			}
		}
	}
	return evs
}

func outcomeEvent(rel, what string) moat.Event {
	return moat.Event{Source: moat.SourceFS, Kind: moat.KindOutcomeHook,
		Path: termsafe.Inline(termsafe.Name("/work/"+filepath.ToSlash(rel), 400)), Detail: termsafe.Inline(termsafe.Name(what, 600))}
}

// pytest11 returns the modules of the [pytest11] section of an
// entry_points.txt.
func pytest11(data []byte) []string {
	var mods []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		l := strings.TrimSpace(line)
		if strings.HasPrefix(l, "[") {
			in = l == "[pytest11]"
			continue
		}
		if m := entryModule.FindStringSubmatch(l); in && m != nil {
			mods = append(mods, m[1])
		}
	}
	return mods
}

// moduleFiles returns the .py files of module mod in site: mod.py, or
// every .py file of the package directory mod (bounded by budget). No
// link is followed, on the way or at the end.
func moduleFiles(stage, site, mod string, budget *int) []string {
	rel := filepath.Join(strings.Split(mod, ".")...)
	if strings.Contains(mod, "..") || rel == "" {
		return nil
	}
	var out []string
	if p := filepath.Join(site, rel+".py"); realDir(stage, filepath.Dir(p)) {
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() && *budget > 0 {
			*budget--
			out = append(out, p)
		}
	}
	dir := filepath.Join(site, rel)
	if !realDir(stage, dir) {
		return out
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || *budget <= 0 {
			return filepath.SkipAll
		}
		if d.IsDir() && d.Name() == "__pycache__" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".py") {
			*budget--
			out = append(out, p)
		}
		return nil
	})
	return out
}

// realDir reports whether dir, under root, is a directory reached
// without a link.
func realDir(root, dir string) bool {
	rel, err := filepath.Rel(root, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return false
	}
	p := root
	for _, c := range strings.Split(rel, string(filepath.Separator)) {
		if c == "." {
			continue
		}
		p = filepath.Join(p, c)
		fi, err := os.Lstat(p)
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// outcomeRewrite says how the Python source data rewrites pytest's
// results, or "".
func outcomeRewrite(data []byte) string {
	var what []string
	if pytestHook.Match(data) {
		for _, r := range rewrites {
			if r.re.Match(data) {
				what = append(what, r.what)
			}
		}
	}
	if junitEdit.Match(data) && bytes.Contains(data, []byte(".xml")) && bytes.Contains(data, []byte("write")) {
		what = append(what, "edits the JUnit XML")
	}
	return strings.Join(what, ", ")
}

// readBounded reads at most n bytes of the regular file p, never
// following a link.
func readBounded(p string, n int64) ([]byte, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	return io.ReadAll(io.LimitReader(f, n))
}

// testMismatch: pytest's exit status (0 all passed, 1 some failed)
// disagrees with the JUnit XML it left.
func testMismatch(exit int, t *Tests) (moat.Event, bool) {
	bad := t.Failed + t.Errors
	if (exit == 0 && bad > 0) || (exit == 1 && bad == 0) {
		return moat.Event{Source: moat.SourceMoat, Kind: moat.KindTestMismatch,
			Detail: fmt.Sprintf("exit %d, JUnit XML %d passed, %d failed, %d errors", exit, t.Passed, t.Failed, t.Errors)}, true
	}
	return moat.Event{}, false
}
