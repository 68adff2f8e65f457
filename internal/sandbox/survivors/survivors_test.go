package survivors

import (
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestEvents: what an init sends is bounded and escaped on the way in,
// whoever sent it: at most Max events, the last saying there were more,
// command lines with their control characters escaped and cut.
func TestEvents(t *testing.T) {
	var ps []Process
	for i := range Max + 4 {
		ps = append(ps, Process{PID: 100 + i, SID: 7, Own: i == 0, Cmd: "evil\n\x1b[2Jline " + strings.Repeat("x", 10000)})
	}
	evs := Events(ps, 42)
	if len(evs) != Max {
		t.Fatalf("%d events, want %d", len(evs), Max)
	}
	for i, e := range evs {
		if e.Source != moat.SourceMoat || e.Kind != moat.KindOutlived || e.TimeMS != 42 || e.PID != 100+i {
			t.Errorf("event %d: %+v", i, e)
		}
		if strings.ContainsAny(e.Path, "\n\x1b") || len(e.Path) > cmdClean+8 || !strings.HasPrefix(e.Path, `evil\x0a\x1b[2Jline`) {
			t.Errorf("event %d: command line not escaped or bounded: %q (%d bytes)", i, e.Path[:min(len(e.Path), 40)], len(e.Path))
		}
	}
	if evs[0].Detail != "in a session of its own (setsid, 7)" || evs[1].Detail != "in the program's session" {
		t.Errorf("details %q, %q", evs[0].Detail, evs[1].Detail)
	}
	if !strings.HasSuffix(evs[Max-1].Detail, ", and more") {
		t.Errorf("last detail %q does not say there were more", evs[Max-1].Detail)
	}
}
