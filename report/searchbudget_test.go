package report

import (
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

// TestSecretSearchBudget: a run that gives the secret search more than
// its time to do (moattest's walk-flood: thousands of files under a
// path of 3,750 hex-like characters kept docker's report busy past the
// run's deadline) is cut at the budget, and the cut is a finding, never
// silent; within the budget a secret is still found.
func TestSecretSearchBudget(t *testing.T) {
	tok := planted("aws-secret-access-key", secret, "/home/sandbox/.aws/credentials")
	leak := moat.Event{Source: moat.SourceNetwork, Kind: moat.KindHTTP, Name: "collect.example", Addr: "198.18.0.1:80", Data: "k=" + secret}
	cut := func(res []moat.Finding) bool {
		for _, f := range res {
			if f.Category == moat.CategoryEvasion && strings.Contains(f.Summary, "cut at its time budget") {
				return true
			}
		}
		return false
	}
	if fs := Analyze([]moat.Event{tok, leak}); cut(fs) || !has(fs, moat.CategoryExfiltration) {
		t.Fatalf("within the budget: %+v", fs)
	}
	old := secretSearchBudget
	defer func() { secretSearchBudget = old }()
	secretSearchBudget = time.Nanosecond
	evs := []moat.Event{tok}
	dir := "/work/f" + strings.Repeat("/"+strings.Repeat("d", 250), 15)
	for i := range 200 {
		evs = append(evs, moat.Event{Source: moat.SourceFS, Kind: moat.KindFileCreated, Path: dir + "/" + strings.Repeat("n", 240) + string(rune('a'+i%26))})
	}
	if fs := Analyze(append(evs, leak)); !cut(fs) {
		t.Errorf("past the budget, no finding says the search was cut: %+v", fs)
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
