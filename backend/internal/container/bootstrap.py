# moat container bootstrap: pid 1 of the container, run by the image's own
# python3 (-I -S) as the unprivileged sandbox user. See protocol.go.
#
# In (fd 0): u32 length + JSON header; if header["tar"], the workspace as
# chunks (u32 length + bytes) ending with an empty chunk; then the program's
# stdin, untouched (the program inherits fd 0 itself).
# Out (fd 1): frames of 1 type byte + u32 length + payload + 16-byte tag
# (HMAC-SHA256 under header["key"] of the u64 sequence number, type, length
# and payload; see ctrinit's package doc): o (program
# stdout), e (program stderr), r (empty: the program's processes are all
# dead), t (tar of /work; empty = end), x (exit JSON);
# with the behaviour report on (header["report"]): a (bytes of the audit
# hook's FIFO, as read), f (JSON of the "before" and "after" walks, in
# pieces; empty = end), c (u64 offset + path NUL + a run of a changed
# file's data; the file's end with no data: see ctrinit.Content), X
# (path NUL name NUL value: an extended attribute, ctrinit's Xattrs).
# The program's stdout and stderr are pipes, and this process is not
# dumpable; where a runtime still lets the program (same uid) open
# /proc/1/fd/1, what it writes fails its tag at the host. The key is read
# before the program exists and is kept only in this process's memory.
# Every import here is paid on every run, mostly before the program starts:
# the C modules _signal and _json stand in for signal and json, which pull
# in enum and re (some 7 ms of a 200 ms run).
import os, struct, sys
import _signal as signal
from time import monotonic_ns

# Steps with their CLOCK_MONOTONIC time (the host's clock too), sent as one
# T frame before the exit frame when the header asks (MOAT_TRACE).
marks = [(monotonic_ns(), 'bootstrap started')]

# kill(-1) below ends every process this one can signal: safe only as pid 1
# of the container's own PID namespace. Anywhere else, refuse to run.
if os.getpid() != 1:
    sys.stderr.write('moat-bootstrap: not pid 1 of a PID namespace; refusing to run\n')
    sys.exit(125)

for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(s, signal.SIG_IGN)


def prctl(*args):
    """prctl(2) through _ctypes alone: the ctypes package costs some 2 ms."""
    import _ctypes

    class Int(_ctypes._SimpleCData):
        _type_ = 'i'

    class Fn(_ctypes.CFuncPtr):
        _flags_ = _ctypes.FUNCFLAG_CDECL
        _restype_ = Int

    class Libc:
        _handle = _ctypes.dlopen(None)

    return Fn(('prctl', Libc))(*args)


