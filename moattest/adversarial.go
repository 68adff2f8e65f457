package moattest

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

// adversarialCases each attack the host from inside and assert that the
// attack failed and the host is unchanged.
func adversarialCases() []testCase {
	return []testCase{
		{name: "host-files", fn: testHostFiles},
		{name: "host-env", alone: true, fn: testHostEnv},
		{name: "host-proc", fn: testHostProc},
		{name: "net-exfil", fn: testNetExfil},
		{name: "fork-bomb", alone: true, fn: testForkBomb},
		{name: "memory-bomb", alone: true, fn: testMemoryBomb},
		{name: "disk-bomb", fn: testDiskBomb},
		{name: "output-bomb", fn: testOutputBomb},
		{name: "busy-loop", fn: testBusyLoop},
		{name: "orphan-daemon", fn: testOrphanDaemon},
		{name: "syscalls", fn: testSyscalls},
		{name: "proc-sys-writes", fn: testProcSysWrites},
		{name: "devices", fn: testDevices},
		{name: "tiocsti", fn: testTIOCSTI},
		{name: "socket-families", fn: testSocketFamilies},
		{name: "signal-host", fn: testSignalHost},
		{name: "inherited-fds", fn: testInheritedFDs},
		{name: "capabilities", fn: testCapabilities},
		{name: "uid", fn: testUID},
		{name: "nosuid", fn: testNoSuid},
		{name: "oom-score-adj", fn: testOOMScoreAdj},
		{name: "hostname", fn: testHostname},
		{name: "kill-init", fn: testKillInit},
		{name: "tokens-in-memory", fn: testTokensInMemory},
	}
}

// secretDir is where a host secret is planted: root's home when we are
// root (the classic target), else the temporary directory.
func secretDir() string {
	if os.Geteuid() == 0 {
		return "/root"
	}
	return os.TempDir()
}

func testHostFiles(t *testing.T, s *suite) {
	id := randomID()
	secret := "moat-secret-content-" + id
	secretPath := filepath.Join(secretDir(), "moat-test-secret-"+id)
	tmpName := "moat-test-hosttmp-" + id
	for _, p := range []string{secretPath, filepath.Join(os.TempDir(), tmpName), filepath.Join("/tmp", tmpName)} {
		if err := os.WriteFile(p, []byte(secret), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(p) })
	}
	spec := s.py(pyProbe + `
R['secret'] = tryread(os.environ['SECRET_PATH'])
R['secret_tmp'] = tryread('/tmp/' + os.environ['TMP_NAME'])
R['shadow'] = attempt(lambda: len(open('/etc/shadow', 'rb').read()))
R['ssh'] = trylist('/root/.ssh')
R['home'] = trylist('/home')
R['tmp'] = trylist('/tmp')
R['root'] = trylist('/root')
R['secretdir'] = trylist(os.path.dirname(os.environ['SECRET_PATH']))
import hashlib
R['passwd'] = attempt(lambda: hashlib.sha256(open('/etc/passwd', 'rb').read()).hexdigest())
done()`)
	spec.Env = []string{"SECRET_PATH=" + secretPath, "TMP_NAME=" + tmpName}
	res := s.run(t, spec)
	var p probes
	report(t, res, &p)
	if strings.Contains(res.Stdout+res.Stderr, secret) {
		t.Errorf("the program read the host secret")
	}
	p.wantErr(t, "secret", "secret_tmp", "shadow")
	for _, k := range []string{"ssh", "tmp", "root", "secretdir"} {
		if strings.Contains(p[k], "moat-test-") {
			t.Errorf("listing %s shows a host file: %q", k, p[k])
		}
	}
	if v := p["ssh"]; strings.HasPrefix(v, "list:") && v != "list:" {
		t.Errorf("/root/.ssh is visible: %q", v)
	}
	// /home holds the sandbox user's home alone (its name is the run's
	// persona's), never the host's users.
	if v := p["home"]; strings.HasPrefix(v, "list:") && strings.Contains(v, ",") {
		t.Errorf("/home shows more than one directory: %q", v)
	}
	// The host's /etc/passwd names the host's users; the sandbox's must not
	// be it.
	if host, err := os.ReadFile("/etc/passwd"); err == nil && p["passwd"] == fmt.Sprintf("ok:%x", sha256.Sum256(host)) {
		t.Errorf("the program reads the host's /etc/passwd")
	}
}

func testHostEnv(t *testing.T, s *suite) {
	secret := "moat-env-secret-" + randomID()
	t.Setenv("MOAT_SECRET_TEST", secret)
	res := s.run(t, s.py(pyProbe+`
R['environ'] = json.dumps(dict(os.environ))
R['self'] = tryread('/proc/self/environ', 1 << 20)
R['pid1'] = tryread('/proc/1/environ', 1 << 20)
R['ppid'] = tryread('/proc/%d/environ' % os.getppid(), 1 << 20)
done()`))
	var p probes
	report(t, res, &p)
	if strings.Contains(res.Stdout+res.Stderr, secret) {
		t.Errorf("the host's environment reached the sandbox: %v", p)
	}
}

func testHostProc(t *testing.T, s *suite) {
	res := s.run(t, s.py(pyProbe+`
R['pid1_cmdline'] = tryread('/proc/1/cmdline', 4096)
R['pid1_exe'] = attempt(os.readlink, '/proc/1/exe')
R['pid1_root'] = trylist('/proc/1/root/')
R['pids'] = ','.join(p for p in os.listdir('/proc') if p.isdigit())
R['self'] = str(os.getpid())
done()`))
	var p probes
	report(t, res, &p)
	if host, err := os.ReadFile("/proc/1/cmdline"); err == nil && len(host) > 0 && p["pid1_cmdline"] == "read:"+string(host) {
		t.Errorf("the sandbox's /proc/1/cmdline is the host's init: %q", host)
	}
	if self, err := os.ReadFile("/proc/self/cmdline"); err == nil && strings.Contains(p["pid1_cmdline"], string(self)) {
		t.Errorf("the sandbox's /proc/1/cmdline is this test process: %q", p["pid1_cmdline"])
	}
	// Under a Sentry the program itself is pid 1 (no init of moat's).
	if v := p["pid1_exe"]; strings.HasPrefix(v, "ok") && s.opts.Sentry == nil {
		t.Errorf("/proc/1/exe of the sandbox's init is readable: %q", v)
	}
	pids := strings.Split(p["pids"], ",")
	if len(pids) > 5 {
		t.Errorf("/proc lists %d processes, want only the sandbox's few: %v", len(pids), pids)
	}
	for _, pid := range pids {
		if n, _ := strconv.Atoi(pid); n == os.Getpid() && n > 5 {
			t.Errorf("/proc inside lists the test's host pid %d", n)
		}
	}
}

