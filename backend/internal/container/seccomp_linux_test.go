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
		for _, proto := range []uint64{0, unix.NETLINK_SOCK_DIAG, unix.NETLINK_KOBJECT_UEVENT, unix.IPPROTO_TCP, unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE, unix.IPPROTO_SCTP} {
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

// TestGuardedProfile: the guarded profile lets every call of native's
// deny list through whatever its arguments, with no other rule on it
// (an errno rule, clone3's ENOSYS say, would win over the guard's
// notification), and is SeccompProfile for every other call.
func TestGuardedProfile(t *testing.T) {
	if !Guardable() {
		t.Skip("no guard on this architecture")
	}
	var plain, guarded profile
	for _, p := range []struct {
		get func() ([]byte, error)
		to  *profile
	}{{SeccompProfile, &plain}, {GuardedProfile, &guarded}} {
		raw, err := p.get()
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, p.to); err != nil {
			t.Fatal(err)
		}
	}
	names := moatseccomp.GuardNames()
	for _, name := range []string{"clone", "clone3", "socket", "ioctl", "openat2", "io_uring_setup", "personality", "mount"} {
		if !slices.Contains(names, name) {
			t.Errorf("%s is not guarded", name)
		}
	}
	for _, name := range names {
		n := 0
		for _, r := range guarded.Syscalls {
			if slices.Contains(r.Names, name) {
				n++
				if r.Action != specs.ActAllow || len(r.Args) != 0 || r.Includes != nil || r.Excludes != nil {
					t.Errorf("%s: rule %+v", name, r)
				}
			}
		}
		if n != 1 {
			t.Errorf("%s: %d rules, want the one allow", name, n)
		}
	}
	rest := func(p profile) []rule {
		var out []rule
		for _, r := range p.Syscalls {
			r.Names = slices.DeleteFunc(slices.Clone(r.Names), func(n string) bool { return slices.Contains(names, n) })
			if len(r.Names) > 0 {
				out = append(out, r)
			}
		}
		return out
	}
	a, _ := json.Marshal(rest(plain))
	b, _ := json.Marshal(rest(guarded))
	if string(a) != string(b) {
		t.Error("the guarded profile differs from SeccompProfile on calls the guard does not take")
	}
}
