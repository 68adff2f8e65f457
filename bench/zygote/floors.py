# bench/zygote's floors (-floors): what a zygote child's setup costs the
# machine, one layer added at a time, with none of moat's own work. Run
# as root on the host by bench/zygote: python3 floors.py LEVEL N CGROOT
# with moat's seccomp program (hex) on stdin. It makes N children at
# LEVEL, one after another, each as the zygote makes its own (clone(2)
# from ctypes with the level's namespaces, CPython's after-fork work),
# and prints one JSON line: CPU (user+sys) and page faults of this
# process and of every child and grandchild it reaped, over the N.
#
# The levels add, in order: a second fork (pid 1's fork of the
# program), then the namespaces one by one (user with its maps, mount,
# network with lo up, IPC, UTS with a host name, PID, cgroup after the
# placement), the cgroup v1 directories with their limits (made, the
# child placed, removed), the mounts (zygote.py's _child and _reaper:
# tmpfs, binds, devpts, /proc and its masks), then capabilities,
# rlimits, no_new_privs, Landlock and moat's seccomp program; the last
# has every layer and no second fork. The
# interpreter's state is the zygote's: its modules imported, its
# objects frozen out of the collector.
import sys
import os, socket, struct, json, ctypes, signal, fcntl, resource, gc, atexit

LEVELS = ["fork+_exit", "+ second fork", "+ user ns", "+ mount ns", "+ net ns", "+ ipc ns", "+ uts ns",
          "+ pid ns", "+ cgroup ns", "+ cgroup v1 dirs", "+ mounts", "+ caps, rlimits, Landlock, seccomp",
          "all layers, one fork (no program fork)"]
# The last level is the one before it without the second fork: every
# layer on one process, the cost of a child whose pid 1 were the program.
_ONE = len(LEVELS) - 1
_NS = [0, 0, 0x10000000, 0x00020000, 0x40000000, 0x08000000, 0x04000000, 0x20000000]

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_pyc = ctypes.PyDLL(None, use_errno=True)
_pyc.syscall.restype = ctypes.c_long
ctypes.pythonapi.PyOS_AfterFork_Child.restype = None
_NR = {"x86_64": {"ll_create": 444, "ll_add": 445, "ll_restrict": 446, "capset": 126, "seccomp": 317, "clone": 56},
       "aarch64": {"ll_create": 444, "ll_add": 445, "ll_restrict": 446, "capset": 91, "seccomp": 277, "clone": 220}}[os.uname().machine]


def check(r, what):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))
    return r


def mount(src, dst, fs, flags, data):
    check(_libc.mount(src and src.encode(), dst.encode(), fs and fs.encode(), flags, data and data.encode()), "mount " + dst)


def write(path, s):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, s.encode())
    finally:
        os.close(fd)


def clone(flags):
    pid = _pyc.syscall(_NR["clone"], ctypes.c_ulong(flags | signal.SIGCHLD), None, None, None, None)
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()
    return check(pid, "clone")


def landlock():
    abi = _libc.syscall(_NR["ll_create"], None, 0, 1)
    if abi < 1:
        return
    fs_all = (1 << 13) - 1 | (1 << 13 if abi >= 2 else 0) | (1 << 14 if abi >= 3 else 0) | (1 << 15 if abi >= 5 else 0)
    rs = check(_libc.syscall(_NR["ll_create"], struct.pack("QQ", fs_all, 0), 8, 0), "landlock")
    for path, access in (("/", 1 | 4 | 8), ("/tmp", fs_all), ("/mnt", fs_all), ("/srv", fs_all), ("/dev/shm", fs_all), ("/dev/pts", fs_all)):
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        check(_libc.syscall(_NR["ll_add"], rs, 1, struct.pack("=Qi", access, fd), 0), "landlock rule")
        os.close(fd)
    for d in ("null", "zero", "full", "random", "urandom", "tty"):
        fd = os.open("/dev/" + d, os.O_PATH | os.O_CLOEXEC)
        check(_libc.syscall(_NR["ll_add"], rs, 1, struct.pack("=Qi", (2 | 4) & fs_all, fd), 0), "landlock rule")
        os.close(fd)
    check(_libc.syscall(_NR["ll_restrict"], rs, 0), "landlock restrict")
    os.close(rs)


