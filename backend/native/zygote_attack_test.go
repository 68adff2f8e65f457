//go:build linux

package native_test

import (
	"context"
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
