//go:build linux && (amd64 || arm64)

package seccomp

import (
	"os"
	"strconv"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Clone3Program returns a filter that fails clone3 with ENOSYS and allows
// everything else. Container profiles (Docker's, moat's) refuse clone3,
// whose flags a filter cannot read, with ENOSYS, so that libc falls back
// to clone, whose flags they check. gVisor's runsc applies such a profile
// (--oci-seccomp) but answers every errno rule with EPERM, and glibc's
// pthread_create does not fall back on EPERM: no thread starts. Stacked
// on top, this filter's ENOSYS wins (of two errno answers the newer
// filter's is taken, by Linux and by gVisor).
func Clone3Program() ([]bpf.RawInstruction, error) {
	const allow, enosys = label("allow"), label("enosys")
	return assemble([]bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: auditArch, f: allow},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: unix.SYS_CLONE3, t: enosys},
		allow, bpf.RetConstant{Val: retAllow},
		enosys, bpf.RetConstant{Val: retErrno(unix.ENOSYS)},
	})
}

// InstallClone3ENOSYS installs [Clone3Program] on all threads of the
// calling process, under no_new_privs, as [Install] does.
func InstallClone3ENOSYS() error {
	raw, err := Clone3Program()
	if err != nil {
		return err
	}
	return installRaw(raw)
}

// Clone3Probe says whether notification n, a refused clone3, is a
// runtime's probe rather than the program's doing: its flags (struct
// clone_args in the caller's memory, read before the answer) ask for no
// namespace. glibc starts every thread and process with clone3 and falls
// back to clone on ENOSYS; only a clone3 that asks for a namespace is
// worth an event. A flags word that cannot be read is no probe.
func Clone3Probe(n Notif) bool {
	mem, err := os.Open("/proc/" + strconv.Itoa(int(n.PID)) + "/mem")
	if err != nil {
		return false
	}
	defer mem.Close()
	flags, ok := Clone3Flags(mem, n.Args)
	return ok && flags&cloneNamespaceFlags == 0
}
