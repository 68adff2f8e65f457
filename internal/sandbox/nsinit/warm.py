# moat: the stub of a prestarted interpreter (nsinit.Prestart). The init
# starts the interpreter as `python -c THIS` once the sandbox is set up;
# it blocks reading descriptor 3 until the run is handed over: the run's
# argv (argv[0] the interpreter, then `-c CODE [ARG...]` or
# `SCRIPT [ARG...]`) and environment, each field ended by a NUL, the
# first the number of argv fields. It then runs the program as __main__
# as the interpreter would have: the same sys.argv, sys.orig_argv,
# sys.path[0], globals, environment, tracebacks and exit status.
def _moat_warm(g):
    import os, sys  # loaded at startup already: nothing new is imported
    del g["_moat_warm"]
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
    sys.orig_argv = argv
    args = argv[1:]
    sys.argv = ["-c"] + args[2:] if args[0] == "-c" else args
    sys.audit("moat.warm")  # the audit hook's "hello", with this argv
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
            os.kill(os.getpid(), signal.SIGINT)
        del e, tb
        raise SystemExit(1)
_moat_warm(globals())
