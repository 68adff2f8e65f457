package pkgtest

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestPhaseOutIncomplete: a phase whose work/ could not all be copied to
// the next stage (a full disk) is moat's error, not a pass that lets the
// next phase fail on a venv cut short and blame the package.
func TestPhaseOutIncomplete(t *testing.T) {
	t.Parallel()
	pr := &PhaseResult{Name: PhaseInstall}
	fill(pr, &moat.Result{Status: moat.StatusExited, Out: &moat.OutReport{Error: "unpack: 3 entries could not be written, first .venv/bin/python (no space left on device)"}}, nil)
	if pr.Status != StatusError || !strings.Contains(pr.Error, "no space left on device") {
		t.Errorf("status %q, error %q; want error naming the copy", pr.Status, pr.Error)
	}
	rep := &Report{Status: pr.Status}
	if rep.ExitStatus() != 125 {
		t.Errorf("exit %d, want 125", rep.ExitStatus())
	}
	pr = &PhaseResult{Name: PhaseInstall}
	fill(pr, &moat.Result{Status: moat.StatusExited, Out: &moat.OutReport{Skipped: []string{"lnk: link"}}}, nil)
	if pr.Status != StatusPassed {
		t.Errorf("a skip alone: status %q, want passed", pr.Status)
	}
}
