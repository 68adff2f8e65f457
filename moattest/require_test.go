package moattest

import (
	"os/exec"
	"runtime"
	"testing"
)

func TestRequired(t *testing.T) {
	for _, c := range []struct {
		list, name string
		want       bool
	}{
		{"", "native", false},
		{"native", "native", true},
		{"docker,native", "native", true},
		{" docker , native ", "native", true},
		{"docker", "native", false},
		{"all", "gvisor", true},
		{"nativex", "native", false},
		{",", "", false},
	} {
		if got := required(c.list, c.name); got != c.want {
			t.Errorf("required(%q, %q) = %v, want %v", c.list, c.name, got, c.want)
		}
	}
}

func TestCaseNamesUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, n := range CaseNames() {
		if seen[n] {
			t.Errorf("case %q defined twice", n)
		}
		seen[n] = true
	}
}

// verdictTB records how RequirePython ended a test.
type verdictTB struct {
	testing.TB
	fatal, skip bool
}

func (v *verdictTB) Helper()               {}
func (v *verdictTB) Fatalf(string, ...any) { v.fatal = true; runtime.Goexit() }
func (v *verdictTB) Skip(...any)           { v.skip = true; runtime.Goexit() }

// TestRequirePython: a module the host interpreter lacks skips the test,
// and fails it where CI requires its parts (RequireEnv set).
func TestRequirePython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 on PATH")
	}
	for _, c := range []struct {
		env, module       string
		wantFatal, wantSk bool
	}{
		{"", "os", false, false},
		{"", "moat_no_such_module", false, true},
		{"native", "moat_no_such_module", true, false},
		{"native", "os", false, false},
	} {
		t.Setenv(RequireEnv, c.env)
		v := &verdictTB{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); RequirePython(v, py, c.module) }()
		<-done
		if v.fatal != c.wantFatal || v.skip != c.wantSk {
			t.Errorf("%s=%q, import %s: fatal %v skip %v, want %v %v", RequireEnv, c.env, c.module, v.fatal, v.skip, c.wantFatal, c.wantSk)
		}
	}
}
