# System calls a sandbox denies, each with arguments that make it fail
# harmlessly right after the permission check where it is allowed (a bad
# magic, a missing file, a directory of its own): the errno tells whether
# the kernel let it past the check. x86_64 numbers.
import ctypes, platform, signal, tempfile
if platform.machine() != 'x86_64':
    R['skip'] = platform.machine()
    done()
    raise SystemExit(0)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def arg(a):
    return ctypes.c_long(a) if isinstance(a, int) else a
def sc(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    e = ctypes.get_errno()
    R[name] = '%d %s' % (r, errno.errorcode.get(e, str(e)) if r == -1 else '')
    return r
def in_child(name, fn):
    # For calls that change the calling process: a child makes them.
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        fn()
        os.write(w, json.dumps(R.get(name, '')).encode())
        os._exit(0)
    os.close(w)
    R[name] = json.loads(os.read(r, 4096) or b'""')
    os.waitpid(pid, 0)
buf = ctypes.create_string_buffer(256)
own = tempfile.mkdtemp()
missing = os.path.join(own, 'missing').encode()
if sc('mount', 165, b'none', own.encode(), b'tmpfs', 0, None) == 0:
    libc.syscall(ctypes.c_long(166), own.encode(), ctypes.c_long(2))  # umount2 what it mounted
in_child('unshare-user', lambda: sc('unshare-user', 272, 0x10000000))
in_child('ptrace-traceme', lambda: sc('ptrace-traceme', 101, 0, 0, 0, 0))
sc('keyctl', 250, 0, -3, 0, 0, 0)                  # KEYCTL_GET_KEYRING_ID, no create
sc('bpf', 321, 0, buf, 4)                          # BPF_MAP_CREATE, zero attributes: EINVAL if allowed
sc('io_uring_setup', 425, 0, buf)                  # 0 entries: EINVAL if allowed
sc('perf_event_open', 298, buf, 0, -1, -1, 0)
sc('reboot', 169, 0, 0, 0, None)                   # bad magic: EINVAL if allowed
sc('kexec_load', 246, 0, 0, None, 0xffff0000)      # bad flags: EINVAL if allowed
sc('init_module', 175, None, 0, b'')               # no image: EFAULT/ENOEXEC if allowed
sc('swapon', 167, missing, 0)                      # missing file: ENOENT if allowed
sc('acct', 163, missing)                           # missing file: ENOENT if allowed
sc('pivot_root', 155, own.encode(), own.encode())  # not a mount point: EINVAL if allowed
sc('open_by_handle_at', 304, -100, buf, 0)
os.rmdir(own)
done()
