package container

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	moatseccomp "github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// SeccompProfile returns the profile, in the JSON form Docker and Podman
// accept: Docker's default profile, without Denied, with ioctl allowed
// only when the low 32 bits of the request are neither TIOCSTI nor
// TIOCLINUX, and with socket and socketpair allowed only for the address
// families of native's filter (familyRules).
func SeccompProfile() ([]byte, error) { return profileJSON(false) }

// GuardedProfile is SeccompProfile that allows moatseccomp.GuardNames,
// every call of native's deny list whatever its arguments (mount,
// unshare, ptrace, keyctl, bpf, ...; clone, socket, ioctl, open, fcntl,
// personality; clone3, io_uring, openat2): the init's guard
// (ctrinit.Header.Guard) refuses what SeccompProfile refused of them,
// with its errno, where the kernel reports each to it. Only for a run
// whose init is moat's own and sets the guard up before the program,
// which it never starts without it.
func GuardedProfile() ([]byte, error) { return profileJSON(true) }

// Guardable says whether this architecture has the guard.
func Guardable() bool { return len(moatseccomp.GuardNames()) > 0 }

var profileJSON = func() func(bool) ([]byte, error) {
	type built struct {
		json []byte
		err  error
	}
	plain := sync.OnceValue(func() built { b, err := buildProfile(false); return built{b, err} })
	guarded := sync.OnceValue(func() built { b, err := buildProfile(true); return built{b, err} })
	return func(guard bool) ([]byte, error) {
		b := plain()
		if guard {
			b = guarded()
		}
		return b.json, b.err
	}
}()

func buildProfile(guard bool) ([]byte, error) {
	guarded := map[string]bool{}
	if guard {
		names := moatseccomp.GuardNames()
		if len(names) == 0 {
			return nil, errors.New("container: seccomp profile: no guard on this architecture")
		}
		for _, n := range names {
			guarded[n] = true
		}
	}
	p := seccomp.DefaultProfile()
	out := profile{DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet, ArchMap: p.ArchMap}
	for _, sc := range p.Syscalls {
		names := slices.DeleteFunc(slices.Clone(sc.Names), func(n string) bool {
			return guarded[n] || slices.Contains(Denied, n) || (n == "ioctl" && len(sc.Args) == 0) || n == "socket" || n == "socketpair" || noAtimeCalls[n] ||
				n == "mknod" || n == "mknodat"
		})
		if len(names) == 0 {
			continue
		}
		out.Syscalls = append(out.Syscalls, rule{Names: names, Action: sc.Action, ErrnoRet: sc.ErrnoRet,
			Args: sc.Args, Includes: sc.Includes, Excludes: sc.Excludes})
	}
	for _, r := range slices.Concat(ioctlRules(), familyRules(), noAtimeRules(), mknodRules()) {
		if r.Names = slices.DeleteFunc(r.Names, func(n string) bool { return guarded[n] }); len(r.Names) > 0 {
			out.Syscalls = append(out.Syscalls, r)
		}
	}
	// gVisor's Sentry names pselect6 "pselect" in its syscall table
	// (runsc 20221219, amd64 and arm64), and runsc --oci-seccomp resolves
	// a profile's names by that table: without this name glibc's select,
	// which is pselect6, was refused there (pty.spawn, servers). runc,
	// crun and libseccomp skip a name they do not know.
	out.Syscalls = append(out.Syscalls, rule{Names: []string{"pselect"}, Action: specs.ActAllow})
	if guard {
		// Whatever their arguments: the guard checks them as native does.
		out.Syscalls = append(out.Syscalls, rule{Names: moatseccomp.GuardNames(), Action: specs.ActAllow})
	}
	return json.Marshal(out)
}

// noAtimeCalls are the calls that can ask for O_NOATIME, which reads a
// file without moving its access time: the witness of the planted files
// (internal/observe.Witness) rests on those times, so noAtimeRules
// allow them only without it.
var noAtimeCalls = map[string]bool{"open": true, "openat": true, "openat2": true, "fcntl": true}

