package pkgtest

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"

	"github.com/moat-sandbox/moat"
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
	pytestHook = regexp.MustCompile(`def\s+(pytest_runtest_makereport|pytest_runtest_logreport|pytest_report_teststatus|pytest_terminal_summary|pytest_sessionfinish|pytest_runtest_protocol|pytest_runtest_call|pytest_pyfunc_call|pytest_collectreport|pytest_unconfigure)\b`)
	// What a hook does to the results, each with its description.
	rewrites = []struct {
		re   *regexp.Regexp
		what string
	}{
		{regexp.MustCompile(`\.outcome\s*=[^=]`), "sets a report's outcome"},
		{regexp.MustCompile(`\.(force_result|force_exception)\s*\(`), "replaces a hook's result"},
		{regexp.MustCompile(`\.longrepr\s*=\s*None`), "clears a failure's report"},
		{regexp.MustCompile(`\b(testsfailed|exitstatus)\s*=[^=]`), "changes the exit status"},
		{regexp.MustCompile(`\.stats\s*(\[[^\]]*\]\s*=[^=]|\.(pop|clear|update|setdefault)\s*\()`), "edits the summary's counts"},
		{regexp.MustCompile(`\bos\._exit\s*\(\s*0\s*\)`), "exits 0 from a hook"},
	}
	junitEdit = regexp.MustCompile(`(?i)junit`)
)

// scanOutcomeHooks looks through the stage a test phase left for Python
// code that rewrites pytest's results: every conftest.py, and every .py
// file outside site-packages (the package's own tree; what it installed
// into site-packages is its installed copy, or its dependencies, which
// may be ordinary pytest plugins). A file counts when it defines a pytest
// hook that changes outcomes, counts or the exit status, or when it
// names the JUnit XML and writes files. It returns "fs" events of kind
// outcome-hook, paths as inside the sandbox (/work/...). Links are not
// followed; the walk is bounded.
func scanOutcomeHooks(stage string) []moat.Event {
	var evs []moat.Event
	files, total := 0, 0
	_ = filepath.WalkDir(stage, func(p string, d fs.DirEntry, err error) error {
		if err != nil || files >= maxHookFiles || total >= maxHookBytes || len(evs) >= maxHookEvents {
			if err == nil {
				return filepath.SkipAll
			}
			return nil
		}
		if d.IsDir() {
			if d.Name() == "site-packages" || d.Name() == "__pycache__" || (p != stage && d.Name() == ".moat") {
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
			evs = append(evs, moat.Event{Source: moat.SourceFS, Kind: moat.KindOutcomeHook,
				Path: termsafe.Inline(termsafe.Name("/work/"+filepath.ToSlash(rel), 400)), Detail: what})
		}
		return nil
	})
	return evs
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