func testNetExfil(t *testing.T, s *suite) {
	res := s.run(t, s.py(pyProbe+`
import socket
def tcp(addr, fam=socket.AF_INET):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        s.connect(addr)
        return 'ok'
    except Exception as e:
        return _e(e)
    finally:
        s.close()
R['tcp4'] = tcp(('8.8.8.8', 443))
R['tcp4_http'] = tcp(('93.184.215.14', 80))
R['tcp6'] = tcp(('2001:4860:4860::8888', 443), socket.AF_INET6)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
R['udp'] = attempt(u.sendto, b'exfil', ('8.8.8.8', 53))
R['ifaces'] = ','.join(sorted(n for _, n in socket.if_nameindex()))
R['raw'] = attempt(socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
R['packet'] = attempt(socket.socket, socket.AF_PACKET, socket.SOCK_RAW)
done()`))
	var p probes
	report(t, res, &p)
	p.wantErr(t, "tcp4", "tcp4_http", "tcp6", "raw", "packet")
	if p["udp"] != "err:ENETUNREACH" && !(s.opts.Sentry != nil && p["udp"] == "err:EHOSTUNREACH") {
		t.Errorf("UDP sendto 8.8.8.8:53: %q, want err:ENETUNREACH", p["udp"])
	}
	if p["ifaces"] != "lo" {
		t.Errorf("network interfaces inside: %q, want lo only", p["ifaces"])
	}
}

func testForkBomb(t *testing.T, s *suite) {
	marker := "moat-marker-" + randomID()
	spec := s.py(`import os
while True:
    try:
        os.fork()
    except OSError:
        pass`, marker)
	spec.Limits.Pids = 32
	spec.Limits.Timeout = 10 * time.Second
	res := s.runWithin(t, spec, 60*time.Second)
	wantNoProcs(t, marker, "after the fork bomb")
	hostResponsive(t)
	switch res.Status {
	case moat.StatusPids:
	case moat.StatusTimeout:
		if !degradedCgroups(res) {
			t.Errorf("the fork bomb ran until the timeout: the pids limit never ended it")
		}
	default:
		t.Errorf("status %q, want %q", res.Status, moat.StatusPids)
	}
}

func testMemoryBomb(t *testing.T, s *suite) {
	spec := s.py(`import sys
hog = []
while True:
    hog.append(b'm' * (4 << 20))
    if len(hog) % 64 == 0:
        print('at', len(hog) * 4, 'MiB', flush=True)`)
	spec.Limits.Memory = 64 << 20
	spec.Limits.Timeout = 30 * time.Second
	res := s.runWithin(t, spec, 25*time.Second)
	hostResponsive(t)
	if strings.Contains(res.Stdout, "at 256 MiB") {
		t.Errorf("the bomb reached 256MiB under a 64MiB limit")
	}
	if degradedCgroups(res) && res.Status == moat.StatusExited && strings.Contains(res.Stderr, "MemoryError") {
		return
	}
	wantStatus(t, res, moat.StatusMemory, 137)
	maxRSS := int64(80 << 20)
	if s.opts.Sentry != nil {
		maxRSS += s.opts.Sentry.MemoryOverhead
	}
	if res.MaxRSSBytes > maxRSS {
		t.Errorf("MaxRSSBytes = %d, over the 64MiB limit", res.MaxRSSBytes)
	}
}

func testDiskBomb(t *testing.T, s *suite) {
	spec := s.py(pyProbe + `
total = 0
chunk = b'd' * (256 << 10)
for d in ['/work', '/tmp', os.environ.get('HOME', '/tmp'), '/dev/shm']:
    i = 0
    while True:
        try:
            with open(os.path.join(d, 'fill%d' % i), 'wb') as f:
                while True:
                    f.write(chunk)
                    f.flush()
                    total += len(chunk)
        except Exception as e:
            R[d + str(i)] = _e(e)
            if i > 3 or isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EACCES, errno.EROFS, errno.ENOENT, errno.EPERM):
                break
        i += 1
# Then inodes, as many as 20 s allow (a Sentry with a syscall trace
# creates them ten times slower than a kernel: the bomb is the attempt).
import time
until = time.monotonic() + 20
try:
    for i in range(100000):
        if i % 500 == 0 and time.monotonic() > until:
            R['inodes'] = 'stopped at %d' % i
            break
        open('/tmp/inode%d' % i, 'w').close()
except Exception as e:
    R['inodes'] = _e(e)
R['total'] = str(total)
done()`)
	spec.Limits.Disk = 8 << 20
	spec.Limits.Timeout = 60 * time.Second
	res := s.run(t, spec)
	var p probes
	report(t, res, &p)
	var total int64
	fmt.Sscan(p["total"], &total)
	// A little slack for the chunk that straddled the limit.
	if total > 9<<20 {
		t.Errorf("%d bytes written over every writable directory under an 8MiB disk limit", total)
	}
	hostResponsive(t)
}

func testOutputBomb(t *testing.T, s *suite) {
	for _, c := range []struct{ name, code string }{
		{"stdout-print", "while True: print('x' * 1000)"},
		{"stdout-write", "import os\nwhile True: os.write(1, b'x' * 65536)"},
		{"stderr", "import os\nwhile True: os.write(2, b'e' * 65536)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			spec := s.py(c.code)
			spec.Limits.OutputLimit = 64 << 10
			spec.Limits.Timeout = 30 * time.Second
			res := s.runWithin(t, spec, hangLimit)
			wantStatus(t, res, moat.StatusOutputLimit, 137)
			if len(res.Stdout) > 64<<10 || len(res.Stderr) > 64<<10 {
				t.Errorf("captured %d and %d bytes over a 64KiB limit", len(res.Stdout), len(res.Stderr))
			}
			if !res.StdoutTruncated && !res.StderrTruncated {
				t.Error("neither stream is marked truncated")
			}
		})
	}
}

