# A dropper that runs what it wrote without naming it from the root:
# by a relative path (./x, ../bin/x from a child's working directory, a
# bare name), by execveat of a directory descriptor, and by a descriptor
# alone (fexecve: execveat(fd, "", AT_EMPTY_PATH) of a deleted file and
# of a memfd). Each is an exec the kernel's side must name whole and
# hash: the hash printed here is the file's. Each prints its exit code
# (0: the payload ran) or the exec's error.
import ctypes, hashlib, os, shutil, subprocess

# The static binary the test ships as "payload" (any runtime can run it),
# else the system's true.
src = "payload" if os.path.exists("payload") else shutil.which("true") or "/bin/true"
data = open(src, "rb").read()
print("sha256", hashlib.sha256(data).hexdigest(), flush=True)
os.makedirs("bin", exist_ok=True)
os.makedirs("sub", exist_ok=True)


def drop(p):
    with open(p, "wb") as f:
        f.write(data)
    os.chmod(p, 0o755)


for p in ("bin/rel_dot", "bin/rel_up", "bin/at_dir", "rel_bare", "fd_deleted"):
    drop(p)


def child(fn):
    pid = os.fork()
    if pid == 0:
        try:
            fn()
        finally:
            os._exit(127)
    _, st = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(st)


libc = ctypes.CDLL(None, use_errno=True)
NR_EXECVEAT = {"x86_64": 322, "aarch64": 281}[os.uname().machine]


def execveat(dirfd, name, flags):
    argv = (ctypes.c_char_p * 2)(b"x", None)
    env = (ctypes.c_char_p * 1)(None)
    libc.syscall(NR_EXECVEAT, dirfd, name, argv, env, flags)


def spawn(argv, cwd=None):
    try:
        return subprocess.run(argv, cwd=cwd).returncode
    except OSError as e:
        return e.strerror


print("rel_dot", spawn(["./bin/rel_dot"]), flush=True)
print("rel_up", spawn(["../bin/rel_up"], cwd="sub"), flush=True)
print("rel_bare", child(lambda: os.execv("rel_bare", ["rel_bare"])), flush=True)
d = os.open("bin", os.O_RDONLY | os.O_DIRECTORY)
print("at_dir", child(lambda: execveat(d, b"at_dir", 0)), flush=True)
fd = os.open("fd_deleted", os.O_RDONLY)
os.unlink("fd_deleted")
print("fd_deleted", child(lambda: os.execve(fd, ["fd_deleted"], {})), flush=True)
m = os.memfd_create("payload", 0)
os.write(m, data)
print("memfd", child(lambda: os.execve(m, ["memfd"], {})), flush=True)
