// Package seccomp builds and installs moat's seccomp-bpf filter: a deny list
// for an untrusted Python process tree, assembled in pure Go (no cgo, no
// libseccomp).
//
// # Where it sits
//
// The filter is the last layer, not the first. By the time it is installed the
// process already runs in its own user, mount, pid and network namespaces with
// no capabilities, so most of what it denies would fail anyway. The filter
// takes away kernel attack surface that namespaces do not: creating more
// namespaces (each one reachable code in the kernel), mount and keyring APIs,
// bpf, io_uring, ptrace and cross-process memory access, terminal injection,
// and socket address families other than unix, inet and inet6 (for TCP,
// UDP, MPTCP and ICMP) and netlink route (vsock is not isolated by
// network namespaces at all).
// Everything not listed is allowed; the policy is a deny list because Python
// and its native extensions use too wide and shifting a set of syscalls for an
// allow list to be maintained by hand.
//
// # Using it
//
// The re-exec init calls [Install] once, after the namespaces are set up and
// just before it execs the interpreter:
//
//	n, err := seccomp.Install()
//	if err != nil {
//		return fmt.Errorf("init: %w", err)
//	}
//	slog.Debug("seccomp filter installed", "rules", n)
//
// Install sets no_new_privs on every thread and installs the filter on every
// thread of the process at once (SECCOMP_FILTER_FLAG_TSYNC), so no Go runtime
// thread is left unfiltered. Filters are inherited across fork and exec and
// cannot be removed. [Denied] lists what the filter denies, for documentation
// and reports; [Program] returns the raw program, for tests and inspection.
//
// # What the filter does
//
// For each syscall the kernel hands the filter a struct seccomp_data:
//
//	offset 0   int32  nr                   syscall number
//	offset 4   uint32 arch                 AUDIT_ARCH_* of the calling convention
//	offset 8   uint64 instruction_pointer
//	offset 16  uint64 args[6]              args[i] at 16+8*i
//
// A classic BPF program can load only 32-bit words, and both supported
// architectures are little-endian, so the low half of args[i] is the word at
// 16+8*i. The program, in order:
//
//  1. kills the process if arch is not the native one (on x86_64 this stops
//     the i386 int 0x80 entry, whose syscall numbers differ) and, on x86_64,
//     if the number is 0x40000000 (the x32 bit) or above;
//  2. returns EPERM for a fixed list of syscalls, and ENOSYS for clone3 and
//     io_uring (ENOSYS means "not implemented", so libc, the Go runtime and
//     Python libraries fall back to older calls instead of failing);
//  3. inspects arguments of five syscalls: clone is denied if its flags ask
//     for a new namespace, ioctl if it is TIOCSTI or TIOCLINUX, personality
//     unless it only queries, socket and socketpair (EAFNOSUPPORT) unless
//     the address family is one a run needs (unix, inet and inet6 for the
//     protocols the sink sees, and netlink for NETLINK_ROUTE only: see
//     families.go for the reasoning);
//  4. allows everything else.
//
// Argument checks compare only the low 32 bits, on purpose: see the comments
// on the checks in filter.go.
//
// The package compiles on every platform but works only on linux/amd64 and
// linux/arm64; elsewhere every function reports errors.ErrUnsupported.
package seccomp
