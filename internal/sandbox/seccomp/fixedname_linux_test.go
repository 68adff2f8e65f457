package seccomp

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// fixedRootEnv makes the test binary the child of TestFixedName: in its
// own user and mount namespaces, it chroots into a read-only tmpfs (with
// a writable one at /rw) and waits.
const fixedRootEnv = "MOAT_TEST_FIXED_ROOT"

func TestMain(m *testing.M) {
	if base := os.Getenv(fixedRootEnv); base != "" {
		if err := fixedRoot(base); err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func fixedRoot(base string) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", base, "tmpfs", 0, "size=1m"); err != nil {
		return err
	}
	for _, d := range []string{"bin/sub", "rw"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(base, "bin/tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		return err
	}
	for link, target := range map[string]string{"bin/link": "tool", "abs": "/bin/tool", "out": "/rw/tool", "bin/up": "../bin/link"} {
		if err := os.Symlink(target, filepath.Join(base, link)); err != nil {
			return err
		}
	}
	if err := unix.Mount("tmpfs", filepath.Join(base, "rw"), "tmpfs", 0, "size=1m"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(base, "rw/tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		return err
	}
	if err := unix.Mount("", base, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return err
	}
	if err := unix.Chroot(base); err != nil {
		return err
	}
	if err := os.Chdir("/"); err != nil {
		return err
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return nil
}

// TestFixedName: a name every directory of whose lookup is on a read-only
// mount, links followed, names its file for good (fixedName); a lookup
// that passes through a writable directory, a relative name, or a file
// other than the one read is not fixed.
func TestFixedName(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the child maps uid 0 in its own user namespace")
	}
	base := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fixedRootEnv+"="+base)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = cmd.Wait() }()
	if line, _ := bufio.NewReader(out).ReadString('\n'); line != "ready\n" {
		t.Fatalf("child: %q", line)
	}
	root := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/root"
	id := func(name string) fileID {
		var st unix.Stat_t
		if err := unix.Stat(root+name, &st); err != nil {
			t.Fatal(err)
		}
		return fileID{dev: st.Dev, ino: st.Ino}
	}
	tool, rwTool := id("/bin/tool"), id("/rw/tool")
	for _, c := range []struct {
		name  string
		want  fileID
		fixed bool
	}{
		{"/bin/tool", tool, true},
		{"/bin/link", tool, true},        // a relative link, in a read-only directory
		{"/abs", tool, true},             // an absolute one
		{"/bin/sub/../tool", tool, true}, // ".."
		{"/bin/up", tool, true},          // a link through a link
		{"//bin/./tool", tool, true},     // spelled oddly
		{"/bin/tool", rwTool, false},     // not the file read
		{"/rw/tool", rwTool, false},      // a writable directory
		{"/out", rwTool, false},          // a link into one
		{"bin/tool", tool, false},        // relative
		{"/bin", tool, false},            // a directory
		{"/bin/missing", tool, false},    // nothing
		{"/bin/tool/", tool, false},      // a file as a directory
		{"/bin/sub/../../rw/tool", rwTool, false},
	} {
		if got := fixedName(cmd.Process.Pid, c.name, c.want); got != c.fixed {
			t.Errorf("fixedName(%q) = %v, want %v", c.name, got, c.fixed)
		}
	}
}
