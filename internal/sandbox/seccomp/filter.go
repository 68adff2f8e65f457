//go:build linux && (amd64 || arm64)

package seccomp

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync/atomic"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// maxInstructions is the kernel's limit on a filter's length (BPF_MAXINSNS).
const maxInstructions = 4096

// Offsets into struct seccomp_data.
const (
	offNr   = 0
	offArch = 4
)

// argLow is the offset of the low 32 bits of syscall argument i. Both
// architectures we build for are little-endian, so the low word comes first.
func argLow(i uint32) uint32 { return 16 + 8*i }

// A rule denies one syscall, always or, with check, depending on its arguments.
type rule struct {
	name  string
	errno unix.Errno
	// check, if set, emits code that inspects the arguments and ends in a
	// jump to deny or to allow. The syscall number is no longer in A.
	check func(deny, allow label) []bpf.Instruction
}

// policy is the deny list. Names absent on an architecture are marked absent
// in that architecture's syscall table and skipped.
var policy = []rule{
	// Namespaces, mounts and the root: the sandbox has set these up and the
	// program must not rearrange them, nor reach the code behind them.
	{name: "unshare", errno: unix.EPERM},
	{name: "setns", errno: unix.EPERM},
	{name: "mount", errno: unix.EPERM},
	{name: "umount2", errno: unix.EPERM},
	{name: "pivot_root", errno: unix.EPERM},
	{name: "chroot", errno: unix.EPERM},
	{name: "open_tree", errno: unix.EPERM},
	{name: "move_mount", errno: unix.EPERM},
	{name: "fsopen", errno: unix.EPERM},
	{name: "fsconfig", errno: unix.EPERM},
	{name: "fsmount", errno: unix.EPERM},
	{name: "fspick", errno: unix.EPERM},
	{name: "mount_setattr", errno: unix.EPERM},
	{name: "clone", errno: unix.EPERM, check: cloneNewNamespace},
	// clone3 passes its flags in memory, which a filter cannot read. ENOSYS
	// makes libc and the Go runtime fall back to clone, which we can inspect.
	{name: "clone3", errno: unix.ENOSYS},

	// Kernel keyrings are not namespaced.
	{name: "keyctl", errno: unix.EPERM},
	{name: "add_key", errno: unix.EPERM},
	{name: "request_key", errno: unix.EPERM},

	// Large, frequently exploited kernel surfaces.
	{name: "bpf", errno: unix.EPERM},
	{name: "perf_event_open", errno: unix.EPERM},
	{name: "userfaultfd", errno: unix.EPERM},
	// io_uring bypasses seccomp for the operations it performs. ENOSYS lets
	// libraries that probe for it fall back to ordinary syscalls.
	{name: "io_uring_setup", errno: unix.ENOSYS},
	{name: "io_uring_enter", errno: unix.ENOSYS},
	{name: "io_uring_register", errno: unix.ENOSYS},

	// Other processes.
	{name: "ptrace", errno: unix.EPERM},
	{name: "process_vm_readv", errno: unix.EPERM},
	{name: "process_vm_writev", errno: unix.EPERM},
	{name: "kcmp", errno: unix.EPERM},
	{name: "pidfd_getfd", errno: unix.EPERM},

	// The machine: modules, kernels, clocks, swap, accounting, quotas, logs.
	{name: "kexec_load", errno: unix.EPERM},
	{name: "kexec_file_load", errno: unix.EPERM},
	{name: "init_module", errno: unix.EPERM},
	{name: "finit_module", errno: unix.EPERM},
	{name: "delete_module", errno: unix.EPERM},
	{name: "clock_settime", errno: unix.EPERM},
	{name: "clock_adjtime", errno: unix.EPERM},
	{name: "settimeofday", errno: unix.EPERM},
	{name: "adjtimex", errno: unix.EPERM},
	{name: "reboot", errno: unix.EPERM},
	{name: "swapon", errno: unix.EPERM},
	{name: "swapoff", errno: unix.EPERM},
	{name: "acct", errno: unix.EPERM},
	{name: "quotactl", errno: unix.EPERM},
	{name: "lookup_dcookie", errno: unix.EPERM},
	{name: "vhangup", errno: unix.EPERM},
	{name: "syslog", errno: unix.EPERM},
	{name: "iopl", errno: unix.EPERM},
	{name: "ioperm", errno: unix.EPERM},
	{name: "nfsservctl", errno: unix.EPERM},
	{name: "uselib", errno: unix.EPERM},
	{name: "fanotify_init", errno: unix.EPERM},

	// O_NOATIME reads a file without moving its access time, which is how
	// moat sees reads of the planted credential files whatever reads them
	// (internal/observe.Witness). Refused with the errno a file of another
	// owner gives. openat2 passes its flags in memory, which a filter cannot
	// read: ENOSYS, and libc falls back to openat.
	{name: "open", errno: unix.EPERM, check: noAtime(1)},
	{name: "openat", errno: unix.EPERM, check: noAtime(2)},
	{name: "fcntl", errno: unix.EPERM, check: fcntlNoAtime},
	{name: "openat2", errno: unix.ENOSYS},

	// File handles bypass path-based checks (the "shocker" escape).
	{name: "open_by_handle_at", errno: unix.EPERM},
	{name: "name_to_handle_at", errno: unix.EPERM},

	// Address families: only those a run needs (see families.go).
	{name: "socket", errno: unix.EAFNOSUPPORT, check: socketFamily},
	{name: "socketpair", errno: unix.EAFNOSUPPORT, check: socketpairFamily},

	// Terminal injection and execution-domain changes.
	{name: "ioctl", errno: unix.EPERM, check: ioctlTerminal},
	{name: "personality", errno: unix.EPERM, check: personalityChange},
}

