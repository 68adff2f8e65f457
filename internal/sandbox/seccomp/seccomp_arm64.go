//go:build linux

package seccomp

import "golang.org/x/sys/unix"

const archName = "aarch64"

// auditArch is the seccomp_data.arch of arm64 syscalls.
const auditArch = unix.AUDIT_ARCH_AARCH64

// x32Bit is zero: arm64 has no x32-style ABI sharing its arch value.
// (32-bit arm syscalls arrive with AUDIT_ARCH_ARM and are killed.)
const x32Bit = 0

// execOther are the execve and execveat numbers of the other calling
// convention a process may use here: 32-bit arm.
var execOther = map[uint32][]uint32{unix.AUDIT_ARCH_ARM: {11, 387}}

// execatOther are the execveat numbers among execOther; connectOther are
// the other convention's connect.
var (
	execatOther  = map[uint32][]uint32{unix.AUDIT_ARCH_ARM: {387}}
	connectOther = map[uint32][]uint32{unix.AUDIT_ARCH_ARM: {283}}
	bindOther    = map[uint32][]uint32{unix.AUDIT_ARCH_ARM: {282}}
	listenOther  = map[uint32][]uint32{unix.AUDIT_ARCH_ARM: {284}}
	// 32-bit arm's socketcall is not wired on arm64 (sys_ni_syscall).
	socketcallOther = map[uint32]uint32{}
	// exitOther is the other convention's exit_group and exit;
	// signalOther its calls that send a signal (kill, tkill, tgkill,
	// rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal).
	exitOther   = map[uint32][]uint32{unix.AUDIT_ARCH_ARM: {248, 1}}
	signalOther = map[uint32][]uint32{unix.AUDIT_ARCH_ARM: {37, 238, 268, 178, 363, 424}}
)

// syscalls maps every name in the policy to its arm64 number. arm64 never
// had iopl, ioperm or uselib.
var syscalls = map[string]uint32{
	"open":              absent,
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
	"ioperm":            absent,
	"iopl":              absent,
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
	"uselib":            absent,
	"userfaultfd":       unix.SYS_USERFAULTFD,
	"vhangup":           unix.SYS_VHANGUP,
}

// The guard ([GuardNames]) needs the 32-bit arm numbers of its calls,
// which are not tabled here: it is off on arm64.
var (
	guardI386 map[uint32]string
	guardX32  map[string]uint32
)

const guardArches = false

// nativeMachines are the ELF e_machine values this kernel runs itself:
// aarch64 and 32-bit arm.
var nativeMachines = []uint16{183, 40}
