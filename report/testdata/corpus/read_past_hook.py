# Read a planted credential file in a way Python's audit hook does not
# see (argv[1] names the way), or hide the read afterwards. Only the
# kernel's access and change times of the file can tell.
import ctypes, mmap, os, subprocess, sys

how = sys.argv[1]
home = os.path.expanduser("~")
rel = ".aws/credentials"
path = os.path.join(home, rel)
libc = ctypes.CDLL(None, use_errno=True)


def raw_open(p, flags=os.O_RDONLY):
    # open(2) through libc: no audit event
    fd = libc.open(p.encode(), flags)
    if fd < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()), p)
    return fd


def sink():
    return os.open("/dev/null", os.O_WRONLY)


if how == "ctypes":
    fd = raw_open(path)
    buf = ctypes.create_string_buffer(4096)
    print("read", libc.read(fd, buf, 4096))
elif how == "static":
    # a static binary shipped in the workspace reads it
    os.chmod("reader", 0o755)
    try:
        subprocess.run(["./reader", path], check=True)
    except PermissionError:
        print("static binaries unsupported")  # docker: /work is noexec
elif how == "isolated":
    # -S with a standard library of its own (PYTHONHOME: a copy of the
    # encodings package cut at its last upstream line): no site, no
    # loader, so no hook (-I alone still runs site's .pth lines, and -S
    # alone the runtime's encodings package)
    import encodings, shutil
    lib = os.path.join("/tmp/.pyhome", "lib", "python%d.%d" % sys.version_info[:2], "encodings")
    shutil.copytree(os.path.dirname(encodings.__file__), lib, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    src = open(encodings.__file__).read()
    end = "    codecs.register(_alias_mbcs)\n"
    with open(os.path.join(lib, "__init__.py"), "w") as f:
        f.write(src[: src.index(end) + len(end)] if end in src else src)
    env = dict(os.environ, PYTHONHOME="/tmp/.pyhome")
    subprocess.run([sys.executable, "-S", "-c", "import sys; print(len(open(sys.argv[1]).read()))", path], check=True, env=env)
elif how == "dirfd":
    d = os.open(os.path.join(home, ".aws"), os.O_RDONLY | os.O_DIRECTORY)
    fd = os.open("credentials", os.O_RDONLY, dir_fd=d)
    print("read", len(os.read(fd, 4096)))
elif how == "procroot":
    print("read", len(open("/proc/self/root" + path).read()))
elif how == "mmap":
    fd = raw_open(path)
    m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
    print("mapped", len(m[:]))
elif how == "sendfile":
    print("sent", os.sendfile(sink(), raw_open(path), 0, 4096))
elif how == "splice":
    r, w = os.pipe()
    print("spliced", os.splice(raw_open(path), w, 4096))
elif how == "copy_file_range":
    out = os.open(os.path.join(home, ".copy"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        print("copied", os.copy_file_range(raw_open(path), out, 4096))
    except OSError as e:
        if e.errno != 38:
            raise
        print("copy_file_range unsupported")  # gVisor: ENOSYS
elif how == "noatime":
    # O_NOATIME reads without moving the access time: refused
    try:
        fd = raw_open(path, os.O_RDONLY | os.O_NOATIME)
        print("noatime opened")
    except OSError as e:
        print("noatime refused", e.errno)
elif how == "utime":
    # read, then set the access time back
    st = os.stat(path)
    fd = raw_open(path)
    os.read(fd, 4096)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    print("times set back")
elif how == "touch":
    subprocess.run(["touch", "-a", "-d", "2020-01-01", path], check=True)
    print("touched")
elif how == "slashes":
    # a path spelled another way: doubled slashes
    print("read", len(open(path.replace("/", "//")).read()))
elif how == "dotdot":
    os.makedirs(os.path.join(home, "x"), exist_ok=True)
    print("read", len(open(os.path.join(home, "x", "..", rel)).read()))
elif how == "symlink":
    # a link with an innocent name in /tmp
    os.symlink(path, "/tmp/notes.txt")
    print("read", len(open("/tmp/notes.txt").read()))
elif how == "dropped":
    # a static binary dropped in /tmp, run, and deleted
    with open("reader", "rb") as f, open("/tmp/.upd", "wb") as g:
        g.write(f.read())
    os.chmod("/tmp/.upd", 0o755)
    try:
        subprocess.run(["/tmp/.upd", path], check=True)
    except PermissionError:
        print("dropped binaries unsupported")  # containers: /tmp is noexec
    os.remove("/tmp/.upd")
    os.remove("reader")
