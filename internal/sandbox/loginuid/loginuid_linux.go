// Package loginuid gives a sandbox's program the login uid a developer's
// shell has. glibc's getlogin(), which Python's os.getlogin() calls, reads
// /proc/self/loginuid first and fails with ENXIO when it is unset
// (4294967295), as it is under every service manager, container engine
// and CI runner; only a process that cannot open the file falls back to
// utmp and the terminal on fd 0. A login on a developer machine has it
// set (pam_loginuid), so malware that builds its paths from
// os.getlogin() (package-test-index: /home/<login>/.config/...) died in
// the sandbox before its payload.
//
// The kernel lets a task whose login uid is unset set it once, without
// any capability (kernel/audit.c, audit_set_loginuid_perm); the value is
// taken in the user namespace of the writer and read back in the reader's
// (proc_loginuid_write, proc_loginuid_read), so the program reads its own
// uid, whose /etc/passwd entry is the persona's. The login uid is per
// thread and inherited by what the thread forks: Set must be called on the
// thread that starts the program (locked with runtime.LockOSThread), or in
// the process that execs it. A login uid already set (moat started from a
// login session) cannot be changed without CAP_AUDIT_CONTROL in the
// initial user namespace, and a kernel without audit, or gVisor, has no
// such file: then Set fails and nothing else changes. It is best effort:
// its absence is a tell, not a weaker sandbox.
package loginuid

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// unset is the kernel's value of no login uid.
const unset = "4294967295"

// Set sets the calling thread's login uid to uid if it is unset. It
// returns nil if the thread's login uid is uid already.
func Set(uid int) error {
	const file = "/proc/thread-self/loginuid"
	b, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	switch cur := strings.TrimSpace(string(b)); cur {
	case strconv.Itoa(uid):
		return nil
	case unset:
	default:
		return errors.New("login uid already set to " + cur)
	}
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte(strconv.Itoa(uid))) // one write: the kernel takes no partial ones
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
