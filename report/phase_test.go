package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
)

func TestForPhase(t *testing.T) {
	t.Parallel()
	evs := []moat.Event{{Source: "kernel", Kind: "exec", Path: "/bin/sh", PID: 3}}
	// No findings from the backend: drawn here, stamped.
	gotE, gotF := ForPhase("install", &moat.Result{Events: evs})
	if len(gotE) != 1 || gotE[0].Phase != "install" || evs[0].Phase != "" {
		t.Fatalf("events %+v (original %+v)", gotE, evs)
	}
	if len(gotF) != 1 || gotF[0].Phase != "install" || gotF[0].Evidence[0].Phase != "install" {
		t.Fatalf("findings %+v", gotF)
	}
	// The backend's own findings (drawn before it bounded the events) are
	// kept, stamped, and the result is not changed.
	own := []moat.Finding{{Category: moat.CategoryPersistence, Severity: "high", Summary: "s", Evidence: []moat.Event{{Source: "fs", Kind: "file-created"}}}}
	res := &moat.Result{Events: evs, Findings: own}
	_, gotF = ForPhase("import", res)
	if len(gotF) != 1 || gotF[0].Category != moat.CategoryPersistence || gotF[0].Phase != "import" || gotF[0].Evidence[0].Phase != "import" {
		t.Fatalf("findings %+v", gotF)
	}
	if own[0].Phase != "" || own[0].Evidence[0].Phase != "" {
		t.Errorf("ForPhase changed the result: %+v", own)
	}
	if e, f := ForPhase("test", nil); e != nil || f == nil || len(f) != 0 {
		t.Errorf("nil result: %v %v", e, f)
	}
}

func TestBound(t *testing.T) {
	t.Parallel()
	var evs []moat.Event
	for i := range 10 {
		evs = append(evs, moat.Event{TimeMS: int64(i), Source: "audit", Kind: "open"})
	}
	evs = append(evs, moat.Event{TimeMS: 20, Source: "fs", Kind: "file-created"}, moat.Event{TimeMS: 30, Source: "kernel", Kind: "exec"})
	got := Bound(evs, 4)
	if len(got) != 4 || got[0].TimeMS != 0 || got[1].TimeMS != 1 || got[2].Source != "fs" || got[3].Source != "kernel" {
		t.Errorf("%+v", got)
	}
	if len(Bound(evs, 100)) != len(evs) || Bound(evs, 0) != nil {
		t.Error("bounds")
	}
}

// The witness's records and the hook's hellos are few (the hook gives the
// records a budget of their own) and are what the witness and the hook's
// integrity are read from: a long suite's thousands of opens must not
// push the witness's end out of a bounded report (pygments: its end
// record was cut, the report held a start with no end).
func TestBoundKeepsWitness(t *testing.T) {
	t.Parallel()
	evs := []moat.Event{
		{TimeMS: 0, Source: "audit", Kind: moat.KindHello, PID: 7},
		{TimeMS: 1, Source: "audit", Kind: moat.KindTestReport, Path: "start"},
	}
	for i := range 50 {
		evs = append(evs, moat.Event{TimeMS: int64(10 + i), Source: "audit", Kind: "open"})
	}
	evs = append(evs, moat.Event{TimeMS: 90, Source: "audit", Kind: moat.KindTestReport, Path: "failed", Name: "t::a"},
		moat.Event{TimeMS: 99, Source: "audit", Kind: moat.KindTestReport, Path: "end", Detail: "cases=1"},
		moat.Event{TimeMS: 100, Source: "kernel", Kind: "exec"})
	got := Bound(evs, 10)
	var kept []string
	for _, e := range got {
		if e.Kind == moat.KindTestReport || e.Kind == moat.KindHello {
			kept = append(kept, string(e.Kind)+":"+e.Path)
		}
	}
	if want := "hello: testreport:start testreport:failed testreport:end"; strings.Join(kept, " ") != want {
		t.Errorf("kept %q, want %q", kept, want)
	}
	if len(got) != 10 || got[len(got)-1].Source != "kernel" || got[2].Kind != "open" {
		t.Errorf("%+v", got)
	}
}