func testBusyLoop(t *testing.T, s *suite) {
	spec := s.py("while True: pass")
	spec.Limits.Timeout = time.Second
	start := time.Now()
	res := s.run(t, spec)
	if d := time.Since(start); d > s.bound(hangLimit) {
		t.Errorf("a 1s timeout returned after %s", d)
	}
	wantStatus(t, res, moat.StatusTimeout, 124)
}

// testOrphanDaemon: a daemon made by double fork and setsid, whose parent
// exits at once with 0, must not outlive the run.
func testOrphanDaemon(t *testing.T, s *suite) {
	requireProcScan(t)
	marker := "moat-marker-" + randomID()
	spec := s.py(`import os, signal, sys
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(1000)', os.environ['MARKER']])
    os._exit(0)
os.waitpid(pid, 0)
print('spawned', flush=True)
sys.stdin.readline()
sys.exit(0)`)
	spec.Env = []string{"MARKER=" + marker}
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	spec.Stdin = stdinR
	w := newLineWatcher("spawned")
	spec.Stdout = w
	seen := make(chan bool, 1)
	go func() {
		defer stdinW.Close()
		ok := w.waitSeen(s.bound(hangLimit), nil) && (s.opts.Sentry != nil || waitProcs(t, marker, 5*time.Second))
		seen <- ok
		io.WriteString(stdinW, "\n")
	}()
	res := s.run(t, spec)
	wantNoProcs(t, marker, "after Run returned")
	wantNoLeftovers(t, s, "after Run returned")
	if !<-seen {
		t.Fatal("the daemon was never seen on the host; the check proves nothing")
	}
	wantExit0(t, res)
}

