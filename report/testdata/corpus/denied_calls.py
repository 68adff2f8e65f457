# Calls every sandbox denies, made past Python's audit hooks: through
# libc's raw syscall() (ctypes), or (argument "static") by a static binary
# shipped in the workspace and run from a memfd (the sandbox's tmpfs may be
# noexec). Each prints "NAME RET ERRNO"; the test wants every one refused
# and every one seen by the kernel.
import ctypes, os, platform, subprocess, sys

# x86_64 numbers; the static binary has its own table.
CALLS = [
    ("mount", 165, (b"none", b"/tmp", b"tmpfs", 0, 0)),
    ("umount2", 166, (b"/tmp", 0)),
    ("unshare", 272, (0x10000000,)),  # CLONE_NEWUSER
    ("setns", 308, (0, 0x40000000)),  # CLONE_NEWNET
    ("ptrace", 101, (16, 1, 0, 0)),  # PTRACE_ATTACH pid 1
    ("keyctl", 250, (0, -3 & 0xFFFFFFFF, 0)),  # KEYCTL_GET_KEYRING_ID session
    ("bpf", 321, (5, 0, 0)),  # BPF_PROG_LOAD
    ("kexec_load", 246, (0, 0, 0, 0)),
    ("init_module", 175, (0, 0, b"")),
    ("perf_event_open", 298, (0, 0, -1 & 0xFFFFFFFF, -1 & 0xFFFFFFFF, 0)),
    ("chroot", 161, (b"/tmp",)),
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
for name, nr, args in CALLS:
    ctypes.set_errno(0)
    args = [ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_long(a) for a in args]
    r = libc.syscall(ctypes.c_long(nr), *args)
    print(name, r, ctypes.get_errno(), flush=True)