// Namespace flags clone must not carry. All of them fit in the low 32 bits.
const cloneNamespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET |
	unix.CLONE_NEWCGROUP | unix.CLONE_NEWTIME

// cloneNewNamespace denies clone(flags, ...) when flags ask for a namespace.
// flags is args[0] on both x86_64 and arm64. The kernel keeps only the low 32
// bits of it (lower_32_bits(clone_flags) in SYSCALL_DEFINE5(clone)), so
// testing the low word is exact: high bits can neither hide nor add a flag.
func cloneNewNamespace(deny, allow label) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: argLow(0), Size: 4},
		jumpIf{cond: bpf.JumpBitsSet, val: cloneNamespaceFlags, t: deny, f: allow},
	}
}

// noAtime denies an open whose flags (args[flags]) carry O_NOATIME. The
// kernel takes the flags as int: the low 32 bits are all that count.
func noAtime(flags uint32) func(deny, allow label) []bpf.Instruction {
	return func(deny, allow label) []bpf.Instruction {
		return []bpf.Instruction{
			bpf.LoadAbsolute{Off: argLow(flags), Size: 4},
			jumpIf{cond: bpf.JumpBitsSet, val: unix.O_NOATIME, t: deny, f: allow},
		}
	}
}

// fcntlNoAtime denies fcntl(fd, F_SETFL, flags) with O_NOATIME in flags.
// cmd and the flags are unsigned int and int to the kernel: low words.
func fcntlNoAtime(deny, allow label) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: argLow(1), Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: unix.F_SETFL, f: allow},
		bpf.LoadAbsolute{Off: argLow(2), Size: 4},
		jumpIf{cond: bpf.JumpBitsSet, val: unix.O_NOATIME, t: deny, f: allow},
	}
}

// ioctlTerminal denies ioctl(fd, TIOCSTI) (push bytes into a terminal's input,
// which the shell that started us would then run) and ioctl(fd, TIOCLINUX)
// (console selection and paste, the same attack on a virtual console).
//
// Invariant: the request (args[1]) is compared on its low 32 bits ONLY. The
// kernel declares the ioctl cmd as unsigned int and drops the high bits, so
// 0xdeadbeef00005412 is TIOCSTI to the kernel. A filter that also required
// the high word to be zero would let that value through.
func ioctlTerminal(deny, allow label) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: argLow(1), Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: unix.TIOCSTI, t: deny},
		jumpIf{cond: bpf.JumpEqual, val: unix.TIOCLINUX, t: deny, f: allow},
	}
}

// socketFamily allows socket(family, type, protocol) for the families and
// protocols of [FamilyAllowed] and denies every other. family is args[0],
// protocol args[2]; the kernel declares both int, so only the low 32 bits
// count (as for ioctl): high bits can neither hide a family nor add one.
func socketFamily(deny, allow label) []bpf.Instruction {
	inet := label("inet:" + strconv.FormatUint(labelSeq.Add(1), 10)) // unique in a program of several arches
	p := []bpf.Instruction{
		bpf.LoadAbsolute{Off: argLow(0), Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: afUnix, t: allow},
		jumpIf{cond: bpf.JumpEqual, val: afInet, t: inet},
		jumpIf{cond: bpf.JumpEqual, val: afInet6, t: inet},
		jumpIf{cond: bpf.JumpEqual, val: afNetlink, f: deny},
		bpf.LoadAbsolute{Off: argLow(2), Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: netlinkRoute, t: allow, f: deny},
		inet,
		bpf.LoadAbsolute{Off: argLow(2), Size: 4},
	}
	for i, proto := range inetProtocols {
		j := jumpIf{cond: bpf.JumpEqual, val: proto, t: allow}
		if i == len(inetProtocols)-1 {
			j.f = deny
		}
		p = append(p, j)
	}
	return p
}

