//go:build linux

package native_test

import (
	"context"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
)

// likeCold are programs whose output a zygote child must give as a cold
// native run does: a program that can tell them apart can tell it is in
// moat's zygote, and an ordinary one may break.
var likeCold = []string{
	// The traceback of an uncaught exception: the program's frames only.
	"raise ValueError('x')",
	// The program's own /proc files: it may read them (a cold run's
	// program is dumpable; the zygote's reaper is not, and it was
	// inherited).
	"print(open('/proc/self/environ', 'rb').read().count(b'PATH='), len(open('/proc/self/auxv', 'rb').read()) > 0)",
	// The user of the environment is the password file's.
	"import os, pwd\np = pwd.getpwuid(os.getuid())\nprint(p.pw_name == os.environ['USER'] == os.environ['LOGNAME'], p.pw_dir == os.environ['HOME'])",
}

// TestZygoteLikeCold: a zygote child looks to its program as a cold run
// does (the likeCold programs give the same output).
func TestZygoteLikeCold(t *testing.T) {
	z := newZygote(t)
	for _, src := range likeCold {
		spec := moat.Spec{Args: []string{"-c", src}, NoReport: true}
		cold, err := (&native.Backend{}).Run(context.Background(), &spec)
		if err != nil {
			t.Fatal(err)
		}
		warm := zygoteRun(t, z, &spec)
		if warm.Status != cold.Status || warm.ExitCode != cold.ExitCode || warm.Stdout != cold.Stdout || warm.Stderr != cold.Stderr {
			t.Errorf("%q:\nzygote %s %d %q %q\ncold   %s %d %q %q", src, warm.Status, warm.ExitCode, warm.Stdout, warm.Stderr, cold.Status, cold.ExitCode, cold.Stdout, cold.Stderr)
		}
	}
}

// memoryTokens is a program that lists the sha256 of every AWS secret
// key it finds in its own memory (every readable mapping, through
// /proc/self/mem) before it reads a file, then of the key in its own
// ~/.aws/credentials. It never holds a key it is looking for: it hashes
// what it finds.
const memoryTokens = `import hashlib, os, re
pat = re.compile(rb"aws_secret_access_key\s*=\s*([A-Za-z0-9/+]{40})")
found = set()
with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
    for line in maps:
        f = line.split()
        if "r" not in f[1] or line.rstrip().endswith(("[vvar]", "[vsyscall]", "[vvar_vclock]")):
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        try:
            mem.seek(lo)
            b = mem.read(hi - lo)
        except (OSError, OverflowError, ValueError):
            continue
        found.update(hashlib.sha256(m.group(1)).hexdigest() for m in pat.finditer(b))
own = open(os.path.expanduser("~/.aws/credentials"), "rb").read()
print(" ".join(sorted(found)))
print(hashlib.sha256(pat.search(own).group(1)).hexdigest())`

// TestZygoteNoTokensInMemory: a zygote child's program starts with a copy
// of its ancestors' memory (fork). No honeytoken may be in it: neither an
// earlier child's (the zygote's freed buffers of every fork command it
// read), which would be one run's data seen by another, nor the run's
// own before the program reads the file, which tells the program which
// credentials are planted.
func TestZygoteNoTokensInMemory(t *testing.T) {
	z, tmpl := newReportZygote(t)
	run := func() (inMemory []string, own string) {
		sb, err := z.Prepare(context.Background(), &tmpl)
		if err != nil {
			t.Fatal(err)
		}
		defer sb.Close()
		res, err := sb.Run(context.Background(), &moat.Spec{Args: []string{"-c", memoryTokens}})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimRight(res.Stdout, "\n"), "\n")
		if res.ExitCode != 0 || len(lines) != 2 || len(lines[1]) != 64 {
			t.Fatalf("probe: %s %d %q %s", res.Status, res.ExitCode, res.Stdout, res.Stderr)
		}
		return strings.Fields(lines[0]), lines[1]
	}
	var earlier []string
	for i := 0; i < 3; i++ {
		inMemory, own := run()
		for _, h := range inMemory {
			if h == own {
				t.Errorf("child %d: its own AWS secret key was in its memory before it read the file", i)
			}
			for _, e := range earlier {
				if h == e {
					t.Errorf("child %d: an earlier child's AWS secret key was in its memory", i)
				}
			}
		}
		earlier = append(earlier, own)
	}
}
