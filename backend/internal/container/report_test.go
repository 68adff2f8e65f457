package container

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
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
			r := newReport(&moat.Spec{}, time.Now(), p, nil)
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

// TestKernelFramesBounded: the host keeps the init's 'k' frames within
// the kernel events' budget whatever the init sends (an init that judged
// nothing: 3,000 exec frames), and adds the counts the init's budget
// sends (Walks.ExecsLost), bounded and named, to its own: one "kernel"
// event, the evasion finding's, and the total in the drop count.
func TestKernelFramesBounded(t *testing.T) {
	t.Setenv("MOAT_EVENTS", "")
	r := newReport(&moat.Spec{}, time.Now(), NewPersona(""), nil)
	for i := range 3000 {
		b, _ := json.Marshal(ctrinit.ExecEvent{PID: 7, Call: "execve", Path: "/bin/true", Argv: fmt.Sprintf("true %d", i)})
		r.frame('k', b, 1)
	}
	b, _ := json.Marshal(ctrinit.ExecEvent{PID: 9, Call: "connect", Sockaddr: []byte{2, 0, 0x11, 0x5c, 203, 0, 113, 9}})
	r.frame('k', b, 1)
	walks, _ := json.Marshal(map[string]any{"before": []any{}, "after": []any{}, "execs_on": true,
		"execs_lost": map[string]int{"exec-failed": 4000, "connect (of interest)": 1 << 40, "x\nforged 9": 5}})
	r.frame('f', walks, 1)
	r.frame('f', nil, 2)
	evs, dropped := r.events()
	kept, connect := 0, false
	var kernel []moat.Event
	for _, e := range evs {
		if e.Source == moat.SourceKernel && e.Kind == moat.KindExec {
			kept++
		}
		connect = connect || e.Kind == moat.KindConnect && e.Addr == "203.0.113.9:4444"
		if e.Source == moat.SourceMoat && e.Kind == moat.KindEvents {
			kernel = append(kernel, e)
		}
	}
	if kept > kbudget.MaxEvents || !connect {
		t.Errorf("kept %d exec frames (at most %d), the connect %v", kept, kbudget.MaxEvents, connect)
	}
	if len(kernel) != 1 || kernel[0].Name != string(moat.SourceKernel) {
		t.Fatalf("drop events %+v: want one of the kernel", kernel)
	}
	d := kernel[0].Detail
	for _, want := range []string{"exec " + fmt.Sprint(3000-kept), "exec-failed 4000", "connect (of interest) 1073741824", "unnamed 5"} {
		if !strings.Contains(d, want) {
			t.Errorf("drop event %q: no %q", d, want)
		}
	}
	if want := 3000 - kept + 4000 + 1<<30 + 5; dropped < want {
		t.Errorf("%d dropped, want at least %d", dropped, want)
	}
}

// TestInterpreterFrame: the init's interpreter frame becomes the run's
// one "interpreter" event of moat's (the first one; a second, or one
// without a sha256, is not believed), and is not a kernel exec.
func TestInterpreterFrame(t *testing.T) {
	t.Setenv("MOAT_EVENTS", "")
	r := newReport(&moat.Spec{}, time.Now(), NewPersona(""), nil)
	sum := strings.Repeat("ab", 32)
	for _, e := range []ctrinit.ExecEvent{
		{Call: ctrinit.CallInterpreter, Path: "/usr/bin/python3.11", SHA256: "not-a-hash"},
		{Call: ctrinit.CallInterpreter, Path: "/usr/bin/python3.11", SHA256: sum},
		{Call: ctrinit.CallInterpreter, Path: "/work/evil", SHA256: strings.Repeat("cd", 32)},
	} {
		b, _ := json.Marshal(e)
		r.frame('k', b, 1)
	}
	r.frame('f', []byte(`{"before":[],"after":[]}`), 1)
	r.frame('f', nil, 2)
	evs, _ := r.events()
	var got []moat.Event
	for _, e := range evs {
		if e.Kind == moat.KindInterpreter {
			got = append(got, e)
		}
		if e.Source == moat.SourceKernel && e.Kind == moat.KindExec {
			t.Errorf("an interpreter frame made a kernel exec: %+v", e)
		}
	}
	if len(got) != 1 || got[0].Source != moat.SourceMoat || got[0].SHA256 != sum || got[0].Path != "/usr/bin/python3.11" {
		t.Errorf("interpreter events %+v: want the first with a hash", got)
	}
}
