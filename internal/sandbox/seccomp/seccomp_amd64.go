//go:build linux

package seccomp

import "golang.org/x/sys/unix"

const archName = "x86_64"

// auditArch is the seccomp_data.arch of native x86_64 syscalls.
const auditArch = unix.AUDIT_ARCH_X86_64

// x32Bit marks x32 ABI syscalls, which reuse x86_64's arch value with their own
// numbers. The filter kills any syscall number at or above it (which also
// covers the negative ones).
const x32Bit = 0x40000000

// execOther are the execve and execveat numbers of the other calling
// conventions a process may use here: x32 (on this arch value, with
// x32Bit) and i386 (int 0x80, its own arch value).
var execOther = map[uint32][]uint32{auditArch: {x32Bit | 520, x32Bit | 545}, unix.AUDIT_ARCH_I386: {11, 358}}

// execatOther are the execveat numbers among execOther; connectOther are
// the other conventions' connect (i386's own syscall); socketcallOther
// their socket multiplexer, socketcall(call, args), which connects when
// call is sysConnect, with args a pointer to three 32-bit words;
// bindOther and listenOther their bind and listen (socketcall's sysBind
// and sysListen).
var (
	execatOther     = map[uint32][]uint32{auditArch: {x32Bit | 545}, unix.AUDIT_ARCH_I386: {358}}
	connectOther    = map[uint32][]uint32{auditArch: {x32Bit | unix.SYS_CONNECT}, unix.AUDIT_ARCH_I386: {362}}
	bindOther       = map[uint32][]uint32{auditArch: {x32Bit | unix.SYS_BIND}, unix.AUDIT_ARCH_I386: {361}}
	listenOther     = map[uint32][]uint32{auditArch: {x32Bit | unix.SYS_LISTEN}, unix.AUDIT_ARCH_I386: {363}}
	socketcallOther = map[uint32]uint32{unix.AUDIT_ARCH_I386: 102}
	// exitOther are the other conventions' exit_group and exit;
	// signalOther their calls that send a signal (kill, tkill, tgkill,
	// rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal).
	exitOther   = map[uint32][]uint32{auditArch: {x32Bit | unix.SYS_EXIT_GROUP, x32Bit | unix.SYS_EXIT}, unix.AUDIT_ARCH_I386: {252, 1}}
	signalOther = map[uint32][]uint32{auditArch: {x32Bit | 62, x32Bit | 200, x32Bit | 234, x32Bit | 524, x32Bit | 536, x32Bit | 424},
		unix.AUDIT_ARCH_I386: {37, 238, 270, 178, 335, 424}}
)