def child(level, go, prog, one):
    # pid 1 (from the PID level on): the zygote's _child and _reaper,
    # the layers up to level.
    if level >= 2:
        write("/proc/self/setgroups", "deny")
        write("/proc/self/uid_map", "0 0 1\n")
        write("/proc/self/gid_map", "0 0 1\n")
    if level >= 10:
        mount(None, "/", None, 1 << 18 | 1 << 14, None)
        mount("tmpfs", "/tmp", "tmpfs", 6, "mode=0755,size=67108864")
        for name, dst in ((".w", "/mnt"), (".s", "/dev/shm"), (".h", "/srv"), (".t", "/tmp")):
            os.mkdir("/tmp/" + name, 0o755)
            mount("/tmp/" + name, dst, None, 4096, None)
        mount("devpts", "/dev/pts", "devpts", 2 | 8, "newinstance,ptmxmode=0666,mode=620,max=16")
    if level >= 4:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH22x", b"lo", 0x1 | 0x40))
        s.close()
    if level >= 6:
        check(_libc.sethostname(b"floor", 5), "hostname")
    if level >= 9:
        os.read(go, 1)  # placed in the cgroup by the parent
    if level >= 8:
        check(_libc.unshare(0x02000000), "unshare cgroup")
    if level >= 10:
        mount("proc", "/proc", "proc", 14, None)
        for f in ("kcore", "sysrq-trigger", "timer_list", "kallsyms"):
            if os.path.lexists("/proc/" + f):
                mount("/dev/null", "/proc/" + f, None, 4096, None)
        for d in ("acpi", "scsi"):
            if os.path.isdir("/proc/" + d):
                mount("tmpfs", "/proc/" + d, "tmpfs", 15, "size=0")
        for d in ("sys", "bus", "fs", "irq"):
            mount("/proc/" + d, "/proc/" + d, None, 4096 | 16384, None)
            mount(None, "/proc/" + d, None, 32 | 4096 | 1 | 14, None)
    if level >= 11:
        _libc.prctl(4, 0, 0, 0, 0)
        for c in range(64):
            _libc.prctl(24, c, 0, 0, 0)
        _libc.prctl(47, 4, 0, 0, 0)
        check(_libc.syscall(_NR["capset"], struct.pack("Ii", 0x20080522, 0), bytes(24)), "capset")
        for res, v in ((resource.RLIMIT_NPROC, 256), (resource.RLIMIT_FSIZE, 1 << 30), (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(res, (v, v))
        check(_libc.prctl(38, 1, 0, 0, 0), "no_new_privs")
        landlock()
        buf = ctypes.create_string_buffer(prog, len(prog))
        check(_libc.syscall(_NR["seccomp"], 1, 0, struct.pack("HxxxxxxQ", len(prog) // 8, ctypes.addressof(buf))), "seccomp")
    if level >= 1 and not one:
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    os._exit(0)


def main():
    level, n, cgroot = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    name = LEVELS[level]
    if level == _ONE:
        level = _ONE - 1
    prog = bytes.fromhex(sys.stdin.read().strip())
    flags = 0
    for i in range(2, min(level, 7) + 1):
        flags |= _NS[i]
    gc.collect()
    gc.freeze()
    s0, c0 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    for i in range(n):
        cg = []
        if level >= 9:
            for ctl, files in (("memory", (("memory.limit_in_bytes", "536870912"), ("memory.memsw.limit_in_bytes", "536870912"))),
                               ("pids", (("pids.max", "260"),)), ("cpu", (("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "100000")))):
                d = "%s/%s/moat-floors-%d-%d" % (cgroot, ctl, os.getpid(), i)
                os.mkdir(d)
                cg.append(d)
                for f, v in files:
                    if os.path.exists(d + "/" + f):
                        write(d + "/" + f, v)
        r, w = os.pipe()
        pid = clone(flags)
        if pid == 0:
            try:
                os.close(w)
                child(level, r, prog, name == LEVELS[_ONE])
            except BaseException as e:
                os.write(2, ("floors: %s\n" % e).encode())
            os._exit(1)
        os.close(r)
        for d in cg:
            write(d + "/cgroup.procs", str(pid))
        os.close(w)
        _, st = os.waitpid(pid, 0)
        for d in cg:
            os.rmdir(d)
        if st != 0:
            sys.exit("floors: level %d: child status %d" % (level, st))
    s1, c1 = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = lambda a, b: (b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime)
    print(json.dumps({"level": name, "n": n, "self_cpu": cpu(s0, s1), "children_cpu": cpu(c0, c1),
                      "faults": (s1.ru_minflt - s0.ru_minflt) + (c1.ru_minflt - c0.ru_minflt),
                      "child_faults": c1.ru_minflt - c0.ru_minflt}))


main()
