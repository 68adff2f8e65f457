package container

import (
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

func kinds(evs []moat.Event, kind string) []string {
	var out []string
	for _, e := range evs {
		if string(e.Kind) == kind {
			out = append(out, e.Detail)
		}
	}
	return out
}

// TestReportIntegrity: the host tells the program's doing from the init's
// limits, and says why: a changed hook directory, a cut walk, a cut audit
// stream, walks past the host's cap.
func TestReportIntegrity(t *testing.T) {
	t.Setenv("MOAT_EVENTS", "")
	const fifo, dir = `["/tmp/.moat/audit",0,4480,5,100]`, `["/tmp/.moat",60,16877,4,50]`
	hook := `["/tmp/.moat/py/sitecustomize.py",900,33060,6,50]`
	for name, c := range map[string]struct {
		walks string
		kind  string
		want  string // in the event's detail; "" = no such event
	}{
		"untouched (the FIFO's times move)": {`{"before":[` + dir + `,` + fifo + `,` + hook + `],"after":[` + dir + `,["/tmp/.moat/audit",0,4480,5,999],` + hook + `]}`, "report-tampered", ""},
		"FIFO renamed":                      {`{"before":[` + dir + `,` + fifo + `],"after":[["/tmp/.moat",60,16877,4,51],["/tmp/.moat/x",0,4480,5,101]]}`, "report-tampered", "/tmp/.moat/audit removed or renamed"},
		"FIFO replaced":                     {`{"before":[` + dir + `,` + fifo + `],"after":[` + dir + `,["/tmp/.moat/audit",0,4480,9,100]]}`, "report-tampered", "audit replaced"},
		"hook rewritten":                    {`{"before":[` + dir + `,` + fifo + `,` + hook + `],"after":[` + dir + `,` + fifo + `,["/tmp/.moat/py/sitecustomize.py",10,33060,6,70]]}`, "report-tampered", "sitecustomize.py changed"},
		"dir renamed back":                  {`{"before":[` + dir + `,` + fifo + `],"after":[["/tmp/.moat",60,16877,4,77],` + fifo + `]}`, "report-tampered", "/tmp/.moat changed"},
		"walk cut":                          {`{"before":[` + dir + `,` + fifo + `],"after":[` + dir + `,` + fifo + `],"after_cut":"stopped at its cap of 50000 entries"}`, "report-cut", "after the program stopped at its cap of 50000 entries"},
		"audit cut":                         {`{"before":[` + dir + `,` + fifo + `],"after":[` + dir + `,` + fifo + `],"audit_cut":123}`, "report-cut", "123 bytes not relayed"},
		"walks not JSON":                    {`{"before":[`, "report-cut", "not JSON"},
		"walks past the cap":                {`{"before":[` + strings.Repeat(`["/work/x",1,33188,1,1],`, maxWalkBytes/20) + `]}`, "report-cut", "passed the host's cap"},
	} {
		t.Run(name, func(t *testing.T) {
			p := NewPersona("")
			p.Scratch = "/tmp/.moat" // the walks above name it
			r := newReport(&moat.Spec{}, time.Now(), p)
			for b := []byte(c.walks); len(b) > 0; {
				n := min(len(b), 1<<20)
				r.frame('f', b[:n], 1)
				b = b[n:]
			}
			r.frame('f', nil, 2)
			evs, _ := r.events()
			got := strings.Join(kinds(evs, c.kind), "\n")
			if c.want == "" && got != "" || !strings.Contains(got, c.want) {
				t.Fatalf("%s events: %q, want %q", c.kind, got, c.want)
			}
			if c.kind == "report-tampered" && c.want == "" && len(kinds(evs, "file-changed")) > 0 {
				t.Fatalf("the FIFO's moving times are a change: %+v", evs)
			}
		})
	}
}

// TestProgramsOwn: of the Sentry's events, the init's (pid 1) and its
// child's start of the program go; the program's own execs, the
// /proc/self/exe of a dropper among them, stay.
func TestProgramsOwn(t *testing.T) {
	evs := []moat.Event{
		{Kind: moat.KindExec, PID: 1, Path: "/proc/self/exe"},
		{Kind: moat.KindExec, PID: 12, PPID: 1, Path: "/proc/self/exe"},
		{Kind: moat.KindExec, PID: 12, PPID: 1, Path: "/usr/bin/python3"},
		{Kind: moat.KindDenied, PID: 1, Name: "mount"},
		{Kind: moat.KindDenied, PID: 12, PPID: 1, Name: "mount"},
		{Kind: moat.KindExec, PID: 12, PPID: 1, Path: "/proc/self/exe"},
		{Kind: moat.KindExec, PID: 13, PPID: 12, Path: "/bin/sh"},
	}
	got := programsOwn(evs)
	if len(got) != 3 || got[0].Name != "mount" || got[1].Path != "/proc/self/exe" || got[2].Path != "/bin/sh" {
		t.Errorf("kept %+v", got)
	}
}
