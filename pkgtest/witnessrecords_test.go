package pkgtest

import (
	"strconv"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestWitnessNamesNothing: the code on the test phase's command line,
// which the package can read, names nothing of moat and has no comment.
func TestWitnessNamesNothing(t *testing.T) {
	t.Parallel()
	code := witnessCode()
	for _, w := range []string{"moat", "sandbox", "honey", "#"} {
		if strings.Contains(strings.ToLower(code), w) {
			t.Errorf("the witness's code holds %q", w)
		}
	}
	if !strings.Contains(code, "pytest.main(plugins=") {
		t.Errorf("the witness's code does not run pytest with its plugin:\n%s", code)
	}
}

// TestWitnessRecords: the records compared with the claims, one case a
// rule, each with the Name of the event it must give ("" for none).
func TestWitnessRecords(t *testing.T) {
	t.Parallel()
	rec := func(what, name, detail string) moat.Event {
		return moat.Event{Source: moat.SourceAudit, Kind: moat.KindTestReport, Path: what, Name: name, Detail: detail}
	}
	hello := moat.Event{Source: moat.SourceAudit, Kind: moat.KindHello}
	start := rec("start", "", "pid 7")
	end := func(failed, cases int) moat.Event {
		return rec("end", "", "exitstatus=0 testsfailed=0 cases="+itoa(cases)+" made=3 failed="+itoa(failed)+" changed=0 unseen=0 workers=0")
	}
	passed := &Tests{Passed: 3}
	for _, c := range []struct {
		name   string
		evs    []moat.Event
		exited bool
		exit   int
		tests  *Tests
		want   []string
	}{
		{"all passed, all witnessed", []moat.Event{hello, start, end(0, 3)}, true, 0, passed, nil},
		{"real failures", []moat.Event{hello, start, rec("failed", "t::a", "call"), end(1, 3)}, true, 1, &Tests{Passed: 2, Failed: 1}, nil},
		{"no hook: no witness to read", nil, true, 0, passed, nil},
		{"killed: nothing said", []moat.Event{hello, start}, false, 0, nil, nil},
		{"usage error before the session", []moat.Event{hello, start}, true, 4, nil, nil},
		{"changed", []moat.Event{hello, start, rec("changed", "t::a", "call failed, logged passed"), end(0, 3)}, true, 0, passed, []string{"changed"}},
		{"never started", []moat.Event{hello}, true, 0, passed, []string{"removed"}},
		{"removed", []moat.Event{hello, start}, true, 0, passed, []string{"removed"}},
		{"exit 0 with failures", []moat.Event{hello, start, rec("failed", "t::a", "call"), end(1, 3)}, true, 0, &Tests{Passed: 2, Failed: 1}, []string{"exit"}},
		{"junit hides a failure", []moat.Event{hello, start, rec("failed", "t::a", "call"), end(1, 3)}, true, 1, passed, []string{"junit"}},
		{"junit lists unseen tests", []moat.Event{hello, start, end(0, 1)}, true, 0, passed, []string{"junit"}},
		{"forged end", []moat.Event{hello, start, end(0, 3), end(0, 3)}, true, 0, passed, []string{"forged"}},
		{"unseen report", []moat.Event{hello, start, rec("unseen", "t::z", "call passed"), end(0, 3)}, true, 0, passed, []string{"unseen"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, e := range readWitness(c.evs).events(c.exited, c.exit, c.tests) {
				if e.Source != moat.SourceMoat || e.Kind != moat.KindTestWitness || e.Detail == "" {
					t.Errorf("event %+v", e)
				}
				got = append(got, e.Name)
			}
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("events %v, want %v", got, c.want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
