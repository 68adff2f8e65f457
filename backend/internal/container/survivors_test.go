package container

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
)

// TestBootstrapSurvivors: bootstrap.py lists what outlived the program
// within package survivors' bounds, which the host's events assume.
func TestBootstrapSurvivors(t *testing.T) {
	for _, want := range []string{
		fmt.Sprintf("SURVIVORS_GRACE, SURVIVORS_QUIET, SURVIVORS_SESSION_GRACE = %g, %g, %.1f\n",
			survivors.Grace.Seconds(), survivors.Quiet.Seconds(), survivors.SessionGrace.Seconds()),
		fmt.Sprintf("SURVIVORS_MAX, SURVIVORS_CMD_BYTES = %d, %d\n", survivors.Max, survivors.CmdBytes),
	} {
		if !strings.Contains(bootstrap, want) {
			t.Errorf("bootstrap.py lacks %q", want)
		}
	}
}
