//go:build linux

package seccomp

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestScriptInterpreter: the kernel's reading of a "#!" line.
func TestScriptInterpreter(t *testing.T) {
	for line, want := range map[string]string{
		"#!/usr/bin/python3":       "/usr/bin/python3",
		"#! \t/venv/bin/python -E": "/venv/bin/python",
		"#!/usr/bin/env python3":   "/usr/bin/env",
		"#!rel/python":             "rel/python",
		"#!":                       "",
		"#!   ":                    "",
		"# /usr/bin/python3":       "",
		"":                         "",
		"#!/a\tb":                  "/a",
	} {
		if got := ScriptInterpreter(line); got != want {
			t.Errorf("ScriptInterpreter(%q) = %q, want %q", line, got, want)
		}
	}
}

// TestOpenScriptInterpreter: links are followed inside the caller's root
// (this process's: "/" here), absolute and relative, through directories
// too; a way into /proc (whose self links would be the supervisor's) is
// refused, and so is a file named as a directory.
func TestOpenScriptInterpreter(t *testing.T) {
	d := t.TempDir()
	real := filepath.Join(d, "real", "python3.11")
	must(t, os.MkdirAll(filepath.Dir(real), 0o755))
	must(t, os.WriteFile(real, []byte("the interpreter"), 0o755))
	must(t, os.MkdirAll(filepath.Join(d, "venv", "bin"), 0o755))
	must(t, os.Symlink(real, filepath.Join(d, "venv", "bin", "python3")))             // absolute
	must(t, os.Symlink("python3", filepath.Join(d, "venv", "bin", "python")))         // relative
	must(t, os.Symlink("../real", filepath.Join(d, "venv", "lib")))                   // a directory
	must(t, os.Symlink("/proc/self/exe", filepath.Join(d, "venv", "bin", "viaproc"))) // magic
	must(t, os.Symlink("/proc/self/cwd", filepath.Join(d, "procdir")))
	must(t, os.Symlink("/dev/fd/0", filepath.Join(d, "devfd")))
	for _, name := range []string{real, d + "/venv/bin/python3", d + "/venv/bin/python", d + "/venv/lib/python3.11", d + "//venv/./bin/../bin/python"} {
		f, err := OpenScriptInterpreter(os.Getpid(), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if !bytes.Equal(b, []byte("the interpreter")) {
			t.Errorf("%s: read %q", name, b)
		}
	}
	for _, name := range []string{d + "/venv/bin/viaproc", d + "/procdir/x", d + "/devfd", "/proc/self/exe", "/proc/1/root/bin/sh", real + "/x", d + "/none", d + strings.Repeat("/x", 2100)} {
		if f, err := OpenScriptInterpreter(os.Getpid(), name); err == nil {
			f.Close()
			t.Errorf("%s: opened", name)
		} else if name == d+"/none" && !errors.Is(err, unix.ENOENT) {
			t.Errorf("%s: %v, want ENOENT", name, err)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOpenExecShared: the containers' init opens what an exec names by the
// same walk: a relative name from the caller's working directory, and a
// descriptor's name (/dev/fd/N: a link into /proc) never the init's own.
func TestOpenExecShared(t *testing.T) {
	d := t.TempDir()
	must(t, os.WriteFile(filepath.Join(d, "tool"), []byte("tool"), 0o755))
	must(t, os.Symlink("/dev/fd/0", filepath.Join(d, "stdin")))
	wd, err := os.Getwd()
	must(t, err)
	must(t, os.Chdir(d))
	defer os.Chdir(wd)
	f, err := OpenExecShared(os.Getpid(), unix.AT_FDCWD, "./tool", 0)
	if err != nil {
		t.Fatalf("./tool: %v", err)
	}
	b, _ := io.ReadAll(f)
	f.Close()
	if string(b) != "tool" {
		t.Errorf("./tool: read %q", b)
	}
	for _, name := range []string{"stdin", "/dev/fd/0", d + "/stdin"} {
		if f, err := OpenExecShared(os.Getpid(), unix.AT_FDCWD, name, 0); err == nil {
			f.Close()
			t.Errorf("%s: opened", name)
		}
	}
}