// labelSeq numbers the labels a check makes for itself.
var labelSeq atomic.Uint64

// socketpairFamily allows socketpair(AF_UNIX, ...) only: no other family
// implements it, and the kernel would run the family's socket constructor
// (vsock's, say) before it found out.
func socketpairFamily(deny, allow label) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: argLow(0), Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: afUnix, t: allow, f: deny},
	}
}

// personalityChange allows personality(0) (Linux, the default) and
// personality(0xffffffff) (query only) and denies every other persona, such as
// ADDR_NO_RANDOMIZE or READ_IMPLIES_EXEC, which weaken the address space of
// what runs next. The kernel takes the argument as unsigned int, so as with
// ioctl the low 32 bits are all that count.
func personalityChange(deny, allow label) []bpf.Instruction {
	return []bpf.Instruction{
		bpf.LoadAbsolute{Off: argLow(0), Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: 0, t: allow},
		jumpIf{cond: bpf.JumpEqual, val: 0xffffffff, t: allow, f: deny},
	}
}

// absent marks, in an architecture's syscall table, a policy name that the
// architecture does not have.
const absent = ^uint32(0)

// activeRules returns the policy rules that exist on this architecture, with
// their numbers. A policy name missing from the table is a bug, not absence.
func activeRules() ([]rule, []uint32, error) {
	var rules []rule
	var nrs []uint32
	for _, r := range policy {
		nr, ok := syscalls[r.name]
		if !ok {
			return nil, nil, fmt.Errorf("seccomp: syscall %q missing from the %s table", r.name, archName)
		}
		if nr == absent {
			continue
		}
		rules = append(rules, r)
		nrs = append(nrs, nr)
	}
	return rules, nrs, nil
}

// Denied lists the syscall names the filter denies (for docs and reporting), sorted.
// It includes clone, ioctl, personality, socket and socketpair, which are
// denied only for the arguments described in the package documentation.
func Denied() []string {
	rules, _, err := activeRules()
	if err != nil {
		return nil
	}
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.name
	}
	sort.Strings(names)
	return names
}

// Program returns the assembled default filter for the running architecture.
func Program() ([]bpf.RawInstruction, error) {
	src, err := source()
	if err != nil {
		return nil, err
	}
	return assemble(src)
}

// Return values. SECCOMP_RET_ERRNO carries the errno in its low 16 bits.
const (
	retAllow = unix.SECCOMP_RET_ALLOW
	retKill  = unix.SECCOMP_RET_KILL_PROCESS
)

func retErrno(e unix.Errno) uint32 {
	return unix.SECCOMP_RET_ERRNO | uint32(e)&unix.SECCOMP_RET_DATA
}

// source returns the filter with symbolic jump targets; link resolves them.
//
// The layout is a straight line: check arch, load nr, one jeq per rule, allow.
// Each jeq jumps forward to a shared return (or to its rule's argument check)
// placed after the default allow; link inserts long jumps if a target ever
// ends up more than 255 instructions away.
func source() ([]bpf.Instruction, error) {
	rules, nrs, err := activeRules()
	if err != nil {
		return nil, err
	}
	const kill, allow = label("kill"), label("allow")
	denyLabel := func(e unix.Errno) label { return label("deny:" + unix.ErrnoName(e)) }

	p := []bpf.Instruction{
		bpf.LoadAbsolute{Off: offArch, Size: 4},
		jumpIf{cond: bpf.JumpEqual, val: auditArch, f: kill},
		bpf.LoadAbsolute{Off: offNr, Size: 4},
	}
	if x32Bit != 0 {
		p = append(p, jumpIf{cond: bpf.JumpGreaterOrEqual, val: x32Bit, t: kill})
	}
	for i, r := range rules {
		target := denyLabel(r.errno)
		if r.check != nil {
			target = label("check:" + r.name)
		}
		p = append(p, jumpIf{cond: bpf.JumpEqual, val: nrs[i], t: target})
	}
	p = append(p, bpf.RetConstant{Val: retAllow})

	var errnos []unix.Errno
	for _, r := range rules {
		if r.check != nil {
			p = append(p, label("check:"+r.name))
			p = append(p, r.check(denyLabel(r.errno), allow)...)
		}
		if !containsErrno(errnos, r.errno) {
			errnos = append(errnos, r.errno)
		}
	}
	for _, e := range errnos {
		p = append(p, denyLabel(e), bpf.RetConstant{Val: retErrno(e)})
	}
	p = append(p,
		kill, bpf.RetConstant{Val: retKill},
		allow, bpf.RetConstant{Val: retAllow},
	)
	return p, nil
}

