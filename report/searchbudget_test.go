package report

import (
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

// TestSecretSearchBudget: a run that gives the secret search more than
// its work (or, behind it, its time) to do (moattest's walk-flood: thousands of files under a
// path of 3,750 hex-like characters kept docker's report busy past the
// run's deadline) is cut at the budget, and the cut is a finding, never
// silent; within the budget a secret is still found.
func TestSecretSearchBudget(t *testing.T) {
	t.Parallel()
	tok := planted("aws-secret-access-key", secret, "/home/sandbox/.aws/credentials")
	leak := moat.Event{Source: moat.SourceNetwork, Kind: moat.KindHTTP, Name: "collect.example", Addr: "198.18.0.1:80", Data: "k=" + secret}
	cutAt := func(res []moat.Finding, budget string) bool {
		for _, f := range res {
			if f.Category == moat.CategoryEvasion && strings.Contains(f.Summary, "cut at its "+budget+" budget") {
				return true
			}
		}
		return false
	}
	cut := func(res []moat.Finding) bool { return cutAt(res, "work") || cutAt(res, "time") }
	if fs := Analyze([]moat.Event{tok, leak}); cut(fs) || !has(fs, moat.CategoryExfiltration) {
		t.Fatalf("within the budget: %+v", fs)
	}
	evs := []moat.Event{tok}
	dir := "/work/f" + strings.Repeat("/"+strings.Repeat("d", 250), 15)
	for i := range 200 {
		evs = append(evs, moat.Event{Source: moat.SourceFS, Kind: moat.KindFileCreated, Path: dir + "/" + strings.Repeat("n", 240) + string(rune('a'+i%26))})
	}
	evs = append(evs, leak)
	if fs := Analyze(evs); cut(fs) || !has(fs, moat.CategoryExfiltration) {
		t.Fatalf("within the budgets: %+v", fs)
	}
	// The work budget: the data, not the host, decides the cut.
	oldWork := secretSearchWork
	defer func() { secretSearchWork = oldWork }()
	secretSearchWork = 64 << 10
	if fs := Analyze(evs); !cutAt(fs, "work") {
		t.Errorf("past the work budget, no finding says the search was cut: %+v", fs)
	}
	secretSearchWork = oldWork
	old := secretSearchBudget
	defer func() { secretSearchBudget = old }()
	secretSearchBudget = time.Nanosecond
	if fs := Analyze(evs); !cutAt(fs, "time") {
		t.Errorf("past the time budget, no finding says the search was cut: %+v", fs)
	}
}

func has(fs []moat.Finding, c moat.Category) bool {
	for _, f := range fs {
		if f.Category == c {
			return true
		}
	}
	return false
}
