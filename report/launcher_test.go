package report

import (
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestLaunched: the first process's execs up to its first that succeeds
// are moat's launcher's; a later exec, or another process's, is not.
func TestLaunched(t *testing.T) {
	t.Parallel()
	evs := []moat.Event{
		{TimeMS: 5, Source: moat.SourceKernel, Kind: moat.KindExec, PID: 3, Path: "/usr/bin/sh", Detail: "sh -c pytest"},
		{TimeMS: 2, Source: moat.SourceKernel, Kind: moat.KindExecFailed, PID: 3, Path: "/usr/local/bin/sh", Detail: "sh -c pytest"},
		{TimeMS: 6, Source: moat.SourceAudit, Kind: moat.KindExec, PID: 3, Path: "/usr/bin/sh"},
		{TimeMS: 9, Source: moat.SourceKernel, Kind: moat.KindExec, PID: 3, Path: "/usr/bin/curl"},
		{TimeMS: 7, Source: moat.SourceKernel, Kind: moat.KindExec, PID: 4, Path: "/usr/bin/sh"},
	}
	Launched(evs)
	want := []moat.Source{moat.SourceMoat, moat.SourceMoat, moat.SourceAudit, moat.SourceKernel, moat.SourceKernel}
	for i, e := range evs {
		if e.Source != want[i] {
			t.Errorf("event %d (%s %s): source %s, want %s", i, e.Kind, e.Path, e.Source, want[i])
		}
	}
	Launched(nil)
}