// syscalls maps every name in the policy to its x86_64 number.
var syscalls = map[string]uint32{
	"open":              unix.SYS_OPEN,
	"openat":            unix.SYS_OPENAT,
	"openat2":           unix.SYS_OPENAT2,
	"fcntl":             unix.SYS_FCNTL,
	"acct":              unix.SYS_ACCT,
	"add_key":           unix.SYS_ADD_KEY,
	"adjtimex":          unix.SYS_ADJTIMEX,
	"bpf":               unix.SYS_BPF,
	"chroot":            unix.SYS_CHROOT,
	"clock_adjtime":     unix.SYS_CLOCK_ADJTIME,
	"clock_settime":     unix.SYS_CLOCK_SETTIME,
	"clone":             unix.SYS_CLONE,
	"clone3":            unix.SYS_CLONE3,
	"delete_module":     unix.SYS_DELETE_MODULE,
	"fanotify_init":     unix.SYS_FANOTIFY_INIT,
	"finit_module":      unix.SYS_FINIT_MODULE,
	"fsconfig":          unix.SYS_FSCONFIG,
	"fsmount":           unix.SYS_FSMOUNT,
	"fsopen":            unix.SYS_FSOPEN,
	"fspick":            unix.SYS_FSPICK,
	"init_module":       unix.SYS_INIT_MODULE,
	"io_uring_enter":    unix.SYS_IO_URING_ENTER,
	"io_uring_register": unix.SYS_IO_URING_REGISTER,
	"io_uring_setup":    unix.SYS_IO_URING_SETUP,
	"ioctl":             unix.SYS_IOCTL,
	"ioperm":            unix.SYS_IOPERM,
	"iopl":              unix.SYS_IOPL,
	"kcmp":              unix.SYS_KCMP,
	"kexec_file_load":   unix.SYS_KEXEC_FILE_LOAD,
	"kexec_load":        unix.SYS_KEXEC_LOAD,
	"keyctl":            unix.SYS_KEYCTL,
	"lookup_dcookie":    unix.SYS_LOOKUP_DCOOKIE,
	"mount":             unix.SYS_MOUNT,
	"mount_setattr":     unix.SYS_MOUNT_SETATTR,
	"move_mount":        unix.SYS_MOVE_MOUNT,
	"name_to_handle_at": unix.SYS_NAME_TO_HANDLE_AT,
	"nfsservctl":        unix.SYS_NFSSERVCTL,
	"open_by_handle_at": unix.SYS_OPEN_BY_HANDLE_AT,
	"open_tree":         unix.SYS_OPEN_TREE,
	"perf_event_open":   unix.SYS_PERF_EVENT_OPEN,
	"personality":       unix.SYS_PERSONALITY,
	"pidfd_getfd":       unix.SYS_PIDFD_GETFD,
	"pivot_root":        unix.SYS_PIVOT_ROOT,
	"process_vm_readv":  unix.SYS_PROCESS_VM_READV,
	"process_vm_writev": unix.SYS_PROCESS_VM_WRITEV,
	"ptrace":            unix.SYS_PTRACE,
	"quotactl":          unix.SYS_QUOTACTL,
	"reboot":            unix.SYS_REBOOT,
	"request_key":       unix.SYS_REQUEST_KEY,
	"setns":             unix.SYS_SETNS,
	"settimeofday":      unix.SYS_SETTIMEOFDAY,
	"socket":            unix.SYS_SOCKET,
	"socketpair":        unix.SYS_SOCKETPAIR,
	"swapoff":           unix.SYS_SWAPOFF,
	"swapon":            unix.SYS_SWAPON,
	"syslog":            unix.SYS_SYSLOG,
	"umount2":           unix.SYS_UMOUNT2,
	"unshare":           unix.SYS_UNSHARE,
	"uselib":            unix.SYS_USELIB,
	"userfaultfd":       unix.SYS_USERFAULTFD,
	"vhangup":           unix.SYS_VHANGUP,
}

// guardI386 names the i386 (int 0x80) numbers of the calls [GuardNames]
// may hold (fcntl64, 221, is fcntl); a name without one has no i386
// call. (socketcall(SYS_SOCKET, args), whose family is in memory, is left
// to the engine's profile.) Their x32 numbers are x32Bit with the x86_64
// number, or with guardX32's where x32 has a call of its own (a "64"
// entry of the x86_64 table is ENOSYS under x32).
var (
	guardI386 = map[uint32]string{
		310: "unshare", 346: "setns", 21: "mount", 52: "umount2", 217: "pivot_root", 61: "chroot",
		428: "open_tree", 429: "move_mount", 430: "fsopen", 431: "fsconfig", 432: "fsmount", 433: "fspick",
		442: "mount_setattr", 288: "keyctl", 286: "add_key", 287: "request_key", 357: "bpf",
		336: "perf_event_open", 374: "userfaultfd", 26: "ptrace", 347: "process_vm_readv",
		348: "process_vm_writev", 349: "kcmp", 438: "pidfd_getfd", 283: "kexec_load", 128: "init_module",
		350: "finit_module", 129: "delete_module", 264: "clock_settime", 343: "clock_adjtime", 79: "settimeofday",
		124: "adjtimex", 88: "reboot", 87: "swapon", 115: "swapoff", 51: "acct", 131: "quotactl",
		253: "lookup_dcookie", 111: "vhangup", 103: "syslog", 110: "iopl", 101: "ioperm", 169: "nfsservctl",
		86: "uselib", 338: "fanotify_init", 342: "open_by_handle_at", 341: "name_to_handle_at", 120: "clone",
		435: "clone3", 425: "io_uring_setup", 426: "io_uring_enter", 427: "io_uring_register", 437: "openat2",
		5: "open", 295: "openat", 55: "fcntl", 54: "ioctl", 359: "socket", 360: "socketpair", 136: "personality",
		221: "fcntl",
	}
	guardX32 = map[string]uint32{"ioctl": 514, "ptrace": 521, "kexec_load": 528, "process_vm_readv": 539, "process_vm_writev": 540}
)

// guardArches says the guard covers every calling convention of this
// architecture.
const guardArches = true

// nativeMachines are the ELF e_machine values this kernel runs itself:
// x86_64 and i386.
var nativeMachines = []uint16{62, 3}
