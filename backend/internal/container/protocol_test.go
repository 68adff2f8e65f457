package container

import (
	"os/exec"
	"strings"
	"testing"
)

// TestEntrySource checks the split bootstrap: ASCII (so that Go's quoting
// is Python's), both parts present, and, where a python3 is installed, that
// the -c source and its late part compile. Nothing of the bootstrap runs
// on the host: its kill(-1) is safe only as pid 1 of a container.
func TestEntrySource(t *testing.T) {
	for i, c := range bootstrap {
		if c > 0x7e || c < 0x20 && c != '\n' {
			t.Fatalf("bootstrap.py has a non-ASCII or control character at %d", i)
		}
	}
	src := entrySource()
	if !strings.Contains(bootstrap, lateMark) || !strings.Contains(src, "exec(compile(\"# --- late:") {
		t.Fatalf("the bootstrap is not split at %q", lateMark)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 to compile the bootstrap with")
	}
	const check = `import ast, sys
src = sys.stdin.read()
compile(src, "<bootstrap>", "exec")
call = ast.parse(src).body[-1].value
assert call.func.id == "exec", "the last statement is not the late part's exec"
late = call.args[0].args[0].value
compile(late, "<bootstrap-late>", "exec")
assert late.startswith("# --- late:"), late[:40]
`
	cmd := exec.Command(py, "-I", "-S", "-c", check)
	cmd.Stdin = strings.NewReader(src)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("compile the bootstrap: %v\n%s", err, out)
	}
}

// TestLastLine: a lost container's error is the last thing it said (a
// traceback's exception), not "Traceback (most recent call last):".
func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{
		"Traceback (most recent call last):\n  File \"x\", line 1\nFileNotFoundError: [Errno 2] gone\n\n": "FileNotFoundError: [Errno 2] gone",
		"Error: no such image": "Error: no such image",
		"":                     "",
	} {
		if got := lastLine(in); got != want {
			t.Errorf("lastLine(%q) = %q, want %q", in, got, want)
		}
	}
}