// execvp tries each directory of PATH: the failed tries are no execution,
// but a file the run wrote is, even when a later try follows.
func TestPathMiss(t *testing.T) {
	t.Parallel()
	try := func(p string, ms int64) moat.Event {
		return moat.Event{TimeMS: ms, Source: "kernel", Kind: "exec", PID: 5, Path: p, Detail: "uname -rs"}
	}
	high := func(evs []moat.Event) []string {
		var out []string
		for _, f := range Analyze(evs) {
			if f.Severity.Rank() > moat.SeverityLow.Rank() {
				out = append(out, f.Summary)
			}
		}
		return out
	}
	miss := []moat.Event{try("/work/.venv/bin/uname", 1), try("/usr/local/bin/uname", 1), try("/usr/bin/uname", 1)}
	if got := high(miss); len(got) != 0 {
		t.Errorf("PATH search: %q", got)
	}
	wrote := append([]moat.Event{{Source: "fs", Kind: "file-created", Path: "/work/.venv/bin/uname"}}, miss...)
	if got := high(wrote); len(got) != 1 || !strings.Contains(got[0], "/work/.venv/bin/uname") {
		t.Errorf("a written file, run: %q", got)
	}
	// The last try, alone in a writable directory, is still an execution.
	alone := []moat.Event{try("/usr/local/bin/uname", 1), try("/tmp/x/uname", 2)}
	if got := high(alone); len(got) != 1 || !strings.Contains(got[0], "/tmp/x/uname") {
		t.Errorf("last try: %q", got)
	}
	// Another process's later exec of the same name proves nothing.
	other := []moat.Event{try("/tmp/x/uname", 1), {TimeMS: 2, Source: "kernel", Kind: "exec", PID: 6, Path: "/usr/bin/uname", Detail: "uname -rs"}}
	if got := high(other); len(got) != 1 {
		t.Errorf("other process: %q", got)
	}
	// A loaded machine spaces the tries (pluggy's install on gVisor:
	// setuptools_scm's search for hg, 53 ms apart): the next exec of the
	// process decides, not the clock.
	slow := []moat.Event{try("/work/.venv/bin/hg", 60309), try("/usr/local/bin/hg", 60362), try("/usr/bin/hg", 61500)}
	if got := high(slow); len(got) != 0 {
		t.Errorf("a slow PATH search: %q", got)
	}
	// The process's next exec is another program: the writable one ran.
	ran := []moat.Event{try("/tmp/x/uname", 1), {TimeMS: 2, Source: "kernel", Kind: "exec", PID: 5, Path: "/usr/bin/id", Detail: "id"},
		try("/usr/bin/uname", 3)}
	if got := high(ran); len(got) != 1 || !strings.Contains(got[0], "/tmp/x/uname") {
		t.Errorf("ran, then another exec: %q", got)
	}
	// A suite that looks for a tool the machine lacks in every test
	// (pygments' fc-list): many failing execs of the same few files is no
	// flood; failing execs of 40 different files are.
	fail := func(p string, ms int64) moat.Event {
		return moat.Event{TimeMS: ms, Source: "kernel", Kind: "exec-failed", PID: 5, Path: p, Detail: "fc-list"}
	}
	var again, flood []moat.Event
	for i := range 30 {
		for _, d := range []string{"/work/.venv/bin", "/usr/local/bin", "/usr/bin", "/bin"} {
			again = append(again, fail(d+"/fc-list", int64(i)))
		}
	}
	if got := high(again); len(got) != 0 {
		t.Errorf("a PATH search in every test: %q", got)
	}
	for i := range failedExecFlood {
		flood = append(flood, fail(fmt.Sprintf("/nonexistent/x%d", i), int64(i)))
	}
	if got := high(flood); len(got) != 1 || !strings.Contains(got[0], "do not exist") {
		t.Errorf("a flood of failing execs: %q", got)
	}
}