// testSyscalls calls, through ctypes, the system calls a sandbox must deny,
// with x86_64 numbers, and expects -1 with the given errno.
func testSyscalls(t *testing.T, s *suite) {
	res := s.run(t, s.py(`import ctypes, errno, json, os, platform
if platform.machine() != 'x86_64':
    print(json.dumps({'skip': platform.machine()}))
    raise SystemExit(0)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def arg(a):
    if isinstance(a, int):
        return ctypes.c_long(a)
    return a
R = {}
def sc(name, nr, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[arg(a) for a in args])
    if r == 0 and name.startswith('clone'):
        os._exit(0)  # the child of a clone that should not have happened
    e = ctypes.get_errno()
    R[name] = '%d %s' % (r, errno.errorcode.get(e, str(e)) if r == -1 else '')
buf = ctypes.create_string_buffer(256)
ns = os.open('/proc/self/ns/net', os.O_RDONLY)
sc('unshare-user', 272, 0x10000000)
sc('unshare-mnt', 272, 0x00020000)
sc('clone-newuser', 56, 0x10000000 | 17, 0, 0, 0, 0)
sc('clone3', 435, buf, 88)
sc('mount', 165, b'none', b'/tmp', b'tmpfs', 0, None)
sc('umount2', 166, b'/proc', 2)
sc('pivot_root', 155, b'/tmp', b'/tmp')
sc('chroot', 161, b'/tmp')
sc('setns', 308, ns, 0)
sc('ptrace-traceme', 101, 0, 0, 0, 0)
sc('keyctl', 250, 0, -3, 0, 0, 0)
sc('add_key', 248, b'user', b'moat', b'x', 1, -3)
sc('bpf', 321, 0, buf, 128)
sc('perf_event_open', 298, buf, 0, -1, -1, 0)
sc('userfaultfd', 323, 0)
sc('io_uring_setup', 425, 1, buf)
sc('reboot', 169, 0xfee1dead, 672274793, 0, None)
sc('init_module', 175, None, 0, b'')
sc('finit_module', 313, -1, b'', 0)
sc('kexec_load', 246, 0, 0, None, 0)
sc('open_by_handle_at', 304, -100, buf, 0)
sc('personality-addr-no-randomize', 135, 0x0040000)
sc('syslog-read', 103, 3, buf, 256)
sc('acct', 163, b'/tmp/acct')
sc('swapon', 167, b'/tmp/swap', 0)
print(json.dumps(R))`))
	var p map[string]string
	report(t, res, &p)
	if arch, ok := p["skip"]; ok {
		t.Skipf("syscall numbers are for x86_64, not %s", arch)
	}
	eperm := []string{"EPERM"}
	want := map[string][]string{
		"unshare-user": eperm, "unshare-mnt": eperm, "clone-newuser": eperm, "clone3": {"ENOSYS", "EPERM"},
		"mount": eperm, "umount2": eperm, "pivot_root": eperm, "chroot": eperm, "setns": eperm,
		"ptrace-traceme": eperm, "keyctl": {"EPERM", "ENOSYS"}, "add_key": {"EPERM", "ENOSYS"},
		"bpf": {"EPERM", "ENOSYS"}, "perf_event_open": {"EPERM", "ENOSYS"}, "userfaultfd": {"EPERM", "ENOSYS"},
		"io_uring_setup": {"ENOSYS", "EPERM"}, "reboot": eperm, "init_module": eperm, "finit_module": eperm,
		"kexec_load": eperm, "open_by_handle_at": eperm, "personality-addr-no-randomize": eperm,
		"syslog-read": eperm, "acct": eperm, "swapon": eperm,
	}
	for name, errs := range want {
		got, ok := p[name]
		if !ok {
			t.Errorf("%s: not in the report", name)
			continue
		}
		r, e, _ := strings.Cut(got, " ")
		if r != "-1" {
			t.Errorf("%s returned %s: the call was allowed", name, r)
			continue
		}
		if !contains(errs, e) {
			t.Errorf("%s failed with %s, want %s", name, e, strings.Join(errs, " or "))
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func testProcSysWrites(t *testing.T, s *suite) {
	res := s.run(t, s.py(pyProbe+`
import socket, stat
R['hostname'] = trywrite('/proc/sys/kernel/hostname', 'pwned')
R['core_pattern'] = trywrite('/proc/sys/kernel/core_pattern', '|/tmp/x')
R['sysrq'] = trywrite('/proc/sysrq-trigger', 'h')
try:
    st, dn = os.stat('/proc/sysrq-trigger'), os.stat('/dev/null')
    R['sysrq_is_null'] = str(stat.S_ISCHR(st.st_mode) and st.st_rdev == dn.st_rdev)
except Exception as e:
    R['sysrq_is_null'] = _e(e)
R['sys'] = trylist('/sys')
R['kcore'] = tryread('/proc/kcore', 4096)
R['kallsyms'] = tryread('/proc/kallsyms', 4096)
R['cgroup_fs'] = trylist('/sys/fs/cgroup')
R['hostname_after'] = socket.gethostname()
done()`))
	var p probes
	report(t, res, &p)
	p.wantErr(t, "hostname", "core_pattern")
	if p["sysrq"] != "ok" {
		p.wantErr(t, "sysrq")
	} else if p["sysrq_is_null"] != "True" {
		t.Errorf("writing /proc/sysrq-trigger succeeded and it is not masked by /dev/null (%q)", p["sysrq_is_null"])
	}
	if v := p["sys"]; v != "list:" && !strings.HasPrefix(v, "err:") {
		t.Errorf("/sys is visible: %q", v)
	}
	for _, k := range []string{"kcore", "kallsyms"} {
		if v := p[k]; v != "read:" && !strings.HasPrefix(v, "err:") {
			t.Errorf("/proc/%s is not masked: %q", k, clip(v))
		}
	}
	if h, _ := os.Hostname(); p["hostname_after"] == "pwned" || h == "pwned" {
		t.Errorf("the hostname was changed")
	}
}

func testDevices(t *testing.T, s *suite) {
	res := s.run(t, s.py(pyProbe+`
import stat
R['dev'] = ','.join(sorted(os.listdir('/dev')))
R['sda'] = tryread('/dev/sda')
R['mem'] = tryread('/dev/mem')
R['kmsg'] = tryread('/dev/kmsg')
R['tty'] = attempt(lambda: os.close(os.open('/dev/tty', os.O_RDWR | os.O_NOCTTY)))
R['fuse'] = attempt(lambda: os.close(os.open('/dev/fuse', os.O_RDWR)))
R['fuse_ro'] = attempt(lambda: os.close(os.open('/dev/fuse', os.O_RDONLY)))
R['tun'] = attempt(lambda: os.close(os.open('/dev/net/tun', os.O_RDWR)))
R['mknod_blk'] = attempt(os.mknod, '/tmp/sda', 0o600 | stat.S_IFBLK, os.makedev(8, 0))
R['mknod_chr'] = attempt(os.mknod, '/tmp/mem', 0o600 | stat.S_IFCHR, os.makedev(1, 1))
R['urandom'] = str(len(open('/dev/urandom', 'rb').read(16)))
R['null'] = trywrite('/dev/null', 'x')
done()`))
	var p probes
	report(t, res, &p)
	allowed := map[string]bool{"null": true, "zero": true, "full": true, "random": true, "urandom": true,
		"fd": true, "stdin": true, "stdout": true, "stderr": true, "shm": true,
		"tty": true, "ptmx": true, "pts": true} // the run's own ptys (the tiocsti case)
	if c := s.opts.Container; c != nil {
		for _, d := range c.ExtraDevices {
			allowed[d] = true
		}
	}
	for _, d := range strings.Split(p["dev"], ",") {
		if d != "" && !allowed[d] {
			t.Errorf("/dev/%s exists inside (all: %s)", d, p["dev"])
		}
	}
	// fuse and tun may be listed (ExtraDevices: gVisor's Sentry makes
	// them whatever it is asked), but neither device may be opened.
	p.wantErr(t, "sda", "mem", "kmsg", "tty", "fuse", "fuse_ro", "tun", "mknod_blk", "mknod_chr")
	if p["urandom"] != "16" || p["null"] != "ok" {
		t.Errorf("the allowed devices do not work: urandom %q, null %q", p["urandom"], p["null"])
	}
}

// testTIOCSTI: pushing bytes into the input of a terminal (the one moat was
// started from) must be denied, also with the high bits of the request set,
// which the kernel drops. And on every terminal the program can open, also
// after it tried to make that terminal its controlling one: a pty of the
// host's (the test's own, raw, named to the program) must have nothing in
// its input after the run, and the program's /dev/pts must hold no
// terminal it did not make (a devpts of its own, or none).
func testTIOCSTI(t *testing.T, s *suite) {
	hp, err := openHostPty()
	if err != nil {
		t.Skipf("no pty of the host's to aim at: %v", err)
	}
	defer hp.Close()
	spec := s.py(pyProbe + `
import ctypes, fcntl, glob, termios
R['fcntl'] = attempt(fcntl.ioctl, 0, termios.TIOCSTI, b'x')
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def ioctl(fd, req):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(16), ctypes.c_long(fd), ctypes.c_ulong(req), ctypes.c_char_p(b'x'))
    e = ctypes.get_errno()
    return 'ok' if r == 0 else 'err:' + errno.errorcode.get(e, str(e))
R['raw'] = ioctl(0, 0x5412)
R['highbits'] = ioctl(0, 0xffffffff00005412)
R['tioclinux'] = ioctl(0, 0x541C)
R['devtty'] = attempt(lambda: os.close(os.open('/dev/tty', os.O_RDWR | os.O_NOCTTY)))
R['pts'] = trylist('/dev/pts')
# Every terminal the program can open, before it makes any of its own
# (ptmx would make one): TIOCSTI as is, then after TIOCSCTTY (stealing
# it, arg 1).
names = ['/dev/tty', '/dev/console', os.environ['HOST_PTS']] + sorted(glob.glob('/dev/tty*') + glob.glob('/dev/pts/*') + glob.glob('/dev/console*'))
tried = {}
for n in dict.fromkeys(names):
    if n.endswith('/ptmx'):
        continue
    try:
        fd = os.open(n, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except Exception as e:
        tried[n] = 'open ' + _e(e)
        continue
    try:
        if not os.isatty(fd):
            tried[n] = 'not a tty'
            continue
        r = {'sti': attempt(fcntl.ioctl, fd, termios.TIOCSTI, b'#'), 'sti_hi': ioctl(fd, 0xffffffff00005412)}
        r['ctty'] = attempt(fcntl.ioctl, fd, termios.TIOCSCTTY, 1)
        r['sti_ctty'] = attempt(fcntl.ioctl, fd, termios.TIOCSTI, b'#')
        tried[n] = r
    finally:
        os.close(fd)
for fd in (0, 1, 2):
    tried['fd%d' % fd] = {'sti': attempt(fcntl.ioctl, fd, termios.TIOCSTI, b'#')} if os.isatty(fd) else 'not a tty'
# A pty of its own, its slave the controlling terminal of a child in a
# session of its own: the rules hold there too (TIOCSTI would need no
# privilege on one's own terminal).
def own():
    m, sl = os.openpty()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            fcntl.ioctl(sl, termios.TIOCSCTTY, 0)
            out = [attempt(fcntl.ioctl, sl, termios.TIOCSTI, b'#'), ioctl(sl, 0x541C), ioctl(sl, 0xffffffff00005412)]
            os.write(w, ' '.join(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    out = os.read(r, 200).decode()
    os.waitpid(pid, 0)
    for fd in (m, sl, r):
        os.close(fd)
    return out
R['own'] = attempt(own)
R['ttys'] = json.dumps(tried, sort_keys=True)
R['injected'] = ','.join(sorted(k for k, v in tried.items() if isinstance(v, dict) and any(v[x].startswith('ok') for x in v if x != 'ctty')))
R['ctty'] = ','.join(sorted(k for k, v in tried.items() if isinstance(v, dict) and v.get('ctty', '').startswith('ok')))
done()`)
	spec.Env = []string{"HOST_PTS=" + hp.path}
	res := s.run(t, spec)
	var p probes
	report(t, res, &p)
	for _, k := range []string{"fcntl", "raw", "highbits", "tioclinux"} {
		if p[k] != "err:EPERM" {
			t.Errorf("ioctl %s: %q, want err:EPERM (denied whatever the descriptor)", k, p[k])
		}
	}
	p.wantErr(t, "devtty")
	if p["injected"] != "" {
		t.Errorf("TIOCSTI pushed input into %s (all: %s)", p["injected"], p["ttys"])
	}
	if p["own"] != "ok:err:EPERM err:EPERM err:EPERM" {
		t.Errorf("TIOCSTI, TIOCLINUX and TIOCSTI with high bits on the program's own controlling terminal: %q, want ok:err:EPERM err:EPERM err:EPERM", p["own"])
	}
	if p["ctty"] != "" {
		t.Errorf("the program made %s, a terminal it did not make, its controlling terminal (all: %s)", p["ctty"], p["ttys"])
	}
	if v := p["pts"]; strings.HasPrefix(v, "list:") {
		for _, e := range strings.Split(strings.TrimPrefix(v, "list:"), ",") {
			if e != "" && e != "ptmx" {
				t.Errorf("/dev/pts/%s exists inside before the program made a pty: the devpts is not the run's own (%s)", e, v)
			}
		}
	}
	if sl, ms, err := hp.pending(); err != nil {
		t.Errorf("the host pty's input: %v", err)
	} else if sl != 0 || ms != 0 {
		t.Errorf("the host pty %s has %d bytes in its input and %d in its master's: the program pushed them (%s)", hp.path, sl, ms, p["ttys"])
	}
	t.Logf("ttys tried: %s", p["ttys"])
}

// testSocketFamilies: only unix, inet, inet6 (TCP, UDP, MPTCP, ICMP) and
// netlink route sockets can be made. vsock above all: network namespaces do not isolate it, so a
// bind inside would take the port for the whole machine and a connect to
// CID 2 reaches the host (the hypervisor on a VM). Refused families fail
// with EAFNOSUPPORT (native's filter and, under gVisor, the same rules in
// the Sentry's seccomp) or EPERM (the engines' profile default), and the
// attempt reaches the report: a kernel event on native (also for a raw
// syscall the audit hook never sees), the audit hook's on every backend.
//
// What gVisor does without moat's rules (runsc, --network none, no
// capabilities): vsock, alg, xdp, bluetooth EAFNOSUPPORT; packet EPERM;
// netlink route and uevent succeed, sock_diag, generic and netfilter
// EPROTONOSUPPORT. So netlink uevent is the probe that shows the rules
// travel into the Sentry: it is refused only by them.
func testSocketFamilies(t *testing.T, s *suite) {
	res := s.run(t, s.py(pyProbe+`
import ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def raw_socket(fam, typ, proto=0):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(41), ctypes.c_ulong(fam), ctypes.c_long(typ), ctypes.c_long(proto))
    e = ctypes.get_errno()
    if r >= 0:
        os.close(r)
        return 'ok'
    return 'err:' + errno.errorcode.get(e, str(e))
def vsock():
    try:
        s = socket.socket(40, socket.SOCK_STREAM)
    except OSError as e:
        return _e(e), 'no socket', 'no socket'
    s.settimeout(5)
    b = attempt(s.bind, (0xffffffff, 1024))
    c = attempt(s.connect, (2, 1024))
    s.close()
    return 'ok', b, c
R['vsock'], R['vsock_bind'], R['vsock_connect'] = vsock()
R['vsock_raw'] = raw_socket(40, 1)
R['vsock_high_bits'] = raw_socket(0xffffffff00000028, 1)
R['vsock_pair'] = attempt(socket.socketpair, 40, socket.SOCK_STREAM)
R['packet'] = attempt(socket.socket, 17, socket.SOCK_RAW, 0x0300)
R['packet_dgram'] = attempt(socket.socket, 17, socket.SOCK_DGRAM, 0x0300)
R['alg'] = attempt(socket.socket, 38, socket.SOCK_SEQPACKET)
R['xdp'] = attempt(socket.socket, 44, socket.SOCK_RAW)
R['netlink_diag'] = attempt(socket.socket, socket.AF_NETLINK, socket.SOCK_RAW, 4)
R['netlink_uevent'] = attempt(socket.socket, socket.AF_NETLINK, socket.SOCK_DGRAM, 15)
# UDP-Lite passes the sink unrecorded (red team, session 19)
R['udplite'] = attempt(socket.socket, socket.AF_INET, socket.SOCK_DGRAM, 136)
R['udplite6'] = attempt(socket.socket, socket.AF_INET6, socket.SOCK_DGRAM, 136)
# What Python and test suites need keeps working.
def loop(fam, host):
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.bind((host, 0))
    srv.listen(1)
    c = socket.create_connection(srv.getsockname()[:2], timeout=5)
    a, _ = srv.accept()
    c.sendall(b'hi')
    got = a.recv(2)
    for x in (a, c, srv):
        x.close()
    if got != b'hi':
        raise RuntimeError('received %r' % got)
R['inet'] = attempt(loop, socket.AF_INET, '127.0.0.1')
R['inet6'] = attempt(loop, socket.AF_INET6, '::1')
def pair():
    a, b = socket.socketpair()
    a.sendall(b'x')
    if b.recv(1) != b'x':
        raise RuntimeError('socketpair lost the byte')
R['unix_pair'] = attempt(pair)
R['unix'] = attempt(lambda: socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).close())
R['netlink_route'] = attempt(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0).close())
R['ifaces'] = attempt(lambda: ','.join(sorted(n for _, n in socket.if_nameindex())))
done()`))
	var p probes
	report(t, res, &p)
	refused := []string{"vsock", "vsock_raw", "vsock_high_bits", "vsock_pair", "packet", "packet_dgram", "alg", "xdp", "netlink_diag", "netlink_uevent", "udplite", "udplite6"}
	want := []string{"err:EAFNOSUPPORT"}
	if s.opts.Container != nil {
		// The engines' profile refuses with its default errno; a runsc
		// that predates OCI errnoRet answers every rule with EPERM.
		want = append(want, "err:EPERM")
	}
	for _, k := range refused {
		w := want
		if strings.HasPrefix(k, "udplite") && s.opts.Sentry != nil {
			// The Sentry has no UDP-Lite: its netstack answers
			// EPROTONOSUPPORT (with no network) or EAFNOSUPPORT
			w = append(slices.Clone(w), "err:EPROTONOSUPPORT")
		}
		if !contains(w, p[k]) {
			t.Errorf("socket %s: %q, want %s", k, p[k], strings.Join(want, " or "))
		}
	}
	// Had a vsock socket been made, neither bind nor connect may succeed.
	if p["vsock"] == "ok" {
		p.wantErr(t, "vsock_bind", "vsock_connect")
	} else if p["vsock_bind"] != "no socket" || p["vsock_connect"] != "no socket" {
		t.Errorf("vsock bind %q connect %q without a socket", p["vsock_bind"], p["vsock_connect"])
	}
	for _, k := range []string{"inet", "inet6", "unix_pair", "unix", "netlink_route"} {
		if p[k] != "ok" {
			t.Errorf("%s: %q, want ok (a family the run needs)", k, p[k])
		}
	}
	if p["ifaces"] != "ok:lo" {
		t.Errorf("if_nameindex (netlink route): %q, want ok:lo", p["ifaces"])
	}

	if s.reportOff() {
		t.Log("no behaviour report to check (Options.NoReport or MOAT_EVENTS=off)")
		return
	}
	// The attempts reach the report.
	seen := map[moat.Source]map[string]bool{} // source -> family
	for _, e := range res.Events {
		if e.Kind != "socket" {
			continue
		}
		if seen[e.Source] == nil {
			seen[e.Source] = map[string]bool{}
		}
		seen[e.Source][e.Name] = true
		switch {
		case (e.Name == "AF_INET" || e.Name == "AF_INET6") && (strings.Contains(e.Detail, "136") || strings.Contains(e.Detail, "UDPLITE")):
			seen[e.Source]["udplite"] = true // a refused protocol of an allowed family
		case e.Name == "AF_UNIX", e.Name == "AF_INET", e.Name == "AF_INET6":
			t.Errorf("an allowed family was recorded as refused: %+v", e)
		}
	}
	// (gVisor records only a refused family: UDP-Lite, which it lacks,
	// leaves no event, and nothing is sent)
	if s.opts.Sentry == nil && !seen["audit"]["udplite"] && !seen["kernel"]["udplite"] {
		t.Errorf("no socket event for UDP-Lite (events %v)", seen)
	}
	for _, fam := range []string{"AF_VSOCK", "AF_PACKET", "AF_ALG", "AF_NETLINK"} {
		if !seen["audit"][fam] && !seen["kernel"][fam] {
			t.Errorf("no socket event for %s (events %v)", fam, seen)
		}
	}
	if s.opts.Container == nil && s.opts.Sentry == nil {
		// Native: the kernel's witness, which the program cannot switch
		// off and which also saw the raw syscalls.
		for _, fam := range []string{"AF_VSOCK", "AF_PACKET", "AF_ALG", "AF_XDP", "AF_NETLINK"} {
			if !seen["kernel"][fam] {
				t.Errorf("no kernel socket event for %s (events %v)", fam, seen)
			}
		}
	}
	high := false
	for _, f := range res.Findings {
		high = high || (f.Category == "network" && f.Severity == "high" && strings.Contains(f.Summary, "AF_VSOCK"))
	}
	if !high {
		t.Errorf("no high network finding naming AF_VSOCK: %+v", res.Findings)
	}
}

func testSignalHost(t *testing.T, s *suite) {
	spec := s.py(pyProbe + `
import signal
for k in ['HOST_PID', 'HOST_PPID']:
    R[k] = attempt(os.kill, int(os.environ[k]), 0)
R['cont'] = attempt(os.kill, int(os.environ['HOST_PID']), signal.SIGCONT)
done()`)
	spec.Env = []string{"HOST_PID=" + strconv.Itoa(os.Getpid()), "HOST_PPID=" + strconv.Itoa(os.Getppid())}
	res := s.run(t, spec)
	var p probes
	report(t, res, &p)
	for _, k := range []string{"HOST_PID", "HOST_PPID", "cont"} {
		if p[k] != "err:ESRCH" {
			t.Errorf("kill(%s): %q, want err:ESRCH (ProcessLookupError: host pids are invisible)", k, p[k])
		}
	}
}

func testInheritedFDs(t *testing.T, s *suite) {
	secret := "moat-fd-secret-" + randomID()
	p := filepath.Join(t.TempDir(), "leak")
	if err := os.WriteFile(p, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	fd, closeFD, err := leakFD(p)
	if err != nil {
		t.Skipf("cannot make an inheritable descriptor here: %v", err)
	}
	defer closeFD()
	spec := s.py(pyProbe + `
R['fds'] = ','.join(sorted(os.listdir('/proc/self/fd'), key=int))
R['leaked'] = attempt(os.fstat, int(os.environ['LEAKED_FD']))
opened = []
for n in range(3, 4096):
    try:
        os.fstat(n)
        opened.append(str(n))
    except OSError:
        pass
R['open'] = ','.join(opened)
done()`)
	spec.Env = []string{"LEAKED_FD=" + strconv.Itoa(fd)}
	res := s.run(t, spec)
	var pr probes
	report(t, res, &pr)
	if strings.Contains(res.Stdout, secret) {
		t.Error("the program read the leaked descriptor")
	}
	for _, f := range strings.Split(pr["fds"], ",") {
		// listdir holds one descriptor (3) of its own while it reads.
		if f != "0" && f != "1" && f != "2" && f != "3" {
			t.Errorf("descriptor %s is open in the program (all: %s)", f, pr["fds"])
		}
	}
	if pr["open"] != "" {
		t.Errorf("descriptors beyond stdio are open: %s", pr["open"])
	}
	if pr["leaked"] != "err:EBADF" {
		t.Errorf("the test process's inheritable descriptor %d: %q, want err:EBADF", fd, pr["leaked"])
	}
}

func testCapabilities(t *testing.T, s *suite) {
	res := s.run(t, s.py(`import json
st = {}
for line in open('/proc/self/status'):
    k, _, v = line.partition(':')
    st[k] = v.strip()
print(json.dumps(st))`))
	var st map[string]string
	report(t, res, &st)
	for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"} {
		if k == "CapAmb" && st[k] == "" && s.opts.Sentry != nil {
			continue // a Sentry that has no ambient set does not list it
		}
		if v := st[k]; strings.Trim(v, "0") != "" || v == "" {
			t.Errorf("%s = %q, want all zero", k, v)
		}
	}
	if st["NoNewPrivs"] != "1" && !(st["NoNewPrivs"] == "" && s.opts.Sentry != nil) {
		t.Errorf("NoNewPrivs = %q, want 1", st["NoNewPrivs"])
	}
	if st["Seccomp"] != "2" {
		t.Errorf("Seccomp = %q, want 2 (filter)", st["Seccomp"])
	}
}

func testUID(t *testing.T, s *suite) {
	res := s.run(t, s.py(pyProbe+`
R['uid'] = '%d %d %d' % os.getresuid()
R['gid'] = '%d %d %d' % os.getresgid()
R['groups'] = ','.join(map(str, os.getgroups()))
R['setuid0'] = attempt(os.setuid, 0)
R['setgid0'] = attempt(os.setgid, 0)
R['setgroups'] = attempt(os.setgroups, [0])
done()`))
	var p probes
	report(t, res, &p)
	if s.opts.NonRoot {
		return // the program may be uid 0 of its own namespace, with no capabilities
	}
	for _, k := range []string{"uid", "gid"} {
		for _, id := range strings.Fields(p[k]) {
			if id == "0" {
				t.Errorf("%s inside is %q: the program runs as root", k, p[k])
			}
		}
	}
	for _, g := range strings.Split(p["groups"], ",") {
		if g == "0" {
			t.Errorf("the program is in group 0: %q", p["groups"])
		}
	}
	p.wantErr(t, "setuid0", "setgid0", "setgroups")
}

// testNoSuid: no set-uid binary can grant anything: no_new_privs is set
// (see capabilities) and every mount the program can reach is nosuid.
func testNoSuid(t *testing.T, s *suite) {
	if s.opts.Sentry != nil {
		t.Skip("the Sentry reports no mount flags and never honours set-uid bits (runsc without --allow-suid)")
	}
	res := s.run(t, s.py(pyProbe+`
for p in ['/', os.path.dirname(sys.executable), sys.prefix, os.getcwd(), '/tmp']:
    try:
        R[p] = str(bool(os.statvfs(p).f_flag & os.ST_NOSUID))
    except Exception as e:
        R[p] = _e(e)
R['bindir'], R['prefix'] = os.path.dirname(sys.executable), sys.prefix
done()`))
	var p probes
	report(t, res, &p)
	if c := s.opts.Container; c != nil && c.SuidRoot {
		for _, k := range []string{"/", p["bindir"], p["prefix"]} {
			delete(p, k)
		}
	}
	for k, v := range p {
		if k == "bindir" || k == "prefix" {
			continue
		}
		if v != "True" && !strings.HasPrefix(v, "err:ENOENT") {
			t.Errorf("%s is not mounted nosuid: %q", k, v)
		}
	}
}

func testOOMScoreAdj(t *testing.T, s *suite) {
	if s.opts.Sentry != nil {
		t.Skip("oom_score_adj inside is the Sentry's own bookkeeping; the host's OOM killer never reads it")
	}
	res := s.run(t, s.py(pyProbe+`
R['before'] = tryread('/proc/self/oom_score_adj').strip()
R['lower'] = trywrite('/proc/self/oom_score_adj', '-1000')
R['after'] = tryread('/proc/self/oom_score_adj').strip()
done()`))
	var p probes
	report(t, res, &p)
	p.wantErr(t, "lower")
	if p["after"] != p["before"] {
		t.Errorf("oom_score_adj changed from %q to %q", p["before"], p["after"])
	}
}

func testHostname(t *testing.T, s *suite) {
	hostBefore, _ := os.Hostname()
	res := s.run(t, s.py(pyProbe+`
import ctypes, socket
R['hostname'] = socket.gethostname()
R['uname'] = os.uname().nodename
libc = ctypes.CDLL(None, use_errno=True)
r = libc.sethostname(b'pwned', 5)
R['sethostname'] = 'ok' if r == 0 else 'err:' + errno.errorcode.get(ctypes.get_errno(), '?')
done()`))
	var p probes
	report(t, res, &p)
	// moat's own name, or a persona's (native): never the host's.
	if p["hostname"] == "" || p["hostname"] != p["uname"] || p["hostname"] == hostBefore {
		t.Errorf("hostname inside is %q (uname %q), host %q", p["hostname"], p["uname"], hostBefore)
	}
	p.wantErr(t, "sethostname")
	if h, _ := os.Hostname(); h != hostBefore {
		t.Errorf("the host's name changed from %q to %q", hostBefore, h)
	}
}

// testKillInit: the program cannot end the sandbox early by killing its
// pid 1; it keeps running and exits by itself. Where a runtime lets the
// signal through (gVisor as Docker's runtime: SIGKILL reaches pid 1 from
// inside), the run must fail closed: an error, and a finding that says
// the init was killed.
func testKillInit(t *testing.T, s *suite) {
	res, err := s.runOrErr(t, s.py(pyProbe+`
import signal, time
R['kill1'] = attempt(os.kill, 1, signal.SIGKILL)
R['term1'] = attempt(os.kill, 1, signal.SIGTERM)
# Every other signal too (not SIGSTOP): an init written in Go dies of a
# user-sent SIGSEGV or SIGQUIT unless it says otherwise, and on Linux 6.1
# of 32 or 34 (left at their default by Go's runtime) sent while its
# thread had them blocked, as right after a signal it handles.
for n in range(1, 65):
    if n not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGTERM):
        attempt(os.kill, 1, n)
# The signals pid 1 leaves at their default action (the kernel's view),
# and its threads.
try:
    m = 0
    for l in open('/proc/1/status'):
        if l.startswith(('SigCgt:', 'SigIgn:')):
            m |= int(l.split()[1], 16)
        if l.startswith('Threads:'):
            R['threads'] = l.split()[1]
    R['default'] = ','.join(str(n) for n in range(1, 65) if not m >> (n - 1) & 1 and n not in (9, 19))
except Exception as e:
    R['default'] = 'err:' + type(e).__name__
time.sleep(0.5)
R['alive'] = 'yes'
done()`))
	if s.opts.Sentry != nil && res.Status == moat.StatusSignaled && res.Signal == 9 {
		return // the program is pid 1 of its own kernel: it killed only itself
	}
	if err != nil || res.Status == moat.StatusError {
		if res.Status != moat.StatusError || !hasFinding(res, "evasion", "killed the sandbox's init") {
			t.Fatalf("the init died (err %v) without failing closed with a finding: status %s, findings %+v", err, res.Status, res.Findings)
		}
		return
	}
	var p probes
	report(t, res, &p)
	if p["alive"] != "yes" {
		t.Errorf("the program did not survive killing pid 1: %v", p)
	}
	// A signal left at its default can kill a namespace's init of more
	// than one thread that has it blocked on one for a moment (Linux 6.1;
	// see internal/sandbox/pid1). A single-threaded init (the containers' Python
	// bootstrap) drops it when it unblocks it.
	if s.opts.Sentry == nil && p["threads"] != "1" && p["default"] != "" {
		t.Errorf("pid 1 leaves signals %s at their default action", p["default"])
	}
}

// testTokensInMemory: the program's memory, which it may read whole
// (/proc/self/mem), holds no honeytoken before it reads a planted file:
// one found there tells it which credentials are bait (and, where its
// memory is a copy of a pool's process, one run's tokens would be
// another's). It hashes every AWS secret key it finds in its readable
// mappings, then the one in its ~/.aws/credentials, and compares.
func testTokensInMemory(t *testing.T, s *suite) {
	if s.reportOff() {
		t.Log("no behaviour report, no honeytokens (Options.NoReport or MOAT_EVENTS=off)")
		return
	}
	res := s.run(t, s.py(pyProbe+`
import hashlib, re
pat = re.compile(rb"aws_secret_access_key\s*=\s*([A-Za-z0-9/+]{40})")
found, regions = set(), 0
def scan():
    global regions
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", buffering=0) as mem:
        for line in maps:
            f = line.split()
            if "r" not in f[1] or line.rstrip().endswith(("[vvar]", "[vsyscall]", "[vvar_vclock]")):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            try:
                mem.seek(lo)
                b = mem.read(hi - lo)
            except (OSError, OverflowError, ValueError):
                continue
            regions += 1
            found.update(hashlib.sha256(m.group(1)).hexdigest() for m in pat.finditer(b))
R['scan'] = attempt(scan)
R['regions'] = 'ok' if regions else 'none'
def own():
    m = pat.search(open(os.path.expanduser("~/.aws/credentials"), "rb").read())
    if not m:
        raise RuntimeError("no key in the file")
    return "in memory before the read" if hashlib.sha256(m.group(1)).hexdigest() in found else "absent"
R['own'] = attempt(own)
done()`))
	var p probes
	report(t, res, &p)
	if p["scan"] != "ok" || p["regions"] != "ok" {
		t.Skipf("the program could not read its own memory here (scan %q, regions %q)", p["scan"], p["regions"])
	}
	if strings.HasPrefix(p["own"], "err:") {
		t.Skipf("no AWS key planted where the probe looks: %s", p["own"])
	}
	if p["own"] != "ok:absent" {
		t.Errorf("the run's own honeytoken: %q, want it absent from the program's memory before the program reads the file", p["own"])
	}
}
