package container

import (
	"encoding/json"
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	moatseccomp "github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// allows evaluates the profile's allow rules for one call as runc and crun
// do: conditions on different arguments ANDed; a rule without conditions
// matches always.
func allows(p *profile, name string, args [6]uint64) bool {
	for _, r := range p.Syscalls {
		if !slices.Contains(r.Names, name) || r.Action != specs.ActAllow {
			continue
		}
		match := true
		for _, a := range r.Args {
			switch a.Op {
			case specs.OpEqualTo:
				match = match && args[a.Index] == a.Value
			case specs.OpNotEqual:
				match = match && args[a.Index] != a.Value
			case specs.OpMaskedEqual:
				match = match && args[a.Index]&a.Value == a.ValueTwo
			default:
				panic("op " + string(a.Op))
			}
		}
		if match {
			return true
		}
	}
	return false
}

// TestSeccompFamilies: the engines' profile allows socket and socketpair
// exactly for the families native's filter allows; everything else falls
// to the default action (EPERM).
func TestSeccompFamilies(t *testing.T) {
	raw, err := SeccompProfile()
	if err != nil {
		t.Fatal(err)
	}
	var p profile
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != specs.ActErrno {
		t.Fatalf("default action %q: the family rules rely on a refusing default", p.DefaultAction)
	}
	for _, r := range p.Syscalls {
		if !slices.Contains(r.Names, "socket") && !slices.Contains(r.Names, "socketpair") {
			continue
		}
		seen := map[uint]bool{}
		for _, a := range r.Args {
			if seen[a.Index] {
				t.Errorf("rule %v has two conditions on argument %d (runc ORs them)", r.Names, a.Index)
			}
			seen[a.Index] = true
		}
	}
	for fam := uint64(0); fam < 200; fam++ {
		for _, proto := range []uint64{0, unix.NETLINK_SOCK_DIAG, unix.NETLINK_KOBJECT_UEVENT} {
			got := allows(&p, "socket", [6]uint64{fam, unix.SOCK_STREAM, proto})
			if want := moatseccomp.FamilyAllowed(uint32(fam), uint32(proto)); got != want {
				t.Errorf("socket(%s, protocol %d): allowed %v, want %v", moatseccomp.FamilyName(uint32(fam)), proto, got, want)
			}
		}
		if got := allows(&p, "socketpair", [6]uint64{fam, unix.SOCK_STREAM}); got != (fam == unix.AF_UNIX) {
			t.Errorf("socketpair(%d): allowed %v", fam, got)
		}
	}
	for _, fam := range []uint64{1<<32 | unix.AF_VSOCK, 1<<32 | unix.AF_INET} {
		if allows(&p, "socket", [6]uint64{fam}) {
			t.Errorf("socket(%#x) allowed", fam)
		}
	}
}
