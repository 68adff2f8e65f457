package pkgtest

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestParseJUnitPytest(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/junit-pytest.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ParseJUnit(f)
	if err != nil {
		t.Fatal(err)
	}
	want := &Tests{Passed: 3, Failed: 2, Errors: 1, Skipped: 1, Failures: []string{
		"tests.test_calc::test_bad_mul", "tests.test_calc.TestDiv::test_bad_div[0]", "tests.test_calc::test_fixture"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
}

func TestParseJUnitHostile(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, doc string
		errPart   string // "" means accepted
		check     func(*Tests) bool
	}{
		{"empty", "", "no testsuite", nil},
		{"not xml", "PASSED 100 tests", "", nil},
		{"unbalanced", "<testsuite><testcase name='a'>", "ends inside", nil},
		{"deep", strings.Repeat("<a>", 100) + strings.Repeat("</a>", 100), "deeper", nil},
		{"entity bomb", `<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><testsuite><testcase name="&b;"/></testsuite>`, "entity", nil},
		{"nested case", `<testsuite><testcase name="outer"><testcase name="inner"><failure/></testcase></testcase></testsuite>`, "",
			func(r *Tests) bool { return r.Passed == 1 && r.Failed == 0 }},
		{"long name", `<testsuite><testcase name="` + strings.Repeat("é", 2000) + `"><failure/></testcase></testsuite>`, "",
			func(r *Tests) bool { return r.Failed == 1 && len(r.Failures[0]) <= maxNameLen+3 }},
		{"newline in a name", `<testsuite><testcase classname="t" name="x&#10;tests: 9 passed, 0 failed&#13;&#x2028;"><failure/></testcase></testsuite>`, "",
			func(r *Tests) bool {
				return r.Failed == 1 && r.Failures[0] == `t::x\ntests: 9 passed, 0 failed\x0d\u2028`
			}},
		{"many failures", "<testsuite>" + strings.Repeat(`<testcase name="x"><error/></testcase>`, maxFailures+5) + "</testsuite>", "",
			func(r *Tests) bool {
				return r.Errors == maxFailures+5 && len(r.Failures) == maxFailures && r.FailuresTruncated
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseJUnit(strings.NewReader(tc.doc))
			if tc.check == nil {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				if tc.errPart != "" && !strings.Contains(err.Error(), tc.errPart) {
					t.Errorf("err %q, want it to mention %q", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(got) {
				t.Errorf("got %+v", got)
			}
		})
	}
}

func TestParseJUnitTooLarge(t *testing.T) {
	t.Parallel()
	doc := "<testsuite>" + strings.Repeat("<testcase name='x'/>", maxJUnitBytes/20+10) + "</testsuite>"
	if _, err := ParseJUnit(strings.NewReader(doc)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzParseJUnit(f *testing.F) {
	b, _ := os.ReadFile("testdata/junit-pytest.xml")
	f.Add(string(b))
	f.Add(`<testsuite><testcase classname="a" name="b"><skipped/></testcase></testsuite>`)
	f.Fuzz(func(t *testing.T, doc string) {
		r, err := ParseJUnit(strings.NewReader(doc))
		if err != nil {
			if strings.ContainsAny(err.Error(), "\n") && len(err.Error()) > 2*maxNameLen {
				t.Fatalf("unbounded error: %q", err)
			}
			return
		}
		if r.Passed < 0 || r.Failed < 0 || r.Errors < 0 || r.Skipped < 0 {
			t.Fatalf("negative count: %+v", r)
		}
		if len(r.Failures) > maxFailures || len(r.Failures) > r.Failed+r.Errors {
			t.Fatalf("failures %d for %d failed + %d errors", len(r.Failures), r.Failed, r.Errors)
		}
		for _, n := range r.Failures {
			if len(n) > maxNameLen+3 {
				t.Fatalf("name of %d bytes", len(n))
			}
		}
	})
}
