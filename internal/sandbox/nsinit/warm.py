# moat: the stub of a prestarted interpreter (nsinit.Prestart). The init
# starts the interpreter as `python -c THIS` once the sandbox is set up
# (without these comments: WarmStub); it blocks reading descriptor 3
# until the run is handed over: the run's argv (argv[0] the interpreter,
# then `-c CODE [ARG...]` or `SCRIPT [ARG...]`) and environment, each
# field ended by a NUL, the first the number of argv fields. It then runs
# the program as __main__ as the interpreter would have: the same
# sys.argv, sys.orig_argv, sys.path[0], globals, environment, tracebacks
# and exit status, and the same /proc/self/cmdline and /proc/self/environ.
def _point(blob, na, prctl, malloc, sbrk, memmove, memset, string_at):
    # Fields 4.. of /proc/self/stat: the mm's addresses (man 5 proc).
    with open("/proc/self/stat", "rb") as f:
        st = [int(x) for x in f.read().rsplit(b")", 1)[1].split()[1:]]
    code, stack, data, brk = st[22:24], st[24], st[41:43], [st[43], sbrk(0)]
    args, env = st[44:46], st[46:48]
    at = malloc(len(blob))
    if not at:
        return
    memmove(at, blob, len(blob))
    vals = code + data + brk + [stack, at, at + na, at + na, at + len(blob), 0]
    mm = b"".join(v.to_bytes(8, "little") for v in vals) + (0).to_bytes(4, "little") + (0xFFFFFFFF).to_bytes(4, "little")
    if prctl(35, 14, mm, len(mm), 0) != 0:  # PR_SET_MM, PR_SET_MM_MAP
        return
    memset(args[0], 0, args[1] - args[0])
    i = string_at(env[0], env[1] - env[0]).find(b"\0_PYTHON_PRESTART=1\0")
    if i >= 0:
        memset(env[0] + i + 1, 0, 11)


def _main(g):
    # os and sys are loaded at startup already. ctypes is not: it is
    # loaded now, ahead, and taken out of sys.modules before the program
    # runs. The init ignores what the audit hook says until the hello.
    import os, sys
    del g["_main"]
    point = g.pop("_point")
    had = set(sys.modules)
    prctl = malloc = sbrk = memmove = memset = string_at = None
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        prctl, malloc, sbrk = libc.prctl, libc.malloc, libc.sbrk
        prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
        malloc.restype, malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
        sbrk.restype, sbrk.argtypes = ctypes.c_void_p, [ctypes.c_long]
        memmove, memset, string_at = ctypes.memmove, ctypes.memset, ctypes.string_at
        del libc, ctypes
    except Exception:
        prctl = None
    for m in set(sys.modules) - had:
        del sys.modules[m]
    del had
    parts = []
    while True:
        b = os.read(3, 1 << 16)
        if not b:
            break
        parts.append(b)
    os.close(3)
    f = b"".join(parts).split(b"\0")[:-1]
    del parts
    n = int(f[0])
    blob = b"\0".join(f[1:]) + b"\0"
    na = len(b"\0".join(f[1:1 + n])) + 1
    argv = [os.fsdecode(a) for a in f[1:1 + n]]
    env = {}
    for kv in f[1 + n:]:
        k, _, v = kv.partition(b"=")
        env[os.fsdecode(k)] = os.fsdecode(v)
    del f
    # The environment: the run's, in its order. PYTHONPATH is the audit
    # hook's, hidden from the mapping (internal/observe/audit's hook.py).
    environ = os.environ
    for k in list(environ):
        if k not in env:
            del environ[k]
    for k, v in env.items():
        if k != "PYTHONPATH" and environ.get(k) != v:
            environ[k] = v
    data = environ._data
    order = {}
    for k in env:
        ek = environ.encodekey(k)
        if ek in data:
            order[ek] = data[ek]
    order.update(data)
    data.clear()
    data.update(order)
    del order, data, environ, env
    # time, loaded at startup, read TZ then: read it again, the run's.
    if "time" in sys.modules:
        sys.modules["time"].tzset()
    # /proc/self/cmdline and /proc/self/environ: the kernel shows the
    # memory it was told holds argv and the environment, the stub's at
    # the start. PR_SET_MM_MAP (no privilege needed when the executable
    # stays) points it at a copy of the run's, in malloc'd memory never
    # freed, and the stub's own argv and the init's variable are wiped.
    # Where the kernel refuses, /proc keeps the stub's.
    if prctl is not None:
        try:
            point(blob, na, prctl, malloc, sbrk, memmove, memset, string_at)
        except Exception:
            pass
    del point, prctl, malloc, sbrk, memmove, memset, string_at, blob, na
    sys.orig_argv = argv
    args = argv[1:]
    sys.argv = ["-c"] + args[2:] if args[0] == "-c" else args
    sys.audit("site.prestart")  # the audit hook's "hello", with this argv
    if args[0] == "-c":
        src, name = args[1], "<string>"
    else:
        name = os.path.abspath(args[0])
        sys.path[0] = os.path.dirname(os.path.realpath(args[0]))
        try:
            with open(args[0], "rb") as fh:
                src = fh.read()
        except OSError as e:
            sys.stderr.write("%s: can't open file %r: [Errno %d] %s\n" % (argv[0], name, e.errno, e.strerror))
            raise SystemExit(2)
        g["__file__"], g["__cached__"] = name, None
        g["__loader__"] = sys.modules["_frozen_importlib_external"].SourceFileLoader("__main__", name)
    del argv, args
    try:
        exec(compile(src, name, "exec", dont_inherit=True), g)
    except SystemExit:
        raise
    except BaseException as e:
        # As the interpreter reports an uncaught exception: its traceback
        # without this stub's frame, through sys.excepthook, status 1
        # (KeyboardInterrupt: killed by SIGINT).
        tb = e.__traceback__.tb_next  # the first is this frame
        e.__traceback__ = tb
        sys.last_type, sys.last_value, sys.last_traceback = type(e), e, tb
        if hasattr(sys, "last_exc"):
            sys.last_exc = e
        sys.excepthook(type(e), e, tb)
        if isinstance(e, KeyboardInterrupt):
            import atexit, signal
            del e, tb
            atexit._run_exitfuncs()
            for s in (sys.stdout, sys.stderr):
                try:
                    s.flush()
                except Exception:
                    pass
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.raise_signal(signal.SIGINT)  # as the interpreter does: no os.kill audit event
        del e, tb
        raise SystemExit(1)
_main(globals())
