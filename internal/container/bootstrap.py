# moat container bootstrap: pid 1 of the container, run by the image's own
# python3 (-I -S) as the unprivileged sandbox user. See protocol.go.
#
# In (fd 0): u32 length + JSON header; if header["tar"], the workspace as
# chunks (u32 length + bytes) ending with an empty chunk; then the program's
# stdin, untouched (the program inherits fd 0 itself).
# Out (fd 1): frames of 1 type byte + u32 length + payload: o (program
# stdout), e (program stderr), t (tar of /work; empty = end), x (exit JSON).
# Nothing else ever writes to fd 1: the program's stdout and stderr are
# pipes, and this process is not dumpable, so the program (same uid) cannot
# open /proc/1/fd/1 or ptrace it.
import os, signal, struct, sys, json

for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
    signal.signal(s, signal.SIG_IGN)
try:
    import ctypes
    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
except Exception as e:
    sys.stderr.write('moat-bootstrap: not dumpable: %s\n' % e)


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


def send(t, data=b''):
    wall(struct.pack('>cI', t, len(data)) + data)


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


class Frames:
    def __init__(self, t):
        self.t = t

    def write(self, b):
        for i in range(0, len(b), 1 << 20):
            send(self.t, bytes(b[i:i + (1 << 20)]))
        return len(b)

    def flush(self):
        pass


def unpack(h):
    import tarfile
    c = Chunks()
    tf = tarfile.open(fileobj=c, mode='r|')
    kw = {'filter': 'tar'} if hasattr(tarfile, 'tar_filter') else {}
    tf.extractall(WORK, **kw)
    tf.close()
    c.read()  # to the end chunk, whatever tarfile left


def pack(h):
    import tarfile
    w = Frames(b't')
    tf = tarfile.open(fileobj=w, mode='w|', format=tarfile.PAX_FORMAT)
    total, count = 0, 0
    for root, dirs, files in os.walk(WORK):
        dirs.sort()
        for name in dirs + sorted(files):
            p = os.path.join(root, name)
            count += 1
            if count > h['out_files']:
                break
            try:
                ti = tf.gettarinfo(p, os.path.relpath(p, WORK))
                if ti is None:
                    continue
                ti.uid = ti.gid = 0
                ti.uname = ti.gname = ''
                if ti.isreg():
                    total += ti.size
                    if total > h['out_bytes']:
                        break
                    with open(p, 'rb') as f:
                        tf.addfile(ti, f)
                else:
                    tf.addfile(ti)
            except (OSError, ValueError):
                pass  # unreadable or changed: the host reports what arrived
        else:
            continue
        break
    tf.close()
    send(b't')


WORK = '/work'
h = json.loads(rd(struct.unpack('>I', rd(4))[0]))
if h.get('tar'):
    unpack(h)
for name, data in sorted(h.get('files', {}).items()):
    with open(os.path.join(WORK, name), 'wb') as f:
        f.write(bytes.fromhex(data))

ro, wo = os.pipe()
re_, we = os.pipe()
er, ew = os.pipe()  # close-on-exec: EOF means exec worked
wake_r, wake_w = os.pipe()
os.set_blocking(wake_w, False)
signal.signal(signal.SIGCHLD, lambda *a: None)
signal.set_wakeup_fd(wake_w)
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
        if h.get('rlimit_as'):
            import resource
            resource.setrlimit(resource.RLIMIT_AS, (h['rlimit_as'], h['rlimit_as']))
        os.execvpe(h['argv'][0], h['argv'], dict(kv.split('=', 1) for kv in h['env']))
    except OSError as e:
        os.write(ew, struct.pack('>i', e.errno or 0) + str(e).encode()[:500])
    os._exit(127)
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
    send(b'x', json.dumps({'error': err[4:].decode('utf-8', 'replace'), 'errno': struct.unpack('>i', err[:4])[0]}).encode())
    sys.exit(0)

import select, resource, time
deadline = time.monotonic() + h['timeout_s'] + 30  # backstop: moat kills first
status = None
open_fds = {ro: b'o', re_: b'e'}
while open_fds:
    left = deadline - time.monotonic()
    if left <= 0:
        os.kill(-1, signal.SIGKILL)
        sys.exit(0)
    try:
        ready, _, _ = select.select(list(open_fds) + [wake_r], [], [], min(left, 5))
    except InterruptedError:
        continue
    for fd in ready:
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
    while status is None:
        try:
            p, st = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if p == 0:
            break
        if p == pid:
            status = st
            # The program is done: nothing it started may outlive it or
            # keep writing (this process is the only one not killed).
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
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
if h.get('out'):
    pack(h)
ex = {'maxrss': resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024}
if os.WIFSIGNALED(status):
    ex['signal'] = os.WTERMSIG(status)
else:
    ex['exit'] = os.WEXITSTATUS(status)
send(b'x', json.dumps(ex).encode())
while os.read(0, 1 << 16):
    pass
