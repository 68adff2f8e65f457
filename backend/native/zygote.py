# moat's zygote (backend/native zygote_linux.go). One interpreter, started
# once in a sandbox of its own (read-only root, no capabilities, no
# seccomp, no Landlock); it reads commands from the host alone, on its
# descriptor 3 (a Unix seqpacket socket), never from a child. Each command
# is "fork" with the descriptors of one child: its own socket to the host,
# stdin, stdout, stderr, and the read end of its run pipe. The zygote clones the child's pid 1 (_clone) into
# a user namespace mapping only itself and mount, IPC, UTS, network and
# PID namespaces of its own: one fork of the interpreter for the child's
# setup, not two. pid 1 writes its own uid and gid maps, mounts fresh
# tmpfs directories, brings lo up, says "placed?" and waits for the host
# to have moved it into a cgroup of its own; it takes a cgroup namespace,
# mounts /proc, drops every capability, sets rlimits, no_new_privs,
# Landlock and the host's seccomp program, says "waiting", forks the
# program's process (which reads its run from the host on the run pipe)
# and writes the run's files; it reaps until the program ends, kills
# what is left, and reports the status. The program is never pid 1 (a pid 1 ignores
# the default action of its own signals).
#
# The child's config (its persona, limits; "fifo" for the report) is
# the first message on its own socket, never the zygote's: a child's
# memory is a copy of its ancestors', and the program's with it.
#
# The behaviour report (a config with "fifo"): the zygote runs the
# audit hook from its start (a warm interpreter, silent until the hello);
# pid 1 binds a FIFO of its own over the hook's channel and its persona's
# /etc files, and hands the host the FIFO, which then plants the run's
# honeytokens in the child's home (never through a process the program
# descends from); it installs the seccomp program with a listener and
# hands the host the listener (SCM_RIGHTS) before anything else; the program says
# hello with the run's argv. The host reads the FIFO, serves the
# listener and diffs the writable directories (_report_setup).
#
# What the program sees of itself is a cold run's: its pid (pid 1 sets
# ns_last_pid), its /proc/self/cmdline and environ (the run's, _set_mm),
# and pid 1's command line and name (the persona's init).
import sys
_startup = set(sys.modules)
# The finders cached for the directories imported from so far: a child
# forgets those of the zygote's own imports (ctypes' directory was a
# tell in sys.path_importer_cache), as it forgets their modules.
_startup_finders = set(sys.path_importer_cache)
import os, socket, struct, json, ctypes, signal
# Loaded once, here: an extension module imported in a child is a dlopen
# (its mapping, its relocations, their page faults) for every child.
import fcntl, resource, gc, atexit, time

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_NR = {"x86_64": {"landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446, "capset": 126, "seccomp": 317, "brk": 12, "prctl": 157, "clone": 56},
       "aarch64": {"landlock_create_ruleset": 444, "landlock_add_rule": 445, "landlock_restrict_self": 446, "capset": 91, "seccomp": 277, "brk": 214, "prctl": 167, "clone": 220}}[os.uname().machine]
# clone(2) through a PyDLL: the GIL stays held across the call, as
# os.fork holds it, so the child starts with the interpreter's state as
# the one thread left in it had it.
_pyc = ctypes.PyDLL(None, use_errno=True)
_pyc.syscall.restype = ctypes.c_long
ctypes.pythonapi.PyOS_AfterFork_Child.restype = None
ctypes.pythonapi.PyOS_AfterFork_Child.argtypes = []
# CLONE_NEWUSER|NEWNS|NEWIPC|NEWUTS|NEWNET|NEWPID; the cgroup namespace
# comes once pid 1 is in its cgroup.
_CLONE_NS = 0x10000000 | 0x00020000 | 0x08000000 | 0x04000000 | 0x40000000 | 0x20000000
_WORK, _TMP = "/work", "/tmp"
_RUN_FD = 4  # a child's run pipe: the program's process reads its run there


def _name(n):
    # The process's name (comm), which ps and perf show: each of a
    # child's processes says its part; the program gets the zygote's.
    b = ctypes.create_string_buffer(n[:15])
    _libc.prctl(15, ctypes.addressof(b), 0, 0, 0)  # PR_SET_NAME


# struct prctl_mm_map (linux/prctl.h): start_code, end_code, start_data,
# end_data, start_brk, brk, start_stack, arg_start, arg_end, env_start,
# env_end, auxv, auxv_size, exe_fd.
class _MMMap(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("start_code", "end_code", "start_data", "end_data", "start_brk", "brk",
                                               "start_stack", "arg_start", "arg_end", "env_start", "env_end", "auxv")] + \
        [("auxv_size", ctypes.c_uint32), ("exe_fd", ctypes.c_uint32)]


_areas = []  # the argv and environment areas set by _set_mm: alive as long as the process


def _mm_map():
    # This process's own prctl_mm_map, from /proc/self/stat: what
    # _set_mm changes of it are the argv and environment areas and the
    # break (read by _set_mm, last), so it may be read ahead.
    fd = os.open("/proc/self/stat", os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.read(fd, 4096)
    finally:
        os.close(fd)
    fl = [int(x) for x in st[st.rindex(b")") + 2:].split()[1:]]  # fl[i] is field i+4 (state is field 3)
    f = lambda n: fl[n - 4]
    return _MMMap(start_code=f(26), end_code=f(27), start_data=f(45), end_data=f(46), start_brk=f(47),
                  start_stack=f(28), arg_start=f(48), arg_end=f(49), env_start=f(50), env_end=f(51), auxv=0,
                  auxv_size=0, exe_fd=0xFFFFFFFF)


def _set_mm(argv, env, m=None):
    # /proc/self/cmdline and /proc/self/environ are the kernel's view of
    # the argv and environment areas: PR_SET_MM_MAP points them at
    # buffers holding argv (and env, if not None), each string
    # NUL-terminated, no padding. Every other field is this process's
    # own (m, _mm_map's, read now if None; and brk, the current break,
    # read last); exe_fd -1 and no auxv, which is what lets a process
    # without capabilities do it (kernel/sys.c prctl_set_mm_map). Raises
    # OSError with the kernel's errno if it refuses.
    if m is None:
        m = _mm_map()
    a = ctypes.create_string_buffer(b"".join(x.encode("utf-8", "surrogateescape") + b"\0" for x in argv))
    m.arg_start = ctypes.addressof(a)
    m.arg_end = m.arg_start + len(a.raw) - 1  # the buffer's own trailing NUL is not the argv's
    keep = [a]
    if env is not None:
        e = ctypes.create_string_buffer(b"".join(x.encode("utf-8", "surrogateescape") + b"\0" for x in env))
        m.env_start = ctypes.addressof(e)
        m.env_end = m.env_start + len(e.raw) - 1
        keep.append(e)
    m.brk = _libc.syscall(_NR["brk"], 0)
    _check(_libc.syscall(_NR["prctl"], 35, 14, ctypes.c_void_p(ctypes.addressof(m)), ctypes.sizeof(m), 0), "prctl PR_SET_MM_MAP")  # PR_SET_MM, PR_SET_MM_MAP
    _areas[:] = keep


def _check(r, what):
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))
    return r