func containsErrno(list []unix.Errno, e unix.Errno) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

// errUnlinked is what the symbolic instructions return if they reach
// bpf.Assemble without going through link.
var errUnlinked = errors.New("symbolic instruction not linked")

// label marks a jump target. It occupies no instruction.
type label string

func (label) Assemble() (bpf.RawInstruction, error) { return bpf.RawInstruction{}, errUnlinked }

// jumpIf is bpf.JumpIf with symbolic targets; an empty label means the next
// instruction.
type jumpIf struct {
	cond bpf.JumpTest
	val  uint32
	t, f label
}

func (jumpIf) Assemble() (bpf.RawInstruction, error) { return bpf.RawInstruction{}, errUnlinked }

// jump is bpf.Jump (ja) with a symbolic target.
type jump label

func (jump) Assemble() (bpf.RawInstruction, error) { return bpf.RawInstruction{}, errUnlinked }

// link replaces labels by offsets. BPF jumps go forward only; a conditional
// jump reaches at most 255 instructions, ja reaches 2^32. A conditional jump
// that is too far is rewritten to reach a ja right behind it:
//
//	jeq #k, T, F   =>   jeq #k, 0, 1 ; ja T ; ja F
//
// and linking starts over, until every jump fits.
// assemble links src's labels and assembles it.
func assemble(src []bpf.Instruction) ([]bpf.RawInstruction, error) {
	insts, err := link(src)
	if err != nil {
		return nil, fmt.Errorf("seccomp: link: %w", err)
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, fmt.Errorf("seccomp: assemble: %w", err)
	}
	return raw, nil
}

func link(src []bpf.Instruction) ([]bpf.Instruction, error) {
	src = append([]bpf.Instruction(nil), src...)
	for far := 0; ; far++ {
		pos := make(map[label]int)
		n := 0
		for _, in := range src {
			if l, ok := in.(label); ok {
				if _, dup := pos[l]; dup {
					return nil, fmt.Errorf("duplicate label %q", l)
				}
				pos[l] = n
				continue
			}
			n++
		}
		if n > maxInstructions {
			return nil, fmt.Errorf("%d instructions, limit %d", n, maxInstructions)
		}
		skip := func(at int, l label) (int, error) {
			if l == "" {
				return 0, nil
			}
			to, ok := pos[l]
			if !ok {
				return 0, fmt.Errorf("undefined label %q", l)
			}
			if to <= at {
				return 0, fmt.Errorf("backward jump from %d to %q", at, l)
			}
			return to - at - 1, nil
		}

		out := make([]bpf.Instruction, 0, n)
		tooFar := -1
		for i, in := range src {
			switch in := in.(type) {
			case label:
			case jump:
				d, err := skip(len(out), label(in))
				if err != nil {
					return nil, err
				}
				out = append(out, bpf.Jump{Skip: uint32(d)})
			case jumpIf:
				t, err := skip(len(out), in.t)
				if err != nil {
					return nil, err
				}
				f, err := skip(len(out), in.f)
				if err != nil {
					return nil, err
				}
				if t > 255 || f > 255 {
					tooFar = i
					break
				}
				out = append(out, bpf.JumpIf{Cond: in.cond, Val: in.val, SkipTrue: uint8(t), SkipFalse: uint8(f)})
			default:
				out = append(out, in)
			}
			if tooFar >= 0 {
				break
			}
		}
		if tooFar < 0 {
			return out, nil
		}

		in := src[tooFar].(jumpIf)
		next := label(fmt.Sprintf(".next%d", far))
		orNext := func(l label) label {
			if l == "" {
				return next
			}
			return l
		}
		onFalse := label(fmt.Sprintf(".false%d", far))
		long := []bpf.Instruction{
			jumpIf{cond: in.cond, val: in.val, f: onFalse},
			jump(orNext(in.t)),
			onFalse,
			jump(orNext(in.f)),
			next,
		}
		src = append(src[:tooFar], append(long, src[tooFar+1:]...)...)
	}
}