// noAtimeRules allow open and openat without O_NOATIME, fcntl but for
// F_SETFL with O_NOATIME (those fall to the default action, EPERM, what
// a file of another owner gives), and answer openat2, whose flags are in
// memory, ENOSYS (libc then uses openat).
func noAtimeRules() []rule {
	enosys := uint(unix.ENOSYS)
	without := func(i uint) specs.LinuxSeccompArg {
		return specs.LinuxSeccompArg{Index: i, Value: unix.O_NOATIME, ValueTwo: 0, Op: specs.OpMaskedEqual}
	}
	return []rule{
		{Names: []string{"open"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{without(1)}},
		{Names: []string{"openat"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{without(2)}},
		{Names: []string{"fcntl"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: unix.F_SETFL, Op: specs.OpNotEqual}}},
		{Names: []string{"fcntl"}, Action: specs.ActAllow, Args: []specs.LinuxSeccompArg{{Index: 1, Value: unix.F_SETFL, Op: specs.OpEqualTo}, without(2)}},
		{Names: []string{"openat2"}, Action: specs.ActErrno, ErrnoRet: &enosys},
	}
}

// mknodRules allow mknod and mknodat of regular files, FIFOs and sockets
// only; a device node falls to the default action, EPERM. The kernel
// refuses one anyway without CAP_MKNOD, which no program holds, but
// gVisor's Sentry (runsc as Docker's runtime, whose tmpfs /tmp, /work,
// home and /dev/shm are the Sentry's own) makes one for anyone, and opens
// it whatever nodev says: /dev/fuse or /dev/net/tun made again in /tmp.
// The mode is mknod's second argument, mknodat's third.
func mknodRules() []rule {
	var rules []rule
	for i, name := range []string{"mknod", "mknodat"} {
		for _, t := range []uint64{0, unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK} {
			rules = append(rules, rule{Names: []string{name}, Action: specs.ActAllow,
				Args: []specs.LinuxSeccompArg{{Index: uint(i + 1), Value: unix.S_IFMT, ValueTwo: t, Op: specs.OpMaskedEqual}}})
		}
	}
	return rules
}

// familyRules allow socket(2) for native's families (internal/sandbox/seccomp's
// FamilyAllowed: unix, inet and inet6 for the protocols the sink sees,
// and netlink for NETLINK_ROUTE only)
// and socketpair(2) for AF_UNIX; every other family falls to the profile's
// default action, EPERM. (Docker's default refuses AF_VSOCK alone and
// allows AF_ALG, AF_PACKET with CAP_NET_RAW, bluetooth, ...) Allow rules
// compare equal on all 64 bits, so a family with high bits set matches
// none of them and is refused: stricter than the kernel, which reads the
// low 32 bits. Each rule has at most one condition per argument: runc
// ORs conditions on the same argument.
func familyRules() []rule {
	var rules []rule
	for _, f := range moatseccomp.AllowedFamilies() {
		args := []specs.LinuxSeccompArg{{Index: 0, Value: uint64(f), Op: specs.OpEqualTo}}
		switch f {
		case unix.AF_NETLINK: // the route protocol only
			args = append(args, specs.LinuxSeccompArg{Index: 2, Value: unix.NETLINK_ROUTE, Op: specs.OpEqualTo})
		case unix.AF_INET, unix.AF_INET6: // the protocols the sink sees: a rule each
			for _, p := range moatseccomp.InetProtocols() {
				rules = append(rules, rule{Names: []string{"socket"}, Action: specs.ActAllow,
					Args: append(slices.Clone(args), specs.LinuxSeccompArg{Index: 2, Value: uint64(p), Op: specs.OpEqualTo})})
			}
			continue
		}
		rules = append(rules, rule{Names: []string{"socket"}, Action: specs.ActAllow, Args: args})
	}
	rules = append(rules, rule{Names: []string{"socketpair"}, Action: specs.ActAllow,
		Args: []specs.LinuxSeccompArg{{Index: 0, Value: unix.AF_UNIX, Op: specs.OpEqualTo}}})
	return rules
}

// SeccompOCI is the profile of SeccompProfile in the OCI runtime spec's
// form, which containerd and CRI-O read from a Kubernetes node's Localhost
// profiles: resolved, as Docker resolves it, for a process with no
// capabilities on this machine's architecture and kernel (so it is made
// on the node, or one like it).
func SeccompOCI() ([]byte, error) {
	prof, err := SeccompProfile()
	if err != nil {
		return nil, err
	}
	oci, err := seccomp.LoadProfile(string(prof), &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{}}})
	if err != nil {
		return nil, fmt.Errorf("container: seccomp profile in OCI form: %w", err)
	}
	return json.MarshalIndent(oci, "", "  ")
}

// SeccompName names the profile by its content, for the places that
// install it apart from the run (a Kubernetes node's seccomp directory):
// a run that names it finds exactly this profile or none, never an older
// one.
func SeccompName() (string, error) {
	prof, err := SeccompProfile()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(prof)
	return "moat-" + hex.EncodeToString(sum[:8]) + ".json", nil
}