def _mount(src, dst, fs, flags, data):
    _check(_libc.mount(src and src.encode(), dst.encode(), fs and fs.encode(), flags, data and data.encode()), "mount " + dst)


def _write(path, s):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, s.encode())
    finally:
        os.close(fd)


def _send(sock, m, fd=-1):
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))] if fd >= 0 else []
    sock.sendmsg([json.dumps(m).encode()], anc)


def _recv(sock):
    b = sock.recv(1 << 20)
    if not b:
        raise EOFError("host closed")
    return json.loads(b)


def _landlock(rw_dirs, rw_files):
    abi = _libc.syscall(_NR["landlock_create_ruleset"], None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        return 0
    fs_all = (1 << 13) - 1
    if abi >= 2:
        fs_all |= 1 << 13  # refer
    if abi >= 3:
        fs_all |= 1 << 14  # truncate
    if abi >= 5:
        fs_all |= 1 << 15  # ioctl_dev
    ro = 1 | 4 | 8  # execute, read_file, read_dir
    filebits = 2 | 4 | (fs_all & ((1 << 14) | (1 << 15)))
    attr = struct.pack("QQ", fs_all, 0)
    rs = _check(_libc.syscall(_NR["landlock_create_ruleset"], attr, 8, 0), "landlock ruleset")
    try:
        def rule(path, access):
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                pb = struct.pack("=Qi", access, fd)
                _check(_libc.syscall(_NR["landlock_add_rule"], rs, 1, pb, 0), "landlock rule " + path)
            finally:
                os.close(fd)
        rule("/", ro)
        for d in rw_dirs:
            rule(d, fs_all)
        for f in rw_files:
            rule(f, filebits & fs_all)
        _check(_libc.syscall(_NR["landlock_restrict_self"], rs, 0), "landlock restrict")
    finally:
        os.close(rs)
    return abi


def _seccomp(prog, listener):
    # With listener, SECCOMP_FILTER_FLAG_NEW_LISTENER: the descriptor the
    # host serves (the kernel witness); without, the plain deny list.
    n = len(prog) // 8
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = struct.pack("HxxxxxxQ", n, ctypes.addressof(buf))
    return _check(_libc.syscall(_NR["seccomp"], 1, 8 if listener else 0, fprog), "seccomp")  # SECCOMP_SET_MODE_FILTER


def _drop_caps():
    for c in range(64):
        _libc.prctl(24, c, 0, 0, 0)  # PR_CAPBSET_DROP (EINVAL past the last)
    _libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    hdr = struct.pack("Ii", 0x20080522, 0)
    data = bytes(24)
    _check(_libc.syscall(_NR["capset"], hdr, data), "capset")


def _lo_up():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH22x", b"lo", 0x1 | 0x40))  # SIOCSIFFLAGS IFF_UP|IFF_RUNNING
    finally:
        s.close()


def _clone():
    # fork(2) into new namespaces: clone(2) with no stack (the child runs
    # on a copy of this one, as a fork's), SIGCHLD its exit signal (the
    # zygote ignores it: the kernel reaps). The child runs CPython's
    # after-fork work (its locks, its thread state, os.register_at_fork's
    # hooks such as random's reseed) before any other Python; the zygote
    # has one thread, so no lock of libc or of the interpreter is held
    # by another. What libc's fork would do and this does not: its
    # thread descriptor keeps the zygote's tid (libc's raise and
    # pthread_kill ask the kernel for their own), and no pthread_atfork
    # handler runs (CPython uses none: its own after-fork work is the
    # call below). pid 1 makes no thread; its own forks are libc's.
    # Returns as os.fork does.
    pid = _pyc.syscall(_NR["clone"], ctypes.c_ulong(_CLONE_NS | signal.SIGCHLD), None, None, None, None)
    if pid == 0:
        ctypes.pythonapi.PyOS_AfterFork_Child()
        return 0
    if pid < 0:
        e = ctypes.get_errno()
        raise OSError(e, "clone: %s" % os.strerror(e))
    return pid


def _noop(*a, **k):
    pass


def _noop_cell():
    # A no-op whose code has one free variable, as a method's that
    # calls super() (its __class__ cell): a function's code may be
    # replaced only by one with as many.
    __class__ = None

    def noop(*a, **k):
        __class__
    return noop


# The after-fork hooks in Python that the zygote's startup registered
# (os.register_at_fork): threading's _after_fork and random's reseed,
# when site's imports (a .pth file's) brought those modules in. Each
# fork of the zygote (pid 1, _clone) and pid 1's fork of the program
# ran them, and each is a walk over objects of the zygote's, every page
# it writes a copy-on-write fault: 160 a fork here, a fifth of a child's
# faults. They are no-ops until the program's process puts them back
# (_program, before anything of the run): what they would do is nothing
# for these forks. The zygote and pid 1 have one thread each (pid 1
# makes none, the zygote none), so threading's state is already what
# _after_fork would make of it (the one thread's ident is its
# pthread_self, the same after a fork; no lock is held by another
# thread); random's reseed is the program's own, after the put-back,
# and pid 1 draws no random number. A program's own forks run them as
# a cold run's do.
def _quiet_forkers():
    saved = []
    t = sys.modules.get("threading")
    if t is not None and hasattr(t, "_after_fork"):
        saved.append((t._after_fork, t._after_fork.__code__))
    r = sys.modules.get("random")
    if r is not None and hasattr(r, "Random"):
        saved.append((r.Random.seed, r.Random.seed.__code__))
    noops = {0: _noop.__code__, 1: _noop_cell().__code__}
    saved = [(f, c) for f, c in saved if len(c.co_freevars) in noops]
    for f, c in saved:
        f.__code__ = noops[len(c.co_freevars)]
    return saved


def _child(sock, cfg, uid, gid):
    # pid 1 of the child's namespaces, cloned into them with every
    # capability of its new user namespace, none outside it; its
    # descriptors are its own (0-3). uid and gid are the zygote's: in
    # the new namespace they are unmapped until the maps below.
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", "%d %d 1\n" % (uid, uid))
    _write("/proc/self/gid_map", "%d %d 1\n" % (gid, gid))
    _mount(None, "/", None, 1 << 18 | 1 << 14, None)  # MS_PRIVATE|MS_REC
    # One tmpfs of the disk limit for every writable directory, as the
    # native init has it: /tmp's, with the others bound from within it.
    nosuid_nodev = 2 | 4
    home = cfg["home"]
    _mount("tmpfs", _TMP, "tmpfs", nosuid_nodev, "mode=0755,size=%d" % cfg["disk"])
    # The home of the child's persona: /home is covered by a directory
    # of the tmpfs that holds only it.
    parts = ((".t", _TMP, 0o1777), (".w", _WORK, 0o755), (".s", "/dev/shm", 0o1777), (".h", os.path.dirname(home), 0o755))
    for name, _, mode in parts:
        os.mkdir(_TMP + "/" + name)
        os.chmod(_TMP + "/" + name, mode)
    os.mkdir(_TMP + "/.h/" + os.path.basename(home), 0o755)
    _persona(cfg)
    fifo = _report_setup(cfg, home) if cfg.get("fifo") else -1
    for name, dst, _ in parts[1:] + parts[:1]:
        _mount(_TMP + "/" + name, dst, None, 4096, None)  # MS_BIND
    # Ptys: a devpts instance of the child's own (newinstance, at most
    # nsinit.PtyMax), over the zygote's; /dev/ptmx is the zygote root's
    # link to pts/ptmx, this one's now. Gone with the mount namespace.
    _mount("devpts", "/dev/pts", "devpts", 2 | 8, cfg["devpts"])  # MS_NOSUID|MS_NOEXEC
    host = cfg["host"].encode()
    _check(_libc.sethostname(host, len(host)), "hostname")
    _lo_up()
    # The host moves this process into the run's cgroup (it knows its
    # pid from the kernel's credentials of this message); everything
    # after is born in it.
    _send(sock, {"kind": "placed?"}, fifo)
    if fifo >= 0:
        os.close(fifo)
    go = _recv(sock)
    if go.get("kind") != "go":
        os._exit(1)
    prog = bytes.fromhex(go["seccomp"])
    _check(_libc.unshare(0x02000000), "unshare cgroup")  # CLONE_NEWCGROUP: its own cgroup is its root
    _reaper(sock, cfg, prog)


def _persona(cfg):
    # pid 1: the child's persona's /etc files (passwd, group, hosts,
    # hostname), from the tmpfs's hidden root, bound read-only over the
    # zygote's.
    os.mkdir(_TMP + "/.e", 0o700)
    for name, data in cfg.get("etc", {}).items():
        dst = "/etc/" + name
        if "/" in name or not os.path.isfile(dst):
            continue
        src = _TMP + "/.e/" + name
        with open(src, "w") as f:
            f.write(data)
        os.chmod(src, 0o644)
        if name in ("passwd", "group", "machine-id") and cfg.get("etc_time"):
            # written when the machine was installed (observe.Installed)
            os.utime(src, (cfg["etc_time"], cfg["etc_time"]))
        _mount(src, dst, None, 4096, None)  # MS_BIND
        _mount(None, dst, None, 32 | 4096 | 1 | 2 | 4 | 8, None)  # MS_REMOUNT|MS_BIND|MS_RDONLY|nosuid|nodev|noexec


def _report_setup(cfg, home):
    # pid 1, the report's part of the child's mounts (the tmpfs is at /tmp,
    # its parts not yet bound): a FIFO of the child's own over the hook's
    # channel. Returns the FIFO, open for reading and writing, for the
    # host. The honeytokens are not pid 1's: the host plants them in the
    # child's home once it is bound (zygote_report_linux.go, plant), so
    # that they are never in the memory the program inherits.
    fifo = _TMP + "/.e/a"
    os.mkfifo(fifo, 0o622)
    os.chmod(fifo, 0o622)
    _mount(fifo, cfg["fifo"], None, 4096, None)  # MS_BIND
    return os.open(cfg["fifo"], os.O_RDWR | os.O_CLOEXEC)


def _reaper(sock, cfg, prog):
    # pid 1 of the run's PID namespace, in its cgroup: the sandbox's
    # last layers, then the program, then its reaping. The zygote's
    # death is its own (PR_SET_PDEATHSIG); the host kills it by pidfd.
    _libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    # A /proc of this PID namespace, masked as the native init masks its
    # own; then the zygote's unmasked one is covered.
    nsd = 2 | 4 | 8  # nosuid nodev noexec
    _mount("proc", "/proc", "proc", nsd, None)
    if cfg.get("last_pid"):
        # The program's pid is a cold run's (whose init's threads took
        # the first): the next process of this namespace is last_pid+1.
        # Best effort: a kernel that refuses leaves the program pid 2,
        # which is a tell, not a weaker sandbox.
        try:
            _write("/proc/sys/kernel/ns_last_pid", "%d" % cfg["last_pid"])
        except OSError:
            pass
    for f in cfg["proc_files"]:
        if os.path.lexists("/proc/" + f):
            _mount("/dev/null", "/proc/" + f, None, 4096, None)  # MS_BIND
    for d in cfg["proc_dirs"]:
        if os.path.isdir("/proc/" + d):
            _mount("tmpfs", "/proc/" + d, "tmpfs", 1 | nsd, "size=0")
    for d in cfg["proc_ro"]:
        p = "/proc/" + d
        _mount(p, p, None, 4096 | 16384, None)  # MS_BIND|MS_REC
        _mount(None, p, None, 32 | 4096 | 1 | nsd, None)  # MS_REMOUNT|MS_BIND|MS_RDONLY
    _mount("tmpfs", cfg["proc"], "tmpfs", 1 | nsd, "size=0")
    _libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: the program cannot ptrace or read pid 1
    _drop_caps()
    for res, v in ((resource.RLIMIT_NPROC, cfg["nproc"]), (resource.RLIMIT_FSIZE, cfg["fsize"]), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(res, (v, v))
    _check(_libc.prctl(38, 1, 0, 0, 0), "no_new_privs")
    # pid 1's command line and name are the persona's init, as a cold
    # run's: without a capability, before the seccomp program, which
    # is also the proof that the program's own _set_mm will be allowed.
    mm = 0
    if cfg.get("init"):
        try:
            _set_mm([cfg["init"]], None)
            _name(os.path.basename(cfg["init"]).encode())
        except OSError as e:
            mm = e.errno
    rw_files = ["/dev/" + d for d in ("null", "zero", "full", "random", "urandom", "tty")]
    if cfg.get("fifo"):
        rw_files.append(cfg["fifo"])  # the hook's channel, the child's own FIFO
    abi = _landlock([_WORK, _TMP, cfg["home"], "/dev/shm", "/dev/pts"], rw_files)
    # The listener goes to the host first: until the host serves it, a
    # watched call of this process would wait.
    listener = _seccomp(prog, cfg.get("notify"))
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(s, signal.SIG_IGN)
    _send(sock, {"kind": "waiting", "landlock": abi, "mm": mm}, listener if cfg.get("notify") else -1)
    if cfg.get("notify"):
        os.close(listener)
    # The program's process is made now, while the child waits, not when
    # the run has come: under every layer above, without the socket, it
    # waits for the run on the run pipe (descriptor 4, whose write end
    # only the host holds: _program). Its pid is the namespace's next
    # (ns_last_pid above).
    pid = os.fork()
    if pid == 0:
        _program(sock, _RUN_FD, mm == 0 and cfg.get("init"))
    os.close(_RUN_FD)
    # What the end below does after the program's exit, once ahead on
    # nothing of the run's while it waits (the exit message's encoding,
    # the status's decoding): the pages those touch, shared with the
    # program since its fork, are copied now, not between the program's
    # exit and the answer.
    os.WIFSIGNALED(0)
    json.dumps({"kind": "exit", "exit_code": os.WEXITSTATUS(0), "signal": os.WTERMSIG(0)}).encode()
    # The run's files come to pid 1; the host sends the program its run
    # once they are written (and, with the report, its "before" picture
    # taken).
    run = _recv(sock)
    for name, data in run.get("files", {}).items():
        with open(os.path.join(_WORK, name), "wb") as f:
            f.write(bytes.fromhex(data))
    if run.get("written"):
        _send(sock, {"kind": "written"})
    del run
    nul = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(nul, fd)
    os.close(nul)
    status = None
    outlived = []
    while True:
        try:
            p, st = os.wait()
        except ChildProcessError:
            break
        if p == pid:
            status = st
            if cfg.get("outlived"):
                outlived = _survivors(pid, *cfg["outlived"])
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
    m = {"kind": "exit", "exit_code": 0}
    if status is not None:
        if os.WIFSIGNALED(status):
            m["signal"] = os.WTERMSIG(status)
            m["exit_code"] = 128 + m["signal"]
        else:
            m["exit_code"] = os.WEXITSTATUS(status)
    if outlived:
        m["outlived"] = outlived
    try:
        _send(sock, m)
    finally:
        os._exit(0)


def _survivors(main, grace_ms, quiet_ms, session_grace_ms, most, cmd_bytes):
    # pid 1, once the program (main, in a session of its own) has ended:
    # the processes of the namespace still running, as package survivors
    # lists them (Wait, List): once none is left, or after grace_ms once
    # one is a daemon's (another session) or none has run (CPU time, or
    # one ended) for quiet_ms, or after session_grace_ms (multiprocessing's
    # resource tracker may still be starting); at most `most`, the last
    # with "more", each command line at most cmd_bytes, undecodable bytes
    # replaced. All of it is the program's: the host escapes it.
    start = time.monotonic()
    moved, last = start, None
    while True:
        ps, cpu = [], 0
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in (1, main):
                continue
            try:
                with open("/proc/%s/stat" % name, "rb") as f:
                    stat = f.read(1024)
                with open("/proc/%s/cmdline" % name, "rb") as f:
                    cmd = f.read(cmd_bytes)
            except OSError:
                continue
            # pid (comm) state ppid pgrp session ... utime stime: comm may
            # hold anything
            fields = stat[stat.rfind(b")") + 1:].split()
            if len(fields) < 13 or fields[0] in (b"Z", b"X"):
                continue
            if len(ps) == most:
                ps[-1]["more"] = True
                break
            sid = int(fields[3])
            cpu += int(fields[11]) + int(fields[12])
            cmd = cmd.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
            ps.append({"pid": int(name), "sid": sid, "own": sid != main, "cmd": cmd})
        if not ps:
            return ps
        now = time.monotonic()
        if (cpu, len(ps)) != last:
            moved, last = now, (cpu, len(ps))
        waited = now - start
        if waited > session_grace_ms / 1000 or (waited > grace_ms / 1000 and (
                now - moved > quiet_ms / 1000 or any(p["own"] for p in ps))):
            return ps
        time.sleep(0.02)


def _program(sock, r, mm):
    # The run's program, in this interpreter: pid 1's child, made ahead.
    # It does what needs no run, then reads the run from r (the host's
    # pipe) to its end. What needs no run is done before the read: the
    # first write to each page of the zygote's copies it (a fault, on
    # a PVM guest a hypervisor exit), so that work, and the warm-up of
    # what the run will do (its parse, its compile), is off the run's
    # time; none of it is seen by the program, which starts as before.
    try:
        for f, c in _forkers:
            f.__code__ = c
        sock.close()
        # Dumpable again, as a cold run's program is: the reaper's
        # PR_SET_DUMPABLE 0 came with the fork and closed the program's
        # own /proc files to it. Its memory is its own copy (the reaper
        # stays undumpable), nothing it could not read itself already.
        _check(_libc.prctl(4, 1, 0, 0, 0), "dumpable")
        _name(_comm)
        os.setsid()
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        os.chdir(_WORK)
        os.environ.clear()
        for m in [m for m in sys.modules if m not in _startup]:
            del sys.modules[m]
        for d in [d for d in sys.path_importer_cache if d not in _startup_finders]:
            del sys.path_importer_cache[d]
        g = {"__name__": "__main__", "__doc__": None, "__package__": None, "__spec__": None,
             "__loader__": sys.modules["__main__"].__loader__, "__annotations__": {}, "__builtins__": __builtins__}
        main = type(sys)("__main__")
        main.__dict__.update(g)
        g = main.__dict__
        json.loads('{"argv": ["-c", "pass"], "env": ["A=B"]}')
        os.environ["A"] = "B"
        del os.environ["A"]
        mmap_ = _mm_map() if mm else None
        if mm:
            # Once ahead, to what it shows already (pid 1's command
            # line, no environment): the call's pages (ctypes', the
            # buffers') are then this process's before the run's. Only
            # a warm-up: a refusal here is the run's _set_mm's to meet.
            try:
                _set_mm([mm], [], mmap_)
            except OSError:
                pass
        compile("pass", "<string>", "exec", dont_inherit=True)
        # The program's random numbers are its own from here on (a seed
        # from the kernel, drawn in this process, which no other process
        # shares or sees; the zygote's after-fork reseed is a no-op).
        if "random" in sys.modules:
            sys.modules["random"].seed()
        # What the end below does, done once ahead on nothing of the
        # run's: a collection (the zygote's objects are frozen, so it
        # sees only this process's own), an empty write and a flush of
        # the standard streams, whose buffers are then this process's.
        gc.collect()
        sys.stdout.write("")
        sys.stdout.flush()
        sys.stderr.flush()
        b = []
        while True:
            x = os.read(r, 1 << 16)
            if not x:
                break
            b.append(x)
        os.close(r)
        run = json.loads(b"".join(b))
        del b
        for kv in run["env"]:
            k, _, v = kv.partition("=")
            os.environ[k] = v
        # site computed the user's site directory from the zygote's HOME
        # at its start: again from the run's, as a cold interpreter does.
        if "site" in sys.modules:
            sys.modules["site"].USER_BASE = sys.modules["site"].USER_SITE = None
        argv = run["argv"]
        if mm:
            # /proc/self/cmdline and /proc/self/environ: the run's, as a
            # cold run's (allowed: pid 1 did the same before the filter).
            _set_mm(argv, run["env"], mmap_)
        # The audit hook's hello (warm.py's): what the zygote and pid 1
        # did is not the run's; the run starts with the hook's budget whole.
        sys.argv = ["-c"] + argv[3:] if argv[1:2] == ["-c"] else argv[1:]
        sys.audit("site.prestart")
        # Again after the run's own setup (its parse, its imports).
        for m in [m for m in sys.modules if m not in _startup]:
            del sys.modules[m]
        for d in [d for d in sys.path_importer_cache if d not in _startup_finders]:
            del sys.path_importer_cache[d]
        sys.modules["__main__"] = main
        sys.orig_argv = argv
        args = argv[1:]
        if args[0] == "-c":
            sys.argv = ["-c"] + args[2:]
            src, name = args[1], "<string>"
            sys.path[0] = ""
        else:
            sys.argv = args
            name = os.path.abspath(args[0])
            sys.path[0] = os.path.dirname(name)
            with open(args[0], "rb") as fh:
                src = fh.read()
            g["__file__"] = name
    except BaseException as e:
        os.write(2, ("moat zygote: %s\n" % e).encode())
        os._exit(125)
    del run, argv, args
    # The zygote's objects stay frozen (gc.get_freeze_count() some
    # 12,800, a tell; 0 cold): unfrozen, the child's first full
    # collection wrote to the header of each, and copied their pages (600
    # faults, 80-110 ms on this host against 10 ms cold); every child
    # would pay it at its end below.
    code, intr = 0, False
    try:
        exec(compile(src, name, "exec", dont_inherit=True), g)
    except SystemExit as e:
        c = e.code
        if c is None:
            code = 0
        elif isinstance(c, int):
            code = c & 0xFF
        else:
            sys.stderr.write(str(c) + "\n")
            code = 1
    except BaseException as e:
        # From the program's frame on: the hook prints the exception's
        # own traceback, which starts at this function.
        tb = e.__traceback__.tb_next
        sys.excepthook(type(e), e.with_traceback(tb), tb)
        code = 1
        # An uncaught KeyboardInterrupt ends python by SIGINT, after
        # its finalization (below), not with status 1.
        intr = isinstance(e, KeyboardInterrupt)
        del e, tb
    # Then what the interpreter's finalization does, in its order: wait
    # for the threads that are not daemons, then the atexit functions.
    # Without the wait, the os._exit below killed them as the main module
    # ended, where a cold run's interpreter lets them finish: a payload
    # run from a thread was never seen in a zygote child.
    try:
        t = sys.modules.get("threading")
        if t is not None:
            t._shutdown()
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    # And the modules' end: the main module goes from sys.modules, then a
    # collection, as python's finalization does, so that the destructors
    # of what it held run (a payload in a __del__ ran cold, not here),
    # with its names still in place (its functions hold its dict: a
    # cycle, whose objects are finalized before it is cleared). The
    # collection sees the program's objects only: the zygote's are
    # frozen.
    try:
        del sys.modules["__main__"]
        del g, main
        gc.collect()
    except BaseException:
        pass
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    if intr:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.raise_signal(signal.SIGINT)  # as the interpreter does: no os.kill audit event
    os._exit(code)


def _serve():
    global _comm, _forkers
    ctl = socket.socket(fileno=3)
    with open("/proc/self/comm", "rb") as f:
        _comm = f.read().strip()
    _name(b"moat-zygote")
    _forkers = _quiet_forkers()
    # Every object made so far is moved out of the collector's reach: a
    # collection in a child would otherwise write to the header of each
    # (the zygote's pages, shared with every child), and copy them all.
    gc.collect()
    gc.freeze()
    # Children are reaped by the kernel: a pid 1 that ended leaves no
    # zombie until the next command.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    uid, gid = os.getuid(), os.getgid()
    # The loop does as little as it can: every page it writes after a
    # fork is shared with the children alive, and copied (a fault, a TLB
    # flush) once per fork.
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(ctl, 1 << 16, 8)
        except InterruptedError:
            continue
        if not msg:
            os._exit(0)
        # The command carries nothing of the child's: the child reads its
        # config from its own socket, so that nothing of one child's
        # (persona, paths) stays in the zygote's memory, freed or not,
        # for every later child to inherit.
        del msg
        if len(fds) != 5:
            for fd in fds:
                os.close(fd)
            continue
        try:
            pid = _clone()
        except OSError as ex:
            # No child: its socket's end closes with the descriptors
            # below, and the host reads EOF.
            os.write(2, ("moat zygote: %s\n" % ex).encode())
            pid = -1
        if pid == 0:
            try:
                _name(b"moat-zreaper")
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                cs, i, o, e, r = fds
                # Nothing of the zygote's but the child's own descriptors
                # (each received one is above 3: 0-3 are the zygote's).
                os.dup2(i, 0)
                os.dup2(o, 1)
                os.dup2(e, 2)
                os.dup2(cs, 3)
                os.dup2(r, _RUN_FD)
                os.closerange(_RUN_FD + 1, 1 << 16)
                sock = socket.socket(fileno=3)
                _child(sock, _recv(sock), uid, gid)
            except BaseException as ex:
                try:
                    os.write(2, ("moat zygote: %s\n" % ex).encode())
                finally:
                    os._exit(1)
            os._exit(0)
        for fd in fds:
            os.close(fd)


_serve()
