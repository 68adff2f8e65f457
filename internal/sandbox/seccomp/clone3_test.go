//go:build linux && (amd64 || arm64)

package seccomp

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestClone3Program: clone3 fails with ENOSYS (libc then uses clone);
// everything else, clone and another architecture's calls included, is
// allowed (the engine's profile below decides those).
func TestClone3Program(t *testing.T) {
	raw, err := Clone3Program()
	if err != nil {
		t.Fatal(err)
	}
	v := vm(t, raw)
	for _, tt := range []struct {
		name string
		arch uint32
		nr   uint32
		want uint32
	}{
		{"clone3", auditArch, unix.SYS_CLONE3, retErrno(unix.ENOSYS)},
		{"clone", auditArch, unix.SYS_CLONE, retAllow},
		{"getpid", auditArch, unix.SYS_GETPID, retAllow},
		{"foreign arch", unix.AUDIT_ARCH_I386, unix.SYS_CLONE3, retAllow},
	} {
		got, err := v.Run(seccompData(tt.arch, tt.nr))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if uint32(got) != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, action(uint32(got)), action(tt.want))
		}
	}
}