func phasedSample() *Phased {
	res := sample()
	inst, fs := ForPhase("install", res)
	return &Phased{Status: "failed", ExitCode: 1, Isolation: "native", Phases: []PhaseRun{
		{Name: "venv", Status: "passed", Ran: true, DurationMS: 40, Findings: []moat.Finding{}},
		{Name: "install", Status: "passed", Ran: true, DurationMS: 900, Events: inst, EventsDropped: 7, Findings: fs},
		{Name: "import", Status: "failed", Ran: true, ExitCode: 1, DurationMS: 80, Findings: []moat.Finding{},
			Events: []moat.Event{{Phase: "import", Source: "kernel", Kind: "connect", Addr: "198.51.100.4:53<i>", PID: 9}}},
		{Name: "test", Status: "skipped", Findings: []moat.Finding{}},
	}}
}

func TestPhasedSARIF(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WritePhasedSARIF(&b, phasedSample(), SARIFOptions{Artifact: "dist/evil-1.0.tar.gz", Version: "test"}); err != nil {
		t.Fatal(err)
	}
	var log struct {
		Version string `json:"version"`
		Runs    []struct {
			Results []struct {
				RuleID     string         `json:"ruleId"`
				Properties map[string]any `json:"properties"`
			} `json:"results"`
			Invocations []struct {
				ExecutionSuccessful *bool          `json:"executionSuccessful"`
				Properties          map[string]any `json:"properties"`
			} `json:"invocations"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 {
		t.Fatalf("%s", b.String())
	}
	for _, r := range log.Runs[0].Results {
		if r.Properties["phase"] != "install" {
			t.Errorf("result %s: phase %v", r.RuleID, r.Properties["phase"])
		}
	}
	var phases []string
	for _, inv := range log.Runs[0].Invocations {
		if inv.ExecutionSuccessful == nil {
			t.Error("invocation without executionSuccessful")
		}
		phases = append(phases, inv.Properties["phase"].(string))
	}
	if strings.Join(phases, ",") != "venv,install,import" {
		t.Errorf("invocations %v", phases)
	}
}

func TestPhasedHTML(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	if err := WritePhasedHTML(&b, phasedSample(), HTMLOptions{Title: "moat test <b>x</b>"}); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, bad := range []string{"<script>alert", "<b>x</b>", "53<i>", "http://", "https://"} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	for _, want := range []string{"<h2>Phases</h2>", "<td><b>install</b></td>", "<td><b>test</b></td><td>skipped</td>", "phase install",
		"<td>import</td>", "198.51.100.4:53&lt;i&gt;", "(+7 dropped)", "CRITICAL", "<b>failed</b>"} {
		if !strings.Contains(s, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestFinishKeepsWitness: a run over its event budget keeps the test
// runner's records, the last of which comes at its end.
func TestFinishKeepsWitness(t *testing.T) {
	t.Parallel()
	var evs []moat.Event
	for i := 0; i < observe.MaxResultEvents+100; i++ {
		evs = append(evs, moat.Event{TimeMS: int64(i), Source: moat.SourceAudit, Kind: moat.KindOpen, Path: "/work/f" + strconv.Itoa(i)})
	}
	evs = append(evs, moat.Event{TimeMS: int64(len(evs)), Source: moat.SourceAudit, Kind: moat.KindTestReport, Path: "end"})
	res := &moat.Result{Status: moat.StatusExited}
	Finish(res, evs, 0, moat.Limits{})
	if len(res.Events) != observe.MaxResultEvents {
		t.Fatalf("%d events kept, want %d", len(res.Events), observe.MaxResultEvents)
	}
	if e := res.Events[len(res.Events)-1]; e.Kind != moat.KindTestReport {
		t.Fatalf("the witness's end record was cut: last event %+v", e)
	}
}
