# Calls every sandbox denies, made past Python's audit hooks: through
# libc's raw syscall() (ctypes), or (argument "static") by a static binary
# shipped in the workspace and run from a memfd (the sandbox's tmpfs may be
# noexec). Each prints "LABEL RET ERRNO"; the test wants every one refused
# and every one seen by the kernel. Beside the calls refused whatever their
# arguments: those refused for their arguments (clone with a namespace
# flag, socket families, TIOCSTI, O_NOATIME, a persona) and those answered
# ENOSYS or left out (clone3, io_uring, openat2).
import ctypes, os, platform, subprocess, sys, threading

CLONE_NEWUSER, SIGCHLD, O_NOATIME = 0x10000000, 17, 0o1000000
AT_FDCWD = -100 & 0xFFFFFFFFFFFFFFFF
hostname = b"/etc/hostname"
one = ctypes.create_string_buffer(b"x")
pair = (ctypes.c_int * 2)()
# struct clone_args: flags, pidfd, child_tid, parent_tid, exit_signal, ...
clone_args = (ctypes.c_uint64 * 11)(CLONE_NEWUSER, 0, 0, 0, SIGCHLD)
uring_params = ctypes.create_string_buffer(120)
open_how = (ctypes.c_uint64 * 3)(0, 0, 0)

# x86_64 numbers; the static binary has its own table.
CALLS = [
    ("mount", 165, (b"none", b"/tmp", b"tmpfs", 0, 0)),
    ("umount2", 166, (b"/tmp", 0)),
    ("unshare", 272, (CLONE_NEWUSER,)),
    ("setns", 308, (0, 0x40000000)),  # CLONE_NEWNET
    ("ptrace", 101, (16, 1, 0, 0)),  # PTRACE_ATTACH pid 1
    ("keyctl", 250, (0, -3 & 0xFFFFFFFF, 0)),  # KEYCTL_GET_KEYRING_ID session
    ("bpf", 321, (5, 0, 0)),  # BPF_PROG_LOAD
    ("kexec_load", 246, (0, 0, 0, 0)),
    ("init_module", 175, (0, 0, b"")),
    ("perf_event_open", 298, (0, 0, -1 & 0xFFFFFFFF, -1 & 0xFFFFFFFF, 0)),
    ("chroot", 161, (b"/tmp",)),
    ("clone-newuser", 56, (CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)),
    ("clone3-newuser", 435, (clone_args, 88)),
    ("socket-vsock", 41, (40, 1, 0)),
    ("socket-packet", 41, (17, 3, 0)),
    ("socket-alg", 41, (38, 5, 0)),
    ("socket-netlink-diag", 41, (16, 3, 4)),
    ("socketpair-inet", 53, (2, 1, 0, pair)),
    ("ioctl-tiocsti", 16, (0, 0x5412, one)),
    ("open-noatime", 2, (hostname, O_NOATIME)),
    ("openat-noatime", 257, (AT_FDCWD, hostname, O_NOATIME)),
    ("fcntl-noatime", 72, ("fd", 4, O_NOATIME)),  # F_SETFL
    ("personality", 135, (0x0040000,)),  # ADDR_NO_RANDOMIZE
    ("io_uring_setup", 425, (8, uring_params)),
    ("openat2", 437, (AT_FDCWD, hostname, open_how, 24)),
]

if os.getuid() == 0:
    # outside a sandbox, as root, mount and umount2 would act
    print("refusing to run as root")
    sys.exit(2)
if len(sys.argv) > 1 and sys.argv[1] == "static":
    with open("denied", "rb") as f:
        data = f.read()
    fd = os.memfd_create("update", 0)
    os.write(fd, data)
    try:
        out = subprocess.run(["/proc/self/fd/%d" % fd], pass_fds=(fd,), capture_output=True, text=True)
    except PermissionError:
        print("static binaries unsupported")
        sys.exit(0)
    if "failed to reserve" in out.stderr:
        # Go's runtime under a per-process RLIMIT_AS (a degraded run)
        print("static binaries unsupported (RLIMIT_AS)")
        sys.exit(0)
    sys.stdout.write(out.stdout)
    sys.stderr.write(out.stderr[-2000:])
    sys.exit(out.returncode)

if platform.machine() != "x86_64":
    print("ctypes calls unsupported on", platform.machine())
    sys.exit(0)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
pid = os.getpid()
fd = os.open("/etc/hostname", os.O_RDONLY)
for name, nr, args in CALLS:
    ctypes.set_errno(0)
    args = [ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_long(fd) if a == "fd" else
            ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    r = libc.syscall(ctypes.c_long(nr), *args)
    if r == 0 and os.getpid() != pid:
        os._exit(0)  # a clone that went through: the child
    print(name, r, ctypes.get_errno(), flush=True)
# glibc starts a thread with clone3 and falls back to clone on ENOSYS.
t = threading.Thread(target=lambda: None)
t.start()
t.join()
print("thread", 0, 0)
