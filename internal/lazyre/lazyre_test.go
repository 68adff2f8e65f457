package lazyre

import (
	"strings"
	"testing"
)

func TestLazy(t *testing.T) {
	r := New(`a(b+)c`)
	if r.re != nil {
		t.Fatal("compiled before its first use")
	}
	if !r.MatchString("xabbc") || r.MatchString("ac") {
		t.Error("MatchString")
	}
	if got := r.FindStringSubmatch("abbbc"); len(got) != 2 || got[1] != "bbb" {
		t.Errorf("FindStringSubmatch = %q", got)
	}
	if got := r.ReplaceAllString("abc abbc", "-"); got != "- -" {
		t.Errorf("ReplaceAllString = %q", got)
	}
	if r.String() != `a(b+)c` {
		t.Errorf("String = %q", r.String())
	}
}

func TestCheck(t *testing.T) {
	if err := Check(); err != nil {
		t.Fatalf("Check before a bad pattern: %v", err)
	}
	bad := New(`a(b`)
	defer func() { // keep Check clean for other tests of this binary
		mu.Lock()
		all = all[:len(all)-1]
		mu.Unlock()
	}()
	err := Check()
	if err == nil || !strings.Contains(err.Error(), `"a(b"`) {
		t.Fatalf("Check = %v, want the bad pattern named", err)
	}
	if bad.re != nil {
		t.Error("Check kept a compiled expression")
	}
}
