# moat: Python audit hook (PEP 578), installed by moat before any code of
# the program runs: as a site directory's .pth line, NAME.install(CHANNEL),
# or as sitecustomize on PYTHONPATH (then its channel is "audit" next to
# the directory it is in: /.moat/py → /.moat/audit). It reports what the
# program does to moat through the channel (a FIFO, or an append-only file
# under gVisor). Every line is a claim by the program's own
# process: moat labels these events "audit" and never lets them lower a
# verdict. Native code (ctypes, extension modules) bypasses audit hooks;
# moat's kernel-side events (seccomp) do not depend on this file.
import os as _os
import sys as _sys


def _install_hook(fifo, pythonpath):
    if not hasattr(_sys, "addaudithook"):
        return None
    root = _os.path.dirname(fifo)
    # O_APPEND: where the channel is a file, lines of concurrent processes
    # go one after another (each is one write).
    flags = _os.O_WRONLY | _os.O_NONBLOCK | _os.O_CLOEXEC | _os.O_APPEND
    if not _os.path.exists(fifo):
        return
    # A JSON encoder of our own for flat objects of str and int: importing
    # json (and with it re) would cost every run milliseconds at startup.
    esc = {i: "\\u%04x" % i for i in range(32)}
    esc[0x22] = '\\"'
    esc[0x5C] = "\\\\"

    def dumps(kw):
        out = []
        for k, v in kw.items():
            if isinstance_(v, int_) and not isinstance_(v, bool):
                out.append('"%s":%d' % (k, v))
            else:
                out.append('"%s":"%s"' % (k, text(v, 4096).translate(esc)))
        return "{" + ",".join(out) + "}"
    write, fopen, close = _os.write, _os.open, _os.close
    set_blocking = _os.set_blocking
    getpid, getppid = _os.getpid, _os.getppid
    getcwd, readlink = _os.getcwd, _os.readlink
    ENAMETOOLONG = 36  # errno's, on Linux (the hook imports no module)
    fspath = _os.fspath
    isinstance_, id_ = isinstance, id
    str_, bytes_, int_ = str, bytes, int
    runtime = set()
    for p in (_sys.base_prefix, _sys.prefix, _sys.base_exec_prefix, _sys.exec_prefix):
        if p and p != "/":
            runtime.add(p.rstrip("/") + "/")
    base = tuple(sorted(runtime))
    quiet = base + ("/proc/", "/dev/", "/sys/", "/usr/lib/", "/usr/share/", "/usr/local/lib/", root + "/")
    wflags = _os.O_WRONLY | _os.O_RDWR | _os.O_CREAT | _os.O_TRUNC | _os.O_APPEND
    seen = set()
    # A per-process budget: past it the hook stays silent (the init bounds
    # the total anyway; this bounds the cost to the program).
    # warm: a prestarted interpreter (internal/sandbox/nsinit's warm.py)
    # says "hello" when its run is handed over, with the run's argv.
    # results: a budget of its own for the test runner's records (below),
    # so that a suite's thousands of file events cannot crowd them out.
    state = {"busy": False, "budget": 5000, "tamper": "", "parts": 400, "results": 400, "repeats": 256,
             "warm": _os.environ.get("_PYTHON_PRESTART") == "1"}
    # Connects repeated, by host (below): at most per_host a host.
    repeats, per_host = {}, 64
    # Source ports a socket was bound to, by the socket's id, until its connect.
    sports = {}

    # No code of the program runs inside the hook: a str or bytes subclass
    # is copied by the base type's own methods, only pathlib's paths are
    # asked for their path, anything else is named by its type. (Code of
    # the program running here could walk the frames to the hook's state.)
    str_copy, bytes_slice, type_ = str.__str__, bytes.__getitem__, type
    # A collection that an allocation of the hook starts runs the
    # program's finalizers inside the hook; one that logs (asyncio's and
    # tornado's "never retrieved", found in urllib3's suite) has logging's
    # findCaller ask for its own frame (sys._getframe(1) from logging's
    # currentframe) and hand back text, not frames. Only that frame is
    # excused: any other sys._getframe while the hook runs is still the
    # program reaching into its frames.
    frametype = type_(_sys._getframe())
    logging_file = _os.path.join(_os.path.dirname(_os.__file__), "logging", "__init__.py")

    def logs_caller(event, args):
        if event != "sys._getframe" or len(args) != 1 or type_(args[0]) is not frametype:
            return False
        code = args[0].f_code
        return code.co_name == "findCaller" and code.co_filename == logging_file
    pathtypes = ("pathlib", "pathlib._local")

    def text(x, n=400):
        if isinstance_(x, str_):
            return str_copy(x)[:n]
        if isinstance_(x, bytes_):
            return bytes_slice(x, slice(0, n * 4)).decode("utf-8", "replace")[:n]
        if type_(x).__module__ in pathtypes:
            try:
                return text(fspath(x), n)
            except Exception:
                pass
        if isinstance_(x, int_):
            return "%d" % int_.__index__(x)
        if x is None:
            return "None"
        return "<" + str_copy(type_(x).__name__)[:60] + ">"

    # The working directory as the kernel says it (/proc/self/cwd), one
    # call whatever its depth: past PATH_MAX os.getcwd() falls back to
    # the C library's walk up the tree, whose cost grows with the square
    # of the depth, and the hook asks at every event with a relative path.
    # Past PATH_MAX (the kernel will not name it) the hook walks up itself,
    # once per directory (cached by its device and inode, forgotten when
    # the program renames or removes a directory), up to the first
    # ancestor it has named before: each parent opened from
    # the one below ("..", never a link), the child found among its
    # entries. A directory it cannot name either is said so (CwdUnnamed
    # in audit.go), and the report calls it incomplete.
    named = {}
    dflags = _os.O_RDONLY | _os.O_DIRECTORY | _os.O_CLOEXEC
    fstat, stat_, scandir = _os.fstat, _os.stat, _os.scandir

    def walk_up():
        here_st = stat_(".")
        key = (here_st.st_dev, here_st.st_ino)
        if key in named:
            return named[key]
        names, size, fd, st, found = [], 0, fopen(".", dflags), here_st, None
        try:
            for _ in range(8192):
                up = fopen("..", dflags, dir_fd=fd)
                close(fd)
                fd = up
                pst = fstat(fd)
                if (pst.st_dev, pst.st_ino) == (st.st_dev, st.st_ino):
                    found = "/" + "/".join(reversed(names))
                    break
                name = None
                # by inode first; a mount point's entry has the inode
                # of the directory beneath the mount: then by stat
                for by_ino in (True, False):
                    with scandir(fd) as it:
                        for n, e in enumerate(it):
                            if n > 100000:
                                break
                            if by_ino and e.inode() != st.st_ino:
                                continue
                            try:
                                s = stat_(e.name, dir_fd=fd, follow_symlinks=not by_ino)
                            except OSError:
                                continue
                            if (s.st_dev, s.st_ino) == (st.st_dev, st.st_ino):
                                name = e.name
                                break
                    if name is not None:
                        break
                if name is None:
                    break
                names.append(name)
                size += len(name) + 1
                if size > 65536:
                    break
                # An ancestor already named ends the walk: a program going
                # down one directory at a time costs one step a directory,
                # not its whole depth (quadratic in it).
                known = named.get((pst.st_dev, pst.st_ino))
                if known:
                    found = known.rstrip("/") + "/" + "/".join(reversed(names))
                    break
                st = pst
        finally:
            close(fd)
        if len(named) > 256:
            named.clear()
        named[key] = found
        return found

    def cwd():
        try:
            d = readlink("/proc/self/cwd")
            # os.readlink reads at most MAXPATHLEN bytes, and gVisor's
            # /proc cuts a longer name there rather than refuse it: a name
            # that long may be cut, so it is walked for.
            if len(d) < 4000:
                return d
            return walk_up()
        except OSError as e:
            if e.errno == ENAMETOOLONG:
                try:
                    return walk_up()
                except OSError:
                    return None
        return getcwd()  # no /proc

    # A path bounded to maxpath characters: past it, its start and its
    # end (the file's name) are kept around a marker (CleanPath's in
    # audit.go), never the start alone.
    maxpath = 1024

    def bound(p, n=maxpath):
        if len(p) <= n:
            return p
        head = max(n // 3, 16)
        tail = max(n - head - 24, 16)
        return p[:head] + "…[%d bytes cut]…" % (len(p) - head - tail) + p[-tail:]

    def silent(p):
        # A read under the runtime, /proc, /dev, ... is not said, by the
        # path's own name: // and /./ dropped and /proc/self/root (the one
        # root) taken off, and never one that climbs with "..": red team,
        # session 22, /proc/self/root/home/u/.aws/credentials and
        # /usr/lib/../../home/u/... were quiet.
        if not p.startswith(quiet):
            if not p.startswith("/") or ("//" not in p and "/." not in p):
                return False
        parts = [e for e in p.split("/") if e and e != "."]
        if ".." in parts:
            return False
        while len(parts) >= 3 and parts[0] == "proc" and parts[2] == "root" and (
                parts[1] in ("self", "thread-self") or parts[1].isdigit()):
            parts = parts[3:]
        return ("/" + "/".join(parts) + ("/" if p.endswith("/") else "")).startswith(quiet)

    def absolute(p):
        p = text(p, 8192)
        if p and not p.startswith("/"):
            try:
                d = cwd()
            except OSError:
                d = None
            if d is None or not d.startswith("/"):
                return bound("<cwd not named>/" + p)
            # Leading "." and ".." are the working directory's own, whose
            # name the kernel (or the walk) gave without links: resolved
            # exactly, so a path climbing out of a deep directory names
            # where it lands.
            parts = p.split("/")
            i = 0
            while i < len(parts) - 1 and parts[i] in (".", "..", ""):
                if parts[i] == "..":
                    d = d.rsplit("/", 1)[0] or "/"
                i += 1
            p = d.rstrip("/") + "/" + "/".join(parts[i:])
        return bound(p)

    def program(p, wd=None):
        # A program named with a slash is run as that path, not looked up
        # on PATH: a relative one is named whole, from the working
        # directory the child starts in (Popen's cwd, else this
        # process's), as the kernel's exec events name it, so that a file
        # the run wrote and executed as venv/bin/x is known by either
        # witness (a PATH name stays as given).
        p = text(p, 8192)
        if p.startswith("/") or "/" not in p:
            return bound(p)
        if wd is not None:
            w = text(wd, 8192)
            if not w or w.startswith("<"):
                return bound("<cwd not named>/" + p)
            p = w.rstrip("/") + "/" + p
        return absolute(p)

    def emit(kind, once=None, **kw):
        if once is not None:
            if once in seen:
                return
            if len(seen) < 4096:
                seen.add(once)
        budget = "results" if kind == "testreport" else "budget"
        if state[budget] <= 0:
            return
        state[budget] -= 1
        kw["k"] = kind
        kw["pid"] = getpid()
        line = dumps(kw)
        if len(line) > 1000:  # one atomic FIFO write (PIPE_BUF) once encoded
            kw["detail"] = bound(text(kw.get("detail", ""), 8192), 300)
            line = dumps(kw)
            # The data's start is kept, as much of it as fits (escaping
            # makes it longer), not dropped whole.
            while len(line) > 1000 and kw.get("data"):
                kw["data"] = kw["data"][:len(kw["data"]) * 3 // 4]
                line = dumps(kw)
        # A long path (escaped, or not ASCII) is cut shorter, in its middle,
        # until the line is one write.
        out = line.encode("utf-8", "backslashreplace")
        while len(out) > 3900 and len(kw.get("path", "")) > 64:
            kw["path"] = bound(kw["path"], len(kw["path"]) // 2)
            out = dumps(kw).encode("utf-8", "backslashreplace")
        # Opened per event: no descriptor of moat's stays in the program.
        # busy: this open is the hook's own, not the program's.
        was, state["busy"] = state["busy"], True
        try:
            fd = fopen(fifo, flags)
        except OSError:
            return
        finally:
            state["busy"] = was
        try:
            # Opened non-blocking (an open with no reader fails at once
            # instead of waiting for one), written blocking: a reader that
            # lags (a loaded host, a container's relay) slows the program,
            # it does not lose its events (a full FIFO dropped them, with
            # no count).
            set_blocking(fd, True)
            # backslashreplace: a lone surrogate becomes a \\udcXX escape,
            # which is still valid JSON.
            write(fd, out[:4000] + b"\n")
        except OSError:
            pass
        finally:
            close(fd)

    # A long body is sent as parts that overlap, each one line, so that
    # a secret anywhere in its first maxdata characters (past any
    # padding) is whole in one part; a part the same as the one before
    # (padding) is left out. Parts are bounded per process too.
    maxdata, overlap = 65536, 200

    def emit_data(kind, kw, data):
        body, detail = text(data, maxdata), text(kw.get("detail", ""), 16)
        room = max(200, 960 - len(dumps(kw)) - 40)
        i, last, n = 0, None, room
        while True:
            if state["parts"] <= 0:
                return
            n = room
            while n > 16 and len(body[i:i + n].translate(esc)) > room:
                n = n * 3 // 4
            part = body[i:i + n]
            if part != last or i == 0:
                state["parts"] -= 1
                kw["data"] = part
                if i:
                    kw["detail"] = detail + " (at %d)" % i
                emit(kind, **kw)
            last = part
            if i + n >= len(body):
                return
            i += max(n - overlap, n // 2)

    def argv(a):
        if isinstance_(a, (list, tuple)):
            return " ".join(text(x, 200) for x in tuple.__getitem__(tuple(list.copy(a) if isinstance_(a, list) else a), slice(0, 16)))[:400]
        return text(a)

    def addr(a):
        if isinstance_(a, tuple) and len(a) >= 2:
            h = text(a[0], 255)
            if ":" in h:
                h = "[" + h + "]"
            return {"addr": h + ":" + text(a[1], 8)}
        return {"path": text(a)}

    wanted = frozenset((
        "open", "os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.rename", "os.replace", "os.symlink",
        "os.link", "shutil.rmtree", "subprocess.Popen", "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.kill", "os.killpg",
        "socket.__new__", "socket.bind", "socket.connect", "socket.sendto", "socket.getaddrinfo", "socket.gethostbyname",
        "socket.gethostbyname_ex", "socket.gethostbyaddr", "urllib.Request", "http.client.send", "ctypes.dlopen", "ctypes.dlsym",
        "_imp.create_dynamic", "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys.addaudithook",
        "sys._getframe", "sys._getframemodulename", "site.prestart", "pytest.runtest.report"))
    # Ways to reach the hook's state from Python: the garbage collector's
    # lists of objects, and the frames of code running inside the hook.
    introspection = frozenset(("gc.get_objects", "gc.get_referrers", "gc.get_referents"))

    # The names the report ranks by (internal/sandbox/seccomp's FamilyName has all).
    families = {16: "AF_NETLINK", 17: "AF_PACKET", 15: "AF_KEY", 21: "AF_RDS", 29: "AF_CAN", 30: "AF_TIPC",
                31: "AF_BLUETOOTH", 38: "AF_ALG", 40: "AF_VSOCK", 41: "AF_KCM", 44: "AF_XDP"}

    # PYTHONPATH: moat's directory is hidden from os.environ (the mapping
    # shows the caller's value, or none), while the C environment that
    # children inherit keeps it, and an environment the program builds for
    # a child (os.environ.copy(), {...}) gets it back before Popen uses it.
    # (Installed from a .pth line, the hook has no place on PYTHONPATH.)
    here = _os.path.dirname(_os.path.abspath(__file__))
    environ = _os.environ
    data = getattr(environ, "_data", None)
    pkey = "PYTHONPATH"
    pp = environ.get(pkey)
    if type_(data) is dict and pp is not None and pythonpath:
        rest = ":".join(p for p in pp.split(":") if p and _os.path.abspath(p) != here)
        k = environ.encodekey(pkey)
        if rest:
            data[k] = environ.encodevalue(rest)
        else:
            data.pop(k, None)

    def keep_hook(env):
        if type_(env) is not dict or not pythonpath:
            return
        v = env.get(pkey)
        if v is None:
            env[pkey] = here
        elif type_(v) is str_ and here not in v.split(":"):
            env[pkey] = here + ":" + v

    # This module must stay in sys.modules until its import ends (the
    # import system looks it up then); the hook takes it out at the first
    # event after, so that, as on a machine without one, there is no
    # sitecustomize module (or there is the environment's own).
    pending = []  # filled at the end of this module's body

    def hook(event, args):
        if pending:
            mods, name = pending
            del pending[:]
            m = mods.get(name)
            if m is not None and getattr(m, "__file__", None) == __file__:
                del mods[name]
        # The common case first and cheap: most audit events (imports,
        # compile, sys._getframe, ...) are not wanted.
        if event not in wanted:
            return
        if state["busy"]:
            if event in ("sys._getframe", "sys._getframemodulename") and not logs_caller(event, args):
                state["tamper"] = event  # the program's code, running inside the hook, walks its frames
            return
        state["busy"] = True
        try:
            if state["tamper"]:
                t, state["tamper"] = state["tamper"], ""
                emit("tamper", once=("tamper", t), name=t, detail="reached into the audit hook's frames")
            if event in introspection:
                emit("tamper", once=("tamper", event), name=event, detail="listed the interpreter's objects (the audit hook's among them)")
            elif event == "sys.addaudithook":
                emit("tamper", once=("tamper", event), name=event, detail="added an audit hook of its own")
            elif event in ("sys._getframe", "sys._getframemodulename"):
                pass
            elif event == "site.prestart":
                if state["warm"]:
                    # What the stub did is not the run's: its run starts
                    # with the hook's memory and budget whole.
                    state["warm"], state["budget"], state["parts"], state["repeats"] = False, 5000, 400, 256
                    seen.clear()
                    repeats.clear()
                    sports.clear()
                    emit("hello", path=text(_sys.executable), detail=argv(_sys.argv), ppid=getppid())
            elif event == "_imp.create_dynamic":
                origin = text(args[0] if args else "")
                if not origin.startswith(base):
                    emit("native-import", once=("ext", origin), path=origin, name=text(args[1] if len(args) > 1 else "", 200))
            elif event == "open":
                path, mode, flags = args
                if isinstance_(path, int_):
                    return
                if mode == "r" and isinstance_(path, str_) and silent(str_copy(path)):
                    return
                w = (mode is not None and any(c in text(mode, 8) for c in "wax+")) or (
                    mode is None and isinstance_(flags, int_) and flags & wflags)
                p = absolute(path)
                if not w and silent(p):
                    return
                kind = "write" if w else "open"
                emit(kind, once=(kind, p), path=p)
            elif event in ("os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.rename", "os.replace", "os.symlink", "os.link", "shutil.rmtree"):
                kind = event.split(".")[1]
                if kind in ("rename", "replace", "rmdir", "rmtree"):
                    named.clear()  # a directory named by the walk may move
                if isinstance_(args[0], int_):
                    return
                kw = {"path": absolute(args[0])}
                if kind in ("rename", "replace", "symlink", "link") and len(args) > 1:
                    kw["detail"] = "to " + absolute(args[1])
                if kind == "chmod" and len(args) > 1 and isinstance_(args[1], int_):
                    kw["detail"] = "mode " + oct(args[1])
                emit(kind, once=(kind, kw["path"], kw.get("detail")), **kw)
            elif event == "subprocess.Popen":
                exe, a = args[0], args[1]
                keep_hook(args[3] if len(args) > 3 else None)
                first = a if isinstance_(a, (str_, bytes_)) else (list(a)[:1] or [""])[0]
                emit("exec", path=program(exe if exe is not None else first, args[2] if len(args) > 2 else None), detail=argv(a))
            elif event in ("os.exec", "os.posix_spawn", "os.spawn"):
                if event == "os.spawn":
                    args = args[1:]
                emit("exec", path=program(args[0]), detail=argv(args[1]))
            elif event == "os.system":
                emit("exec", path="/bin/sh", detail="sh -c " + text(args[0]))
            elif event in ("os.kill", "os.killpg"):
                # A signal the program sends (Popen.terminate, a test's
                # timeout): a child interpreter stopped before its site.py
                # ran never says hello (report/hookcheck.go).
                if len(args) > 1 and type_(args[0]) is int_ and type_(args[1]) is int_ and args[1] > 0:
                    emit("signal", once=("signal", event, args[0], args[1]), name=str_(args[0]),
                         detail="%s signal %d" % (event, args[1]))
            elif event == "socket.__new__":
                # Only the families the sandbox refuses (internal/sandbox/seccomp's
                # FamilyAllowed): unix, inet, inet6 and netlink route pass;
                # -1 is "the default" (inet, or the family of a fileno).
                # inet and inet6 pass for TCP, UDP, MPTCP and ICMP only (a
                # UDP-Lite socket is refused: the sink would not see it).
                fam, typ, proto = args[1], args[2], args[3]
                if not isinstance_(fam, int_) or fam in (-1, 1) or (fam == 16 and proto in (-1, 0)):
                    return
                if fam in (2, 10) and (not isinstance_(proto, int_) or proto in (-1, 0, 1, 6, 17, 58, 262)):
                    return
                name = families.get(fam & 0xFFFFFFFF, "AF_INET" if fam == 2 else "AF_INET6" if fam == 10 else "AF_%d" % (fam & 0xFFFFFFFF))
                emit("socket", once=("socket", fam, typ, proto), name=name,
                     detail="socket(%s, type %s, protocol %s)" % (name, text(typ, 16), text(proto, 16)))
            elif event == "socket.bind":
                # A source port asked for: said with the socket's connect,
                # as its source port can be a secret's byte too.
                a = args[1]
                if type_(a) is tuple and len(a) >= 2 and type_(a[1]) is int_ and 0 < a[1] < 65536:
                    if len(sports) < 4096:
                        sports[id_(args[0])] = a[1]
                else:
                    sports.pop(id_(args[0]), None)
                # A bind to an address other than loopback: a port opened
                # where a listen or a datagram follows (the kernel's
                # witness sees the listen; this is the hook's side of it).
                if type_(a) is tuple and len(a) >= 2 and type_(a[1]) is int_ and type_(a[0]) is str_:
                    h = a[0]
                    if h in ("", "0.0.0.0", "<broadcast>"):
                        h = "0.0.0.0"
                    if h == "::":
                        h = "[::]"
                    elif ":" in h:
                        h = "[" + text(h, 64) + "]"
                    if not (h.startswith("127.") or h in ("[::1]", "localhost")):
                        emit("listener", once=("listener", h, a[1]), name="bind", addr=text(h, 255) + ":" + text(a[1], 8),
                             detail="bind")
            elif event in ("socket.connect", "socket.sendto"):
                kw = addr(args[1])
                a = kw.get("addr")
                if sports:
                    sport = sports.pop(id_(args[0]), None) if event == "socket.connect" else sports.get(id_(args[0]))
                    if sport is not None and a is not None:
                        kw["detail"] = "from port %d" % sport
                once = ("connect", a, kw.get("path"), kw.get("detail"))
                if a is not None and once in seen:
                    # A connect repeated is said again, in order, up to
                    # per_host times a host (256 a process in all),
                    # loopback's aside: the order of the ports of the
                    # connects to one host can be a secret, a byte a port
                    # (docs/report.md), and a port the program comes back
                    # to is one of its bytes.
                    h = a.rpartition(":")[0]
                    if h.startswith("127.") or h in ("[::1]", "localhost"):
                        return
                    n = repeats.get(h, 0)
                    if n >= per_host or state["repeats"] <= 0:
                        return
                    if len(repeats) < 4096:
                        repeats[h] = n + 1
                    state["repeats"] -= 1
                    once = None
                emit("connect", once=once, **kw)
            elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
                emit("dns", once=("dns", text(args[0], 300)), name=text(args[0], 300))
            elif event == "urllib.Request":
                url, data, headers, method = args
                kw = {"name": text(url), "detail": text(method or ("POST" if data is not None else "GET"), 16)}
                if data is not None and isinstance_(data, (str_, bytes_)):
                    emit_data("http", kw, data)
                else:
                    emit("http", **kw)
            elif event == "http.client.send":
                # What any HTTP client of the standard library sends
                # (requests and urllib3 too): request line, headers, body.
                if len(args) > 1 and isinstance_(args[1], (str_, bytes_)):
                    emit_data("http", {"name": "", "detail": "sent"}, args[1])
            elif event == "pytest.runtest.report":
                # The test runner's own record of a test's outcome (the
                # witness plugin of pkgtest/witness.py): what, test id,
                # detail. Sent as it happens, so that a package's code that
                # runs later cannot take it back.
                if len(args) == 3:
                    emit("testreport", path=text(args[0], 16), name=text(args[1], 400), detail=text(args[2], 400))
            elif event == "ctypes.dlopen":
                emit("native-load", once=("dlopen", text(args[0])), path=text(args[0]))
            elif event == "ctypes.dlsym":
                emit("native-symbol", once=("dlsym", text(args[1], 200)), name=text(args[1], 200))
        except Exception:
            pass
        finally:
            state["busy"] = False

    # Extension modules load without an audit event of their own: the
    # loader raises one, which the hook reads like any other. The wrapper
    # holds nothing but sys.audit and the original method, so nothing in
    # the import system leads to the hook's state, and it reads as the
    # original (name, file, line).
    try:
        # The loader class itself, from the import system already loaded:
        # importing importlib.machinery (and warnings with it) would cost
        # every Python process of the run milliseconds (most in gVisor).
        machinery = _sys.modules.get("_frozen_importlib_external")
        if machinery is None:
            from importlib import machinery

        orig = machinery.ExtensionFileLoader.create_module
        raise_ = _sys.audit

        def create_module(self, spec):
            raise_("_imp.create_dynamic", getattr(spec, "origin", None), getattr(spec, "name", None))
            return orig(self, spec)

        code = orig.__code__
        create_module.__code__ = create_module.__code__.replace(co_filename=code.co_filename, co_firstlineno=code.co_firstlineno)
        for a in ("__qualname__", "__module__", "__doc__"):
            setattr(create_module, a, getattr(orig, a))
        machinery.ExtensionFileLoader.create_module = create_module
    except Exception:
        pass
    # No .pyc is written by an import in the run (as PYTHONDONTWRITEBYTECODE,
    # common on CI runners and in images, does; here also under -I and -E):
    # so a .pyc that turns up in a __pycache__ for a source the run did not
    # write was planted (observe.Bytecode), never the import system's own.
    _sys.dont_write_bytecode = True
    # os.getlogin() where the kernel keeps no login uid (gVisor has no
    # /proc/self/loginuid) and stdin is no terminal fails (ENOTTY) where a
    # developer's machine names its user: real malware calls it before its
    # payload (package-test-index). There it names the user of the
    # process's uid (the run's persona), as glibc does from a login uid.
    # What stays: it is a Python function there (docs/report.md).
    try:
        if hasattr(_os, "getlogin") and not _os.path.exists("/proc/self/loginuid"):
            import pwd

            login = pwd.getpwuid(_os.getuid()).pw_name
            orig_getlogin = _os.getlogin

            def getlogin():
                return login

            for a in ("__qualname__", "__module__", "__doc__"):
                setattr(getlogin, a, getattr(orig_getlogin, a))
            _os.getlogin = getlogin
            if "posix" in _sys.modules:
                _sys.modules["posix"].getlogin = getlogin
    except Exception:
        pass
    _sys.addaudithook(hook)
    if not state["warm"]:
        emit("hello", path=text(_sys.executable), detail=argv(_sys.argv), ppid=getppid())
    return pending


if __name__ == "sitecustomize":
    _pending = _install_hook(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))) + "/audit", True)
    del _install_hook

    # Step aside: let a sitecustomize of the environment (a venv's) still run.
    _here = _os.path.dirname(_os.path.abspath(__file__))
    _sys.path[:] = [p for p in _sys.path if _os.path.abspath(p or ".") != _here]
    _self = _sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401  (the environment's own, if any)
    except ImportError:
        if _self is not None:
            _sys.modules["sitecustomize"] = _self  # until the import ends (see pending)
            if _pending is not None:
                _pending.extend((_sys.modules, __name__))
    del _here, _self, _pending
else:
    def _no_site_dir():
        # No site directory of the runtime's will run its .pth line: -S,
        # or a venv whose pyvenv.cfg (beside sys.executable or one up, as
        # site.venv finds it) leaves the system's site packages out.
        if _sys.flags.no_site:
            return True
        import _io
        d = (_sys.executable or "").rpartition("/")[0]
        for conf in (d + "/pyvenv.cfg", d.rpartition("/")[0] + "/pyvenv.cfg"):
            try:
                with _io.open(conf, "rb") as f:
                    cfg = f.read(1 << 16).decode("utf-8", "replace")
            except OSError:
                continue
            system = "true"
            for line in cfg.splitlines():
                k, sep, v = line.partition("=")
                if sep and k.strip().lower() == "include-system-site-packages":
                    system = v.strip().lower()
            return system != "true"
        return False

    def install(channel, early=False):
        # Called by the .pth line that imported this module, or, early,
        # by the loader at the end of the standard library's encodings
        # package under -S or in a venv without the system's site packages
        # (where no .pth line runs: _no_site_dir); the module then
        # leaves sys.modules, as an editable install's finder module would
        # stay out of sight. Each installs only in its own case (a .pth
        # line that a program's site.main() runs after -S does not), so
        # the hook is installed once per interpreter.
        if type(channel) is str and bool(early) == _no_site_dir():
            _sys.modules.pop(__name__, None)
            _install_hook(channel, False)
