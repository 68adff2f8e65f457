package report

import (
	"strings"
	"testing"
)

func TestParseAnswers(t *testing.T) {
	t.Parallel()
	tag := "0123456789abcdef0123456789abcdef"
	out := "noise\n" + tag + " 0 same\n" + tag + " 0 differs\nffff 1 same\n" + tag + " 1 differs\n" + tag + " 2 bogus\n" + tag + " 9 same\n" + tag + " done 3\n"
	got, done := parseAnswers(out, tag, 3)
	if !done || got[0] != "same" || got[1] != "differs" || got[2] != "" || len(got) != 2 {
		t.Errorf("got %v %v", got, done)
	}
	if _, done := parseAnswers(tag+" 0 same\n"+tag+" done 2\n", tag, 3); done {
		t.Error("a done line for another count was taken")
	}
}

// FuzzParseAnswers: whatever the sandbox prints, the answers are known
// verdicts for indexes in range, and a line without the tag is none.
func FuzzParseAnswers(f *testing.F) {
	tag := "0123456789abcdef0123456789abcdef"
	f.Add(tag+" 0 same\n"+tag+" done 1\n", 1)
	f.Add("x 0 same\n", 2)
	f.Fuzz(func(t *testing.T, out string, n int) {
		n = min(max(n, 0), 200)
		got, _ := parseAnswers(out, tag, n)
		for i, v := range got {
			if i < 0 || i >= n || (v != "same" && v != "differs" && v != "magic" && v != "error") {
				t.Fatalf("answer %d %q", i, v)
			}
		}
		if !strings.Contains(out, tag) && len(got) > 0 {
			t.Fatal("an answer without the tag")
		}
	})
}
