//go:build linux && (amd64 || arm64)

package seccomp

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestNotifyGolden pins the notify program as TestGolden pins Program.
func TestNotifyGolden(t *testing.T) {
	raw, err := NotifyProgram()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.ReplaceAll(render(raw), "unknown action 0x7fc00000", "USER_NOTIF")
	path := filepath.Join("testdata", "notify_"+runtime.GOARCH+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if os.IsNotExist(err) && runtime.GOARCH != "amd64" {
		t.Skipf("no %s; create it on this architecture with go test -update", path)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("program differs from %s (run go test -update after review):\n%s", path, lineDiff(string(want), got))
	}
}

// TestNotifyDecisions: every decision of Program is kept, with each errno
// turned into a notification whose answer DenyErrno gives back; the
// watched syscalls notify; everything else is allowed as before.
func TestNotifyDecisions(t *testing.T) {
	plain, err := Program()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := NotifyProgram()
	if err != nil {
		t.Fatal(err)
	}
	pv, nv := vm(t, plain), vm(t, raw)
	probe := func(arch, nr uint32, args ...uint64) (uint32, uint32) {
		a, err := pv.Run(seccompData(arch, nr, args...))
		if err != nil {
			t.Fatal(err)
		}
		b, err := nv.Run(seccompData(arch, nr, args...))
		if err != nil {
			t.Fatal(err)
		}
		return uint32(a), uint32(b)
	}
	for nr := uint32(0); nr < 500; nr++ {
		for _, args := range [][]uint64{nil, {unix.CLONE_NEWUSER, unix.TIOCSTI}, {0xffffffff}, {0x40}} {
			p, n := probe(auditArch, nr, args...)
			_, isWatched := Watched[nr]
			isWatched = isWatched || slices.Contains(endCalls(), nr) // for ExecCheck alone
			switch {
			case p&unix.SECCOMP_RET_ACTION_FULL == unix.SECCOMP_RET_ERRNO:
				errno, _, ok := DenyErrno(nr)
				if n != retNotify || !ok || uint32(errno) != p&unix.SECCOMP_RET_DATA {
					t.Errorf("nr %d args %x: plain %s, notify %s, DenyErrno %v %v", nr, args, action(p), action(n), errno, ok)
				}
			case isWatched:
				if p != retAllow || n != retNotify {
					t.Errorf("watched nr %d: plain %s, notify %s", nr, action(p), action(n))
				}
			default:
				if p != n {
					t.Errorf("nr %d args %x: plain %s, notify %s", nr, args, action(p), action(n))
				}
			}
		}
	}
	if p, n := probe(unix.AUDIT_ARCH_I386, unix.SYS_EXECVE); p != retKill || n != retKill {
		t.Errorf("foreign arch: %s %s", action(p), action(n))
	}
	if _, ok := Watched[unix.SYS_EXECVE]; !ok {
		t.Error("execve not watched")
	}
}

// TestExecWatchProgram: every execve, execveat, connect, bind and listen
// notifies, of every calling convention; nothing else is touched (no
// denial, no kill).
func TestExecWatchProgram(t *testing.T) {
	raw, err := ExecWatchProgram()
	if err != nil {
		t.Fatal(err)
	}
	v := vm(t, raw)
	type tc struct {
		name     string
		arch, nr uint32
		want     uint32
	}
	tests := []tc{
		{"execve", auditArch, unix.SYS_EXECVE, retNotify},
		{"execveat", auditArch, unix.SYS_EXECVEAT, retNotify},
		{"getpid", auditArch, unix.SYS_GETPID, retAllow},
		{"openat", auditArch, unix.SYS_OPENAT, retAllow},
		{"connect", auditArch, unix.SYS_CONNECT, retNotify},
		{"bind", auditArch, unix.SYS_BIND, retNotify},
		{"listen", auditArch, unix.SYS_LISTEN, retNotify},
		{"accept", auditArch, unix.SYS_ACCEPT, retAllow},
		{"sendto", auditArch, unix.SYS_SENDTO, retAllow},
		{"clone3", auditArch, unix.SYS_CLONE3, retAllow},
		{"exit_group", auditArch, unix.SYS_EXIT_GROUP, retNotify},
		{"exit", auditArch, unix.SYS_EXIT, retNotify},
		{"kill", auditArch, unix.SYS_KILL, retNotify},
		{"tgkill", auditArch, unix.SYS_TGKILL, retNotify},
		{"pidfd_send_signal", auditArch, unix.SYS_PIDFD_SEND_SIGNAL, retNotify},
		{"rt_sigaction", auditArch, unix.SYS_RT_SIGACTION, retAllow},
	}
	for arch, nrs := range exitOther {
		for _, nr := range nrs {
			tests = append(tests, tc{fmt.Sprintf("exit %d of arch %#x", nr, arch), arch, nr, retNotify})
			if !Exit(Notif{Arch: arch, Nr: int32(nr)}) || Signal(Notif{Arch: arch, Nr: int32(nr)}) {
				t.Errorf("exit %d of arch %#x: not Exit, or Signal", nr, arch)
			}
		}
	}
	for arch, nrs := range signalOther {
		for _, nr := range nrs {
			tests = append(tests, tc{fmt.Sprintf("signal %d of arch %#x", nr, arch), arch, nr, retNotify})
			if !Signal(Notif{Arch: arch, Nr: int32(nr)}) {
				t.Errorf("signal %d of arch %#x: not Signal", nr, arch)
			}
		}
	}
	for _, nr := range endCalls() {
		if !Exit(Notif{Arch: auditArch, Nr: int32(nr)}) {
			t.Errorf("%d: not Exit", nr)
		}
		if Signal(Notif{Arch: auditArch, Nr: int32(nr)}) != (nr != unix.SYS_EXIT_GROUP && nr != unix.SYS_EXIT) {
			t.Errorf("%d: Signal misjudged", nr)
		}
	}
	if Exit(Notif{Arch: auditArch, Nr: unix.SYS_EXECVE}) || Signal(Notif{Arch: auditArch, Nr: unix.SYS_RT_SIGACTION}) {
		t.Error("Exit or Signal: execve or rt_sigaction misjudged")
	}
	for arch, nrs := range execOther {
		for _, nr := range nrs {
			tests = append(tests, tc{fmt.Sprintf("exec %d of arch %#x", nr, arch), arch, nr, retNotify})
		}
		if arch != auditArch {
			tests = append(tests, tc{fmt.Sprintf("getpid-like 20 of arch %#x", arch), arch, 20, retAllow})
		}
	}
	for arch, nrs := range connectOther {
		for _, nr := range nrs {
			tests = append(tests, tc{fmt.Sprintf("connect %d of arch %#x", nr, arch), arch, nr, retNotify})
			if WatchCall(Notif{Arch: arch, Nr: int32(nr)}) != "connect" {
				t.Errorf("connect %d of arch %#x: WatchCall says %q", nr, arch, WatchCall(Notif{Arch: arch, Nr: int32(nr)}))
			}
		}
	}
	for call, others := range map[string]map[uint32][]uint32{"bind": bindOther, "listen": listenOther} {
		for arch, nrs := range others {
			for _, nr := range nrs {
				tests = append(tests, tc{fmt.Sprintf("%s %d of arch %#x", call, nr, arch), arch, nr, retNotify})
				if got := WatchCall(Notif{Arch: arch, Nr: int32(nr)}); got != call {
					t.Errorf("%s %d of arch %#x: WatchCall says %q", call, nr, arch, got)
				}
			}
		}
		if len(others) == 0 {
			t.Errorf("no other calling convention's %s", call)
		}
	}
	for arch, nrs := range execatOther {
		for _, nr := range nrs {
			if WatchCall(Notif{Arch: arch, Nr: int32(nr)}) != "execveat" {
				t.Errorf("execveat %d of arch %#x: WatchCall says %q", nr, arch, WatchCall(Notif{Arch: arch, Nr: int32(nr)}))
			}
		}
	}
	if WatchCall(Notif{Arch: auditArch, Nr: unix.SYS_EXECVE}) != "execve" || WatchCall(Notif{Arch: auditArch, Nr: unix.SYS_CONNECT}) != "connect" ||
		WatchCall(Notif{Arch: auditArch, Nr: unix.SYS_BIND}) != "bind" || WatchCall(Notif{Arch: auditArch, Nr: unix.SYS_LISTEN}) != "listen" {
		t.Error("WatchCall misnames the native execve, connect, bind or listen")
	}
	if runtime.GOARCH == "amd64" {
		tests = append(tests, tc{"x32 getpid", auditArch, 0x40000000 | 39, retAllow})
	}
	// socketcall(SYS_CONNECT, args) connects as well as connect does: it
	// notifies (connect was seen only on i386's own syscall), and so do
	// its bind and listen; socketcall's other calls do not.
	for arch, nr := range socketcallOther {
		for call, want := range map[uint64]uint32{sysConnect: retNotify, sysBind: retNotify, sysListen: retNotify, 1<<32 | sysBind: retNotify,
			1: retAllow, 5: retAllow, 9: retAllow, 1<<32 | 1: retAllow} {
			got, err := v.Run(seccompData(arch, nr, call, 0x1000))
			if err != nil {
				t.Fatal(err)
			}
			if uint32(got) != want {
				t.Errorf("socketcall(%#x) of arch %#x: %s, want %s", call, arch, action(uint32(got)), action(want))
			}
		}
		for call, want := range map[uint64]string{sysConnect: "connect", sysBind: "bind", sysListen: "listen"} {
			n := Notif{Arch: arch, Nr: int32(nr), Args: [6]uint64{call}}
			if !Socketcall(n) || WatchCall(n) != want {
				t.Errorf("socketcall(%d) of arch %#x: Socketcall %v, WatchCall %q, want %q", call, arch, Socketcall(n), WatchCall(n), want)
			}
		}
	}
	if runtime.GOARCH == "amd64" && len(socketcallOther) == 0 {
		t.Error("i386's socketcall is not watched")
	}
	// Go's preemption signal to its own threads does not notify.
	for sig, want := range map[uint64]uint32{uint64(unix.SIGURG): retAllow, uint64(unix.SIGKILL): retNotify, uint64(unix.SIGSEGV): retNotify} {
		if got, _ := v.Run(seccompData(auditArch, unix.SYS_TGKILL, 1, 1, sig)); uint32(got) != want {
			t.Errorf("tgkill of signal %d: %s, want %s", sig, action(uint32(got)), action(want))
		}
	}
	for _, tt := range tests {
		got, err := v.Run(seccompData(tt.arch, tt.nr))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if uint32(got) != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, action(uint32(got)), action(tt.want))
		}
	}
}