try:
    if prctl(4, 0, 0, 0, 0) != 0 or prctl(3, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE 0, PR_GET_DUMPABLE
        raise OSError('prctl failed')
except Exception as e:
    sys.stderr.write('moat-bootstrap: not dumpable: %s\n' % e)


try:
    import _json
    jstr = _json.encode_basestring_ascii  # as json.dumps writes a str
except ImportError:  # not CPython
    _json = None
    from json import dumps as jstr


class _Scan:
    """What _json's C scanner reads from its context (json.JSONDecoder)."""
    strict, object_hook, object_pairs_hook = True, None, None
    parse_float, parse_int, parse_constant, memo = float, int, float, {}


def loads(b):
    s = b.decode('utf-8')
    try:
        v, end = _json.make_scanner(_Scan())(s, 0)
        if end == len(s):
            return v
    except Exception:
        pass
    import json  # not CPython, or not JSON: json says what is wrong
    return json.loads(s)


def dumps(d):
    """JSON of a dict of ints, strs and lists of such dicts, as the exit
    frames are."""
    return ('{' + ','.join('"%s":%s' % (k, ('true' if v else 'false') if type(v) is bool else v if type(v) is int else
                                        '[' + ','.join(dumps(x).decode() for x in v) + ']' if type(v) is list else jstr(v))
                           for k, v in d.items()) + '}').encode()


def rd(n):
    b = b''
    while len(b) < n:
        c = os.read(0, n - len(b))
        if not c:
            raise EOFError('stdin closed in the header')
        b += c
    return b


def wall(b):
    mv = memoryview(b)
    while mv:
        mv = mv[os.write(1, mv):]


def sha256():
    try:
        from _sha2 import sha256 as f  # 3.12
    except ImportError:
        try:
            from _sha256 import sha256 as f
        except ImportError:
            from hashlib import sha256 as f
    return f


def tagger(key):
    """HMAC-SHA256 (RFC 2104) of each frame, from the pads' hashed states."""
    h = sha256()
    k = key + bytes(64 - len(key))
    inner, outer = h(bytes(b ^ 0x36 for b in k)), h(bytes(b ^ 0x5c for b in k))
    seq = [0]

    def tag(head, data):
        i = inner.copy()
        i.update(struct.pack('>Q', seq[0]) + head)
        i.update(data)
        o = outer.copy()
        o.update(i.digest())
        seq[0] += 1
        return o.digest()[:16]
    return tag


def send(t, data=b''):
    head = struct.pack('>cI', t, len(data))
    wall(head + data + TAG(head, data))


class Chunks:
    """The workspace tar as a file for tarfile, read in exact chunks."""
    def __init__(self):
        self.buf, self.eof = b'', False

    def read(self, n=-1):
        while not self.eof and (n < 0 or len(self.buf) < n):
            k = struct.unpack('>I', rd(4))[0]
            if k == 0:
                self.eof = True
            else:
                self.buf += rd(k)
        if n < 0:
            n = len(self.buf)
        b, self.buf = self.buf[:n], self.buf[n:]
        return b


def unpack(h):
    import tarfile
    c = Chunks()
    tf = tarfile.open(fileobj=c, mode='r|')
    kw = {'filter': 'tar'} if hasattr(tarfile, 'tar_filter') else {}
    # treecopy's records (entries "./" with MOAT.* PAX records) are no files.
    files = (m for m in tf if not any(k.startswith('MOAT.') for k in m.pax_headers))
    tf.extractall(WORK, files, **kw)
    tf.close()
    c.read()  # to the end chunk, whatever tarfile left


marks.append((monotonic_ns(), 'bootstrap ready'))
h = loads(rd(struct.unpack('>I', rd(4))[0]))
WORK = h.get('work') or '/work'  # another directory only on a host of its own (ssh)
from binascii import a2b_base64
TAG = tagger(a2b_base64(h.pop('key')))  # JSON of Go's []byte: base64
marks.append((monotonic_ns(), 'header read'))
if h.get('tar'):
    unpack(h)
for name, data in sorted(h.get('files', {}).items()):
    with open(os.path.join(WORK, name), 'wb') as f:
        f.write(bytes.fromhex(data))

REPORT = h.get('report')
fifo = None
before = None


def walk(rep, deadline):
    """Every root and every entry under it: [path, size, mode, ino,
    ctime_ns], and why the walk stopped short ('' when it did not); see
    ctrinit's walk. rep['dir'] is walked only as a root of its own."""
    import stat
    out, size, cap = [], [0], rep.get('max_walk_bytes', 0)

    def add(p):
        if len(out) >= rep['max_entries']:
            return 'stopped at its cap of %d entries' % rep['max_entries']
        if cap and size[0] > cap:
            return 'stopped at its cap of %d bytes' % cap
        if time.monotonic() > deadline:
            return 'stopped at its time budget of %gs' % rep['budget_s']
        try:
            st = os.lstat(p)
        except OSError:
            return None
        e = [p, st.st_size, st.st_mode, st.st_ino, st.st_ctime_ns]
        size[0] += len(jstr(p)) + 48
        out.append(e)
        return stat.S_ISDIR(st.st_mode)

    for root in rep['roots']:
        r = add(root)
        if isinstance(r, str):
            return out, r
        stack = [root]
        while stack:
            d = stack.pop()
            try:
                names = os.listdir(d)
            except OSError:
                continue
            for name in names:
                p = d + '/' + name
                if p == rep['dir']:
                    continue
                r = add(p)
                if isinstance(r, str):
                    return out, r
                if r:
                    stack.append(p)
    return out, ''


def arm_witness(rep):
    """On a host of its own (ssh): the kernel's witness of reads of the
    planted files, as observe.Witness arms it: each file's times set days
    back, held O_PATH (no following links), its times kept. Returns the
    held files and why there is none ('' when armed)."""
    import stat
    held, now = [], time.time()
    rnd = lambda n: int.from_bytes(os.urandom(8), 'little') % n
    try:
        for p in rep.get('witness', []):
            if p not in rep.get('plant', {}):
                continue
            if os.statvfs(p).f_flag & 1024:  # ST_NOATIME
                raise OSError('%s is on a noatime mount' % p)
            mtime = now - 3 * 86400 - rnd(200 * 86400)
            atime = mtime + rnd(86400)
            os.utime(p, ns=(int(atime * 1e9), int(mtime * 1e9)), follow_symlinks=False)
            fd = os.open(p, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
            st = os.fstat(fd)
            held.append((p, fd, st.st_atime_ns, st.st_ctime_ns))
            if not stat.S_ISREG(st.st_mode):
                raise OSError('%s is not a regular file' % p)
    except OSError as e:
        for x in held:
            os.close(x[1])
        return [], 'could not be armed: %s' % e
    return held, ''


def check_witness():
    """The witness's JSON fields for the walks: the files whose access
    time moved (read) and whose change time moved (altered)."""
    held, off = witness
    if off:
        return ',"witness_off":%s' % jstr(off)
    read, altered = [], []
    for p, fd, atime, ctime in held:
        try:
            st = os.fstat(fd)
        except OSError:
            altered.append(p)
            continue
        if st.st_atime_ns != atime:
            read.append(p)
        if st.st_ctime_ns != ctime:
            altered.append(p)
        os.close(fd)
    return ',"witness_on":%d,"read":[%s],"altered":[%s]' % (len(held), ','.join(jstr(p) for p in read), ','.join(jstr(p) for p in altered))


import time
if REPORT:
    # The audit hook, first on the program's PYTHONPATH (set by moat), and
    # its FIFO. Both belong to the sandbox user, as the program does: the
    # hook's events are the program's claims either way.
    # __pycache__ stays writable (by this process) until hook_pyc is done.
    # With report['site'] (a tmpfs on a site directory of the host's
    # python3, which the ssh backend's prelude mounted): the hook as a
    # module there, its .pth line and editable install's metadata, as
    # ctrinit's installHook writes them; nothing on PYTHONPATH.
    HOOK_DIR, HOOK_MODULE = REPORT['dir'] + '/py', 'sitecustomize'
    if REPORT.get('site'):
        HOOK_DIR, HOOK_MODULE = REPORT['site'], REPORT['site_module']
    os.makedirs(HOOK_DIR + '/__pycache__', 0o755, exist_ok=True)
    with open(HOOK_DIR + '/' + HOOK_MODULE + '.py', 'x') as f:
        f.write(REPORT['hook'])
    os.chmod(HOOK_DIR + '/' + HOOK_MODULE + '.py', 0o444)
    if REPORT.get('site'):
        with open(HOOK_DIR + '/' + REPORT['site_pth_name'], 'x') as f:
            f.write(REPORT['site_pth'])
        os.chmod(HOOK_DIR + '/' + REPORT['site_pth_name'], 0o444)
        for name, data in sorted(REPORT.get('site_dist', {}).items()):
            parts = name.split('/')
            if len(parts) != 2 or '' in parts or '.' in parts or '..' in parts:
                raise SystemExit('moat-bootstrap: site file %r' % name)
            os.makedirs(HOOK_DIR + '/' + parts[0], 0o755, exist_ok=True)
            with open(HOOK_DIR + '/' + name, 'x') as f:
                f.write(data)
            os.chmod(HOOK_DIR + '/' + name, 0o444)
            os.chmod(HOOK_DIR + '/' + parts[0], 0o555)
    os.chmod(HOOK_DIR, 0o555)
    os.makedirs(REPORT['dir'], 0o755, exist_ok=True)
    os.mkfifo(REPORT['dir'] + '/audit', 0o622)
    os.chmod(REPORT['dir'] + '/audit', 0o622)
    # O_RDWR: a writer too, so the FIFO never reports EOF.
    fifo = os.open(REPORT['dir'] + '/audit', os.O_RDWR | os.O_NONBLOCK)
    for p, content in sorted(REPORT.get('plant', {}).items()):
        os.makedirs(os.path.dirname(p), 0o700, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            mv = memoryview(content.encode())
            while mv:
                mv = mv[os.write(fd, mv):]
        finally:
            os.close(fd)
    witness = arm_witness(REPORT) if h.get('work') else ([], 'the container\'s init (bootstrap.py) has no witness')
    before, before_cut = walk(REPORT, time.monotonic() + REPORT['budget_s'])
    marks.append((monotonic_ns(), 'report set up'))



def confinement():
    """Seccomp mode (/proc/self/status) and no_new_privs (prctl: gVisor's
    status has no NoNewPrivs) of this process, which the program inherits;
    -1 when unknown."""
    r = {'seccomp': -1, 'no_new_privs': -1}
    try:
        r['no_new_privs'] = prctl(39, 0, 0, 0, 0)  # PR_GET_NO_NEW_PRIVS
    except Exception:
        pass
    try:
        with open('/proc/self/status') as f:
            for line in f:
                k, _, v = line.partition(':')
                if k == 'Seccomp':
                    r['seccomp'] = int(v)
    except (OSError, ValueError):
        pass
    return r


def readtext(p):
    try:
        with open(p, 'rb') as f:
            return f.read(1 << 20).decode('utf-8', 'replace')
    except OSError:
        return ''


def expect_unmet(e):
    """The layers of the header's expect (ctrinit.Expect) not in effect in
    this process, which the program inherits: [{layer, why}], in the Go
    init's order. What cannot be read is not in effect."""
    out = []
    for d, limit in sorted((e.get('sized') or {}).items()):
        try:
            st = os.statvfs(d)
            size = st.f_blocks * (st.f_frsize or st.f_bsize)
        except OSError as x:
            out.append({'layer': 'disk', 'why': '%s: cannot read its size (statfs: %s)' % (d, x.strerror)})
            continue
        if size > limit:
            out.append({'layer': 'disk', 'why': '%s is a file system of %d bytes, not the volume of at most %d asked for: the runtime put one of '
                        'its own there (gVisor\'s containerd shim as released does so at /dev/shm), and only the memory limit bounds what is '
                        'written to it' % (d, size, limit)})
    if e.get('non_root') or e.get('no_capabilities'):
        st = {}
        for line in readtext('/proc/self/status').split('\n'):
            k, _, v = line.partition(':')
            st[k] = v.split()
        if e.get('non_root'):
            for k in ('Uid', 'Gid'):
                if not st.get(k) or any(not i.isdigit() or int(i) == 0 for i in st[k]):
                    out.append({'layer': 'user', 'why': 'the init runs as %s %s (/proc/self/status): root, or not known' % (k, ' '.join(st.get(k) or ['?']))})
                    break
        if e.get('no_capabilities'):
            held = []
            for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb'):
                v = st.get(k)
                if v is None and k == 'CapAmb':
                    continue
                try:
                    if v is None or len(v) != 1 or int(v[0], 16) != 0:
                        held.append('%s %r' % (k, ' '.join(v or ['missing'])))
                except ValueError:
                    held.append('%s %r' % (k, ' '.join(v)))
            if held:
                out.append({'layer': 'capabilities', 'why': 'capabilities held or not known (/proc/self/status): ' + ', '.join(held)})
    if e.get('read_only_root'):
        try:
            ro = os.statvfs('/').f_flag & 1  # ST_RDONLY
        except OSError:
            ro = 0
        opts = ''
        for line in readtext('/proc/self/mountinfo').split('\n'):
            f = line.split()
            if len(f) > 5 and f[4] == '/':
                opts = f[5]
        if not ro and 'ro' not in opts.split(','):
            out.append({'layer': 'read-only-rootfs', 'why': 'the root file system is mounted %r (/proc/self/mountinfo), not read-only' % opts})
    if e.get('loopback_only'):
        lines = readtext('/proc/self/net/dev').split('\n')
        if len(lines) < 2 or '|' not in lines[0]:
            out.append({'layer': 'network', 'why': 'the network interfaces cannot be read (/proc/self/net/dev): cannot tell there is none but loopback'})
        else:
            other = [n.strip() for n, sep, _ in (l.partition(':') for l in lines[2:]) if sep and n.strip() != 'lo']
            if other:
                out.append({'layer': 'network', 'why': 'the container has network interfaces besides loopback: %s; only a network policy, where one '
                            'is enforced, stands between the program and the network' % ', '.join(jstr(n) for n in other[:8])})
    return out


CONF = confinement()
if h.get('expect') is not None:
    CONF['checked'] = True
    CONF['unmet'] = expect_unmet(h['expect'])
if h.get('confined') and (CONF['seccomp'] != 2 or CONF['no_new_privs'] != 1 or CONF.get('unmet')):
    why = []
    if CONF['seccomp'] != 2 or CONF['no_new_privs'] != 1:
        why.append("the container's seccomp profile is not in effect (/proc/self/status: Seccomp %d, NoNewPrivs %d): the runtime did not "
                   'apply it' % (CONF['seccomp'], CONF['no_new_privs']))
    why += [u['layer'] + ': ' + u['why'] for u in CONF.get('unmet', [])]
    send(b'x', dumps(dict(CONF, refused=True, error='; '.join(why))))
    while os.read(0, 1 << 16):
        pass
    os._exit(0)

ro, wo = os.pipe()
re_, we = os.pipe()
er, ew = os.pipe()  # close-on-exec: EOF means exec worked
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.signal(signal.SIGCHLD, lambda *a: None)
signal.set_wakeup_fd(wake_w)
# The init's room for its report (ctrinit's reserve_linux.go): memory held,
# touched, until the program is reaped, in the container's limit beyond the
# program's; the program starts at oom_score_adj 1000, so that a program
# that fills its memory (tmpfs pages outlive their writer) is what the OOM
# killer takes, never this init.
reserve = None
if h.get('reserve'):
    import mmap
    reserve = mmap.mmap(-1, h['reserve'], flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    for i in range(0, h['reserve'], mmap.PAGESIZE):
        reserve[i] = 1
pid = os.fork()
if pid == 0:
    try:
        signal.set_wakeup_fd(-1)
        for s in range(1, signal.NSIG):
            try:
                signal.signal(s, signal.SIG_DFL)
            except (OSError, ValueError):
                pass
        os.dup2(wo, 1)
        os.dup2(we, 2)
        os.chdir(WORK)
        if os.getuid():
            # A login session's login uid, for getlogin(): settable once,
            # without privilege, while unset (Go: internal/sandbox/loginuid).
            # The init's non-dumpable state came with the fork and makes
            # /proc/self root's: this process is dumpable again for the
            # write (it is the program-to-be, nothing else of the run runs
            # yet but the init; its exec makes it dumpable anyway).
            try:
                prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE 1
                fd = os.open('/proc/self/loginuid', os.O_WRONLY)
                try:
                    os.write(fd, str(os.getuid()).encode())
                finally:
                    os.close(fd)
            except OSError:
                pass
        if reserve is not None:
            reserve.close()  # the program's copy of the mapping
            # Raising one's own score needs no privilege; /proc/self is
            # this process's own once it is dumpable (above, or here).
            prctl(4, 1, 0, 0, 0)
            fd = os.open('/proc/self/oom_score_adj', os.O_WRONLY)
            try:
                os.write(fd, b'1000')
            finally:
                os.close(fd)
        if h.get('rlimit_as') or h.get('rlimit_nproc'):
            import resource
            if h.get('rlimit_nproc'):
                resource.setrlimit(resource.RLIMIT_NPROC, (h['rlimit_nproc'], h['rlimit_nproc']))
            if h.get('rlimit_as'):
                resource.setrlimit(resource.RLIMIT_AS, (h['rlimit_as'], h['rlimit_as']))
        os.execvpe(h['argv'][0], h['argv'], dict(kv.split('=', 1) for kv in h['env']))
    except OSError as e:
        os.write(ew, struct.pack('>i', e.errno or 0) + str(e).encode()[:500])
    os._exit(127)
marks.append((monotonic_ns(), 'program forked'))
os.close(wo)
os.close(we)
os.close(ew)
err = b''
while True:
    c = os.read(er, 4096)
    if not c:
        break
    err += c
if err:
    os.waitpid(pid, 0)
    send(b'x', dumps(dict(CONF, error=err[4:].decode('utf-8', 'replace'), errno=struct.unpack('>i', err[:4])[0])))
    sys.exit(0)

marks.append((monotonic_ns(), 'program exec\'d'))
# The host's clock for the timeout runs from here, as this init's (stop_s).
started_at = time.monotonic()
send(b'g')
# --- late: what follows runs once the program has started ---
# Entrypoint compiles this part only then, while the program starts: the
# bootstrap's source is compiled at every run, and this half of it is not
# needed before the program runs.


def dump_walk(entries):
    """JSON of a walk: [[path, size, mode, ino, ctime_ns], ...]."""
    return '[' + ','.join('[%s,%d,%d,%d,%d]' % (jstr(e[0]), e[1], e[2], e[3], e[4]) for e in entries) + ']'


class Frames:
    def __init__(self, t):
        self.t = t

    def write(self, b):
        for i in range(0, len(b), 1 << 20):
            send(self.t, bytes(b[i:i + (1 << 20)]))
        return len(b)

    def flush(self):
        pass


def pack(h):
    """/work as the tar treecopy.Pack writes: what is left out (caps,
    special files, unreadable) is named in a record (MOAT.skip, MOAT.why,
    MOAT.error, MOAT.partial) and the walk goes on; the last record
    (MOAT.end, MOAT.more, MOAT.failed) says it finished. A record is an
    entry "./" of type directory with those PAX records."""
    import tarfile, stat
    w = Frames(b't')
    tf = tarfile.open(fileobj=w, mode='w|', format=tarfile.PAX_FORMAT)
    st = {'total': 0, 'n': 0, 'listed': 0, 'more': 0, 'failed': 0}
    max_bytes, max_files = h['out_bytes'], h['out_files']

    def put(buf):
        tf.fileobj.write(buf)
        tf.offset += len(buf)

    def record(recs):
        ti = tarfile.TarInfo('./')
        ti.type, ti.mode, ti.pax_headers = tarfile.DIRTYPE, 0o755, recs
        put(ti.tobuf(tf.format, tf.encoding, tf.errors))

    def leave(name, why, failed=False, partial=False):
        if failed:
            st['failed'] += 1
        if st['listed'] >= 100 and not partial:
            st['more'] += 1
            return
        st['listed'] += 1
        recs = {'MOAT.skip': name, 'MOAT.why': why}
        if failed:
            recs['MOAT.error'] = '1'
        if partial:
            recs['MOAT.partial'] = '1'
        record(recs)

    def why(e):
        if isinstance(e, FileNotFoundError):
            return 'vanished during the copy'
        return 'could not be read: ' + (os.strerror(e.errno).lower() if e.errno else type(e).__name__)

    def human(n):
        for sh, u in ((30, 'GiB'), (20, 'MiB'), (10, 'KiB')):
            if n >= 1 << sh and n % (1 << sh) == 0:
                return '%d%s' % (n >> sh, u)
        return '%d bytes' % n

    def rel(p):
        return os.path.relpath(p, WORK)

    def walk_error(e):
        leave(rel(e.filename) + '/', why(e), failed=True)

    def add_file(p, name):
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as e:
            return leave(name, why(e), failed=True)
        with os.fdopen(fd, 'rb', buffering=0) as f:
            try:
                fst = os.fstat(fd)
            except OSError as e:
                return leave(name, why(e), failed=True)
            if not stat.S_ISREG(fst.st_mode):
                return leave(name, 'special file not copied')
            size = fst.st_size
            if size > max_bytes - st['total']:
                return leave(name, '%s, over the %s total cap' % (human(size), human(max_bytes)))
            ti = tf.gettarinfo(arcname=name, fileobj=f)
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ''
            put(ti.tobuf(tf.format, tf.encoding, tf.errors))
            st['n'] += 1
            st['total'] += size
            # Exactly the size announced: a file that shrinks or fails is
            # padded with zeros and named, so that the host removes it.
            done, err = 0, None
            while done < size:
                try:
                    b = f.read(min(1 << 20, size - done))
                except OSError as e:
                    err = why(e)
                    break
                if not b:
                    err = 'could not be read: file shrank during the copy'
                    break
                put(b)
                done += len(b)
            pad = size - done
            while pad > 0:
                put(bytes(min(pad, 1 << 20)))
                pad -= min(pad, 1 << 20)
            if size % tarfile.BLOCKSIZE:
                put(bytes(tarfile.BLOCKSIZE - size % tarfile.BLOCKSIZE))
            if err:
                leave(name, err, failed=True, partial=True)

    for root, dirs, files in os.walk(WORK, onerror=walk_error):
        dirs.sort()
        # treecopy.MaxDepth: what is deeper is named, not walked.
        deep = root != WORK and rel(root).count('/') + 1 >= 256
        for name in dirs + sorted(files):
            p = os.path.join(root, name)
            name = rel(p)
            if deep:
                leave(name + '/' if os.path.basename(p) in dirs else name, 'deeper than 256 levels: not copied')
                continue
            try:
                mode = os.lstat(p).st_mode
            except OSError as e:
                leave(name, why(e), failed=True)
                continue
            if stat.S_ISDIR(mode):
                name += '/'
            elif not stat.S_ISREG(mode) and not stat.S_ISLNK(mode):
                leave(name, 'special file not copied')
                continue
            if st['n'] >= max_files:
                leave(name, 'over the %d-file count cap' % max_files)
                continue
            if stat.S_ISREG(mode):
                add_file(p, name)
                continue
            try:
                ti = tf.gettarinfo(p, name)
            except OSError as e:
                leave(name, why(e), failed=True)
                continue
            ti.uid = ti.gid = 0
            ti.uname = ti.gname = ''
            put(ti.tobuf(tf.format, tf.encoding, tf.errors))
            st['n'] += 1
        if deep:
            dirs[:] = []
    record({'MOAT.end': '1', 'MOAT.more': str(st['more']), 'MOAT.failed': str(st['failed'])})
    tf.close()
    send(b't')


def hook_pyc():
    """Compiles the hook while the program starts (the other CPU, if any),
    for every Python process of the program to load as bytecode: compiling
    it costs each of them a few ms, and they cannot cache it themselves. A
    process that starts before the file is there compiles the source, as it
    would without this; the rename makes the file appear whole."""
    cache = HOOK_DIR + '/__pycache__'
    try:
        import _frozen_importlib_external as be
        src = HOOK_DIR + '/' + HOOK_MODULE + '.py'
        st = os.stat(src)
        data = be._code_to_timestamp_pyc(compile(REPORT['hook'], src, 'exec', dont_inherit=True), int(st.st_mtime), st.st_size)
        tmp = cache + '/.moat-pyc'
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
        try:
            mv = memoryview(data)
            while mv:
                mv = mv[os.write(fd, mv):]
        finally:
            os.close(fd)
        os.rename(tmp, be.cache_from_source(src))
    except Exception:
        pass  # the program compiles the source: slower, the same hook
    finally:
        try:
            os.chmod(cache, 0o555)
        except OSError:
            pass


relayed = audit_cut = 0


def relay_audit():
    """Sends what the FIFO holds now, up to the report's byte cap."""
    global relayed, audit_cut
    while True:
        try:
            b = os.read(fifo, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        if not b:
            return
        if relayed < REPORT['max_audit_bytes']:
            relayed += len(b)
            send(b'a', b)
        else:
            audit_cut += len(b)


def send_walks():
    # Everything else is dead, and nothing of moat's has read the planted
    # files yet: the witness first.
    seen = check_witness()
    deadline = time.monotonic() + REPORT['budget_s']
    after, after_cut = walk(REPORT, deadline)
    w = Frames(b'f')
    w.write(('{"before":%s,"after":%s,"before_cut":%s,"after_cut":%s,"audit_cut":%d,"outlived":%s%s}' % (
        dump_walk(before), dump_walk(after), jstr(before_cut), jstr(after_cut), audit_cut, '[' + ','.join(dumps(x).decode() for x in outlived) + ']', seen)).encode())
    send(b'f')
    old = {e[0]: e[1:] for e in before}
    import stat
    # Extended attributes of every new or changed entry but a link ('X',
    # ctrinit's Xattrs): at most 64 an entry, 4 MiB of names and values in
    # all; an empty name says some were not read or sent.
    xleft = 4 << 20
    for e in after:
        if xleft <= 0:
            break
        if old.get(e[0]) == e[1:] or stat.S_ISLNK(e[2]):
            continue
        pb = e[0].encode('utf-8', 'surrogateescape')
        try:
            names = os.listxattr(e[0], follow_symlinks=False)
        except OSError as err:
            names = [None] if err.errno not in (95,) else []  # EOPNOTSUPP: none
        for i, name in enumerate(names):
            val = b''
            if name is not None and i < 64 and xleft > 0:
                try:
                    val = os.getxattr(e[0], name, follow_symlinks=False)
                except OSError:
                    continue
                nb = name.encode('utf-8', 'surrogateescape')
            else:
                nb = b''
            xleft -= len(nb) + len(val)
            send(b'X', pb + b'\0' + nb + b'\0' + val)
            if not nb:
                break
    changed = [e[0] for e in after if old.get(e[0]) != e[1:] and stat.S_ISREG(e[2])]
    # The host's diff reads them in this order (scanorder.Less), and its
    # budget is this budget: what it reads is what was sent.
    changed.sort(key=lambda p: (not interesting(p), p.encode('utf-8', 'surrogateescape')))
    left, frames = [REPORT['scan_total']], [MAX_CONTENT_FRAMES]

    def put(p, off, data=b''):
        if frames[0] <= 0 or time.monotonic() > deadline:
            return False
        frames[0] -= 1
        send(b'c', struct.pack('>Q', off) + p.encode('utf-8', 'surrogateescape') + b'\0' + data)
        return True

    def content(p):
        try:
            fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return True
        try:
            size = os.fstat(fd)
            if not stat.S_ISREG(size.st_mode):
                return True
            size, off = size.st_size, 0
            while off < size:
                try:
                    start = os.lseek(fd, off, os.SEEK_DATA)
                except OSError as e:
                    if e.errno == 6:  # ENXIO: a hole to the end
                        break
                    start = off
                try:
                    end = min(size, os.lseek(fd, start, os.SEEK_HOLE))
                except OSError:
                    end = size
                if end <= start:
                    end = size
                off = start
                while off < end:
                    n = min(end - off, 1 << 20, left[0])
                    if n <= 0:
                        return False
                    data = os.pread(fd, n, off)
                    if not data:
                        return put(p, off)
                    if not put(p, off, data):
                        return False
                    left[0] -= len(data)
                    off += len(data)
            return put(p, max(off, size))
        finally:
            os.close(fd)

    for p in changed:
        if not content(p):
            break


def interesting(p):
    # scanorder.Interesting
    base = p.rsplit('/', 1)[-1]
    return (base.endswith('.pth') or base in ('sitecustomize.py', 'usercustomize.py') or
            base.startswith('.') and (base.endswith('rc') or base.endswith('profile') or base == '.bash_login') or
            base.endswith(('.desktop', '.service', '.timer')) or 'cron' in p or '/bin/' in p or
            base in ('pip.conf', 'pip.ini', '.pydistutils.cfg', 'pydistutils.cfg', '.gitconfig', '.bash_aliases',
                     '.login', '.logout', '.zlogout', '.pam_environment') or
            '/.git/hooks/' in p or p.endswith('/.git/config') or
            any(d in p for d in ('/.config/git/', '/.ssh/', '/.ipython/', '/.jupyter/', '/.config/fish/',
                                 '/.config/environment.d/', '/sitecustomize/', '/usercustomize/')) or
            base.split('.', 1)[0] in ('sitecustomize', 'usercustomize'))


MAX_CONTENT_FRAMES = 1 << 18  # ctrinit.MaxContentFrames

# What outlived the program (Go: internal/sandbox/survivors, whose bounds
# these are: Grace, Quiet, SessionGrace, Max, CmdBytes; TestBootstrapSurvivors
# holds them equal).
SURVIVORS_GRACE, SURVIVORS_QUIET, SURVIVORS_SESSION_GRACE = 0.3, 0.25, 5.0
SURVIVORS_MAX, SURVIVORS_CMD_BYTES = 16, 512


def survivors(main, sessions, wait=True, daemons=False):
    # The processes of this PID namespace still running, other than this
    # init, main and zombies and kernel threads, as package survivors
    # lists them: with wait (survivors.Wait), once none is left, or after
    # the grace once one is a daemon's (a session not in sessions) or none
    # has run (CPU time, or one ended) for the quiet time, or after the
    # session grace; without (survivors.AtStop), at once, the daemons
    # alone when daemons. At most SURVIVORS_MAX, the last with "more". Only
    # where /proc is this namespace's (the ssh backend's host may show its
    # own): else none. All of it is the program's: the host bounds and
    # escapes it.
    try:
        if os.readlink('/proc/self') != '1':
            return []
    except OSError:
        return []
    start = time.monotonic()
    moved, last = start, None
    while True:
        ps, cpu = [], 0
        for name in os.listdir('/proc'):
            if not name.isdigit() or int(name) in (1, main):
                continue
            try:
                with open('/proc/%s/stat' % name, 'rb') as f:
                    stat = f.read(1024)
                with open('/proc/%s/cmdline' % name, 'rb') as f:
                    cmd = f.read(SURVIVORS_CMD_BYTES)
            except OSError:
                continue
            # pid (comm) state ppid pgrp session ... flags ... utime stime:
            # comm may hold anything
            fields = stat[stat.rfind(b')') + 1:].split()
            if len(fields) < 13 or fields[0] in (b'Z', b'X') or int(fields[6]) & 0x00200000:  # PF_KTHREAD
                continue
            sid = int(fields[3])
            own = sid not in sessions
            if daemons and not own:
                continue
            if len(ps) == SURVIVORS_MAX:
                ps[-1]['more'] = True
                break
            cpu += int(fields[11]) + int(fields[12])
            cmd = cmd.rstrip(b'\0').replace(b'\0', b' ').decode('utf-8', 'replace')
            p = {'pid': int(name), 'sid': sid, 'cmd': cmd}
            if own:
                p['own'] = True
            ps.append(p)
        if not ps or not wait:
            return ps
        now = time.monotonic()
        if (cpu, len(ps)) != last:
            moved, last = now, (cpu, len(ps))
        waited = now - start
        if waited > SURVIVORS_SESSION_GRACE or (waited > SURVIVORS_GRACE and (
                now - moved > SURVIVORS_QUIET or any(p.get('own') for p in ps))):
            return ps
        pump(0.02)


if REPORT:
    hook_pyc()
    # The walk before the program predates the hook's bytecode, which
    # this init wrote: take the cache directory as it is now (the host
    # checks every other change to the hook's directory).
    cache = HOOK_DIR + '/__pycache__'
    # The program is running: it may have moved the directory already (the
    # after walk shows that to the host); what is gone is left out here.
    before = [e for e in before if not e[0].startswith(cache)]
    try:
        names = os.listdir(cache)
    except OSError:
        names = None
    for p in ([cache] + [cache + '/' + n for n in names]) if names is not None else []:
        try:
            st = os.lstat(p)
        except OSError:
            continue
        before.append([p, st.st_size, st.st_mode, st.st_ino, st.st_ctime_ns])
    marks.append((monotonic_ns(), 'hook compiled'))
import select, resource
deadline = time.monotonic() + h['timeout_s'] + 30  # backstop: moat kills first
# The program's wall clock (stop_s), kept here: at it everything but this
# process is killed, and the report still goes out (ctrinit.Header.StopS).
stop_at = started_at + h['stop_s'] if h.get('stop_s') else None
timed_out = False
status = None
outlived = []  # what outlived the program, or moat's stop (survivors)
open_fds = {ro: b'o', re_: b'e'}
# poll, not select: a runsc profile without gVisor's name "pselect" refuses select(2).
poller = select.poll()
for fd in list(open_fds) + [wake_r] + ([fifo] if fifo is not None else []):
    poller.register(fd, select.POLLIN)


def pump(timeout):
    # One wait of at most timeout seconds for the program's output, the
    # audit hook's FIFO and SIGCHLD, and what it brought relayed: also
    # while what outlived the program is watched (survivors), so that a
    # survivor writing to either is not held there, and so not taken for
    # one that sleeps.
    try:
        ready = [fd for fd, _ in poller.poll(timeout * 1000)]
    except InterruptedError:
        return
    for fd in ready:
        if fd == fifo:
            relay_audit()
            continue
        if fd == wake_r:
            try:
                os.read(wake_r, 512)
            except BlockingIOError:
                pass
            continue
        data = os.read(fd, 1 << 16)
        if data:
            send(open_fds[fd], data)
        else:
            del open_fds[fd]
            poller.unregister(fd)


# Until the program is reaped, not only while its stdout and stderr are
# open: a program that closes both still has its clock kept and its audit
# hook's FIFO relayed.
children = True
while open_fds or (status is None and children):
    now = time.monotonic()
    left = deadline - now
    if left <= 0:
        os.kill(-1, signal.SIGKILL)
        sys.exit(0)
    if stop_at is not None and now >= stop_at:
        if REPORT and not timed_out and status is None:
            # moat's stop, the program still running: the daemons are
            # listed before everything is killed.
            outlived = survivors(pid, (os.getsid(0), pid), wait=False, daemons=True)
        timed_out = True
        stop_at = now + 0.1  # again, while the program's processes linger
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    if stop_at is not None:
        left = min(left, max(stop_at - now, 0))
    pump(min(left, 5))
    while status is None:
        try:
            p, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            children = False
            break
        if p == 0:
            break
        if p == pid:
            status = st
            # The program is done: nothing it started may outlive it or
            # keep writing (this process is the only one not killed).
            # What is left is listed first: a daemon would act after the
            # run, where no report sees it.
            if REPORT:
                outlived = survivors(pid, (os.getsid(0), pid)) or outlived
            try:
                os.kill(-1, signal.SIGKILL)
            except OSError:
                pass
while True:
    try:
        p, st = os.waitpid(-1, 0)
    except ChildProcessError:
        break
    if p == pid:
        status = st
        if REPORT:
            outlived = survivors(pid, (os.getsid(0), pid)) or outlived
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
marks.append((monotonic_ns(), 'program reaped'))
if reserve is not None:
    reserve.close()  # the room for what follows
send(b'r')
if REPORT:
    # Everything else is dead: what the hook wrote is in the FIFO.
    relay_audit()
    send_walks()
    marks.append((monotonic_ns(), 'walks sent'))
if h.get('out'):
    pack(h)
    marks.append((monotonic_ns(), 'work sent'))
if h.get('trace'):
    send(b'T', ''.join('%d %s\n' % m for m in marks).encode())
ex = dict(CONF, maxrss=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, timed_out=timed_out)
if os.WIFSIGNALED(status):
    ex['signal'] = os.WTERMSIG(status)
else:
    ex['exit'] = os.WEXITSTATUS(status)
send(b'x', dumps(ex))
while os.read(0, 1 << 16):
    pass
# Every frame went out with os.write: nothing is buffered, and the
# interpreter's own teardown would only delay the container's end.
os._exit(0)
