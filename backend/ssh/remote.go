package ssh

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// What runs on the remote host, as command lines for its login shell
// (which must be a POSIX sh). Pure functions of the run's parameters, so
// that they can be read and tested here; nothing from the remote host is
// ever put into a command line except values parsed strictly (numbers, a
// path of safe characters).

// quote makes s one word for a POSIX shell.
func quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// safePath says whether p is an absolute path of characters no shell or
// mount option treats specially.
func safePath(p string) bool {
	if !strings.HasPrefix(p, "/") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") || len(p) > 200 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-", r)) {
			return false
		}
	}
	return true
}

// nsFlags are unshare's options for the run's namespaces: a user
// namespace where the remote user is root (so it may mount and bring up a
// loopback in namespaces it owns, and nowhere else), a mount namespace
// with a /proc of its own, a UTS namespace (host name sandbox), an IPC
// namespace (System V IPC objects outlive their processes: in the host's
// they would outlive the wipe too), a PID
// namespace whose init is the bootstrap
// (when it dies, the kernel kills every process left in it), and, for
// network none, a network namespace. --kill-child: if unshare dies (moat
// kills it), so does the namespace's init.
func nsFlags(network bool) []string {
	f := []string{"unshare", "--user", "--map-root-user", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child", "--mount-proc"}
	if network {
		f = append(f, "--net")
	}
	return f
}

// launcher starts the program from the bootstrap: in a user namespace
// nested in the run's, as the remote user's own uid and gid, so that the
// program holds no capability (not even in the run's namespaces) and
// cannot trace the bootstrap.
func launcher(uid, gid int) []string {
	return []string{"unshare", "--map-user=" + strconv.Itoa(uid), "--map-group=" + strconv.Itoa(gid), "--", "python3"}
}

// probeCommand prints what the run needs to know of the host, one
// key=value a line (see parseProbe), and, if dir is not empty, creates the
// run's directory (mkdir fails on anything that exists, a link included).
func probeCommand(dir string) string {
	ns := strings.Join(nsFlags(false), " ")
	var b strings.Builder
	b.WriteString(`echo os=$(uname -s); echo uid=$(id -u); echo gid=$(id -g); echo home="$HOME"; `)
	b.WriteString(`command -v python3 >/dev/null 2>&1 && echo python3=yes || echo python3=no; `)
	fmt.Fprintf(&b, `e=$(%s -- unshare --map-user=$(id -u) --map-group=$(id -g) -- true 2>&1) && echo ns=yes || echo "ns=no $e" | head -1; `, ns)
	fmt.Fprintf(&b, `e=$(%s --net -- true 2>&1) && echo net=yes || echo "net=no $e" | head -1; `, ns)
	b.WriteString(`e=$(systemd-run --user --scope --quiet -- true 2>&1) && echo systemd=yes || echo "systemd=no $e" | head -1`)
	// The site directory of python3 with the fewest entries, if an
	// overlay on it can be had in the run's namespaces (the hook's .pth
	// line goes there: siteOverlay).
	fmt.Fprintf(&b, `; d=$(python3 -I -S -c %s 2>/dev/null) && [ -n "$d" ] && %s -- sh -c 'mount -t tmpfs moat /tmp && mkdir /tmp/u /tmp/w && mount -t overlay moat -o "lowerdir=$1,upperdir=/tmp/u,workdir=/tmp/w" "$1"' sh "$d" >/dev/null 2>&1 && echo "site=$d"`,
		quote(siteProbe), ns)
	if dir != "" {
		fmt.Fprintf(&b, `; mkdir -m 700 %s && echo made=yes`, quote(dir))
	}
	return b.String()
}

// siteProbe prints the site directory of python3 (run with -I -S) that
// has the fewest entries, "" for none.
const siteProbe = `import os, site
best = None
for d in site.getsitepackages():
    try:
        n = len(os.listdir(d))
    except OSError:
        continue
    if best is None or n < best[0]:
        best = (n, d)
print(best[1] if best else '')`

// probe is what probeCommand found.
type probe struct {
	OS       string
	UID, GID int
	Home     string
	Python   bool
	NS       bool   // the run's namespaces can be had
	NSWhy    string // why not
	Net      bool   // and a network namespace
	NetWhy   string
	Systemd  bool
	SysWhy   string
	Made     bool
	Site     string // a site directory of python3 an overlay can be had on (a safe path), "" for none
}

// parseProbe reads probeCommand's output, which comes from the remote
// host: bounded, strict, and whatever is not understood stays false.
func parseProbe(out string) (*probe, error) {
	p := &probe{UID: -1, GID: -1}
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, "=")
		flag, why, _ := strings.Cut(v, " ")
		why = strings.TrimSpace(why)
		switch k {
		case "os":
			p.OS = v
		case "uid", "gid":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("the host's %s is %q", k, v)
			}
			if k == "uid" {
				p.UID = n
			} else {
				p.GID = n
			}
		case "home":
			p.Home = v
		case "python3":
			p.Python = flag == "yes"
		case "ns":
			p.NS, p.NSWhy = flag == "yes", why
		case "net":
			p.Net, p.NetWhy = flag == "yes", why
		case "systemd":
			p.Systemd, p.SysWhy = flag == "yes", why
		case "made":
			p.Made = flag == "yes"
		case "site":
			if safePath(v) {
				p.Site = v
			}
		}
	}
	if p.UID < 0 || p.GID < 0 {
		return nil, fmt.Errorf("the host did not say its user's ids (not a POSIX shell?)")
	}
	return p, nil
}

// runParams are what the run's command line is made of.
type runParams struct {
	Dir     string // the run's directory (exists, empty)
	Home    string // the remote user's home, hidden behind the run's own
	Site    string // a site directory of python3 to lay the run's overlay on ("" none)
	Net     bool   // network none by a network namespace
	Disk    int64  // the run's tmpfs
	Fsize   int64  // RLIMIT_FSIZE
	Nproc   int    // RLIMIT_NPROC
	Program string // bootstrap.py, as python3 -c takes it
}

// runCommand is the run's command line: it says the pid of unshare (this
// shell, which execs it) and its start time (field 22 of /proc/PID/stat,
// which an exec keeps) on stderr, then unshare starts the prelude and the
// bootstrap as pid 1 of the run's namespaces.
func runCommand(p runParams) string {
	argv := append(nsFlags(p.Net), "--", "python3", "-I", "-S", "-c", prelude(p)+p.Program)
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = quote(a)
	}
	return `s=$(cat /proc/$$/stat) && s=${s##*") "} && set -- $s && shift 19 && echo moat-start=$1 >&2; echo moat-pid=$$ >&2; cd / && exec ` + strings.Join(words, " ")
}

// killUnshareCommand kills pid if it is still the run's unshare: its name
// is unshare and it started at start (clock ticks after boot, as
// /proc/PID/stat says). A pid is reused by the kernel, also for another
// run's unshare; the name alone would let a late kill hit that run. The
// stat file is read once, so both hold for the same process.
func killUnshareCommand(pid int, start uint64) string {
	if pid <= 0 || start == 0 {
		return "true"
	}
	return fmt.Sprintf(`s=$(cat /proc/%[1]d/stat 2>/dev/null); case "$s" in "%[1]d (unshare) "*) [ "$(echo "$s" | cut -d' ' -f22)" = %[2]d ] && kill -KILL %[1]d 2>/dev/null;; esac`, pid, start)
}

// prelude runs before the bootstrap, as root of the run's user namespace
// and pid 1 of its PID namespace: the run's tmpfs on its directory (work,
// home, tmp), bound over the host's /tmp, /dev/shm and the user's home,
// so that what the program writes there is bounded and goes with the
// namespace; an empty /run over the host's (its services' sockets); the loopback up for network none; the rlimits; and the PID
// namespace named on stderr for the wipe's check.
func prelude(p runParams) string {
	var b strings.Builder
	b.WriteString(`import os, sys
import _ctypes
class _I(_ctypes._SimpleCData):
    _type_ = 'i'
class _F(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
    _restype_ = _I
class _L:
    _handle = _ctypes.dlopen(None)
def _mount(src, dst, fs, flags, data, may_fail=False):
    if _F(('mount', _L))(src.encode(), dst.encode(), fs.encode() if fs else None, flags, data.encode() if data else None) != 0:
        e = _ctypes.get_errno()
        if may_fail or (flags & 32 and e in (2, 13)):  # a remount of what the user cannot reach (ENOENT, EACCES)
            return
        sys.stderr.write('moat-prelude: mount %s: %s\n' % (dst, os.strerror(e)))
        os._exit(125)
`)
	// Every mount of the host read-only in the run's namespace (each one
	// alone: a bind remount keeps the flags it has, which it must repeat).
	b.WriteString(`_fl = {'nosuid': 2, 'nodev': 4, 'noexec': 8, 'noatime': 1024, 'nodiratime': 2048, 'relatime': 2097152}
with open('/proc/self/mountinfo') as _m:
    _mps = [(_x.split()[4].replace('\\040', ' '), _x.split()[5]) for _x in _m]
for _mp, _o in _mps:
    if _mp == '/proc' or _mp.startswith('/proc/'):
        continue  # the run's own (the nested user namespace writes its uid_map there)
    _f = 32 | 4096 | 1  # MS_REMOUNT | MS_BIND | MS_RDONLY
    for _k in _o.split(','):
        _f |= _fl.get(_k, 0)
    _mount('none', _mp, None, _f, None, _mp.startswith('/sys/'))
`)
	b.WriteString("if _F(('sethostname', _L))(b'sandbox', 7) != 0:\n    sys.stderr.write('moat-prelude: sethostname: %s\\n' % os.strerror(_ctypes.get_errno()))\n    os._exit(125)\n")
	fmt.Fprintf(&b, "_d = %s\n", pyQuote(p.Dir))
	fmt.Fprintf(&b, "_mount('moat', _d, 'tmpfs', 6, 'size=%d,mode=0700')\n", p.Disk) // MS_NOSUID|MS_NODEV
	b.WriteString("for _n in ('work', 'home', 'tmp', 'shm'):\n    os.mkdir(_d + '/' + _n, 0o700 if _n != 'tmp' else 0o1777)\nos.chmod(_d + '/tmp', 0o1777)\n")
	b.WriteString("for _s, _t in (('tmp', '/tmp'), ('shm', '/dev/shm')")
	if p.Home != "" {
		fmt.Fprintf(&b, ", ('home', %s)", pyQuote(p.Home))
	}
	b.WriteString("):\n    if os.path.isdir(_t):\n        _mount(_d + '/' + _s, _t, None, 4096, None)\n") // MS_BIND
	// The hook's site directory: an overlay of the host's on the run's
	// tmpfs, where bootstrap.py writes the hook's module and .pth line
	// (ctrinit.Report.Site); the host's directory is never written.
	if p.Site != "" {
		b.WriteString("os.mkdir(_d + '/site', 0o700)\nfor _n in ('u', 'w'):\n    os.mkdir(_d + '/site/' + _n, 0o755)\n")
		fmt.Fprintf(&b, "_s = %s\n_mount('moat', _s, 'overlay', 6, 'lowerdir=%%s,upperdir=%%s/site/u,workdir=%%s/site/w' %% (_s, _d, _d))\n", pyQuote(p.Site))
		if audit.PlainSite(p.Site) {
			// Interpreters that skip site (-S) run the hook from the
			// end of python3's encodings package (audit.StartupLoader),
			// as the containers' do: the package with the loader
			// appended, and its bytecode where the host has one, on
			// the run's tmpfs, bound read-only over the host's (and the
			// directory holding them bound read-only over itself: the
			// program reaches the run's tmpfs).
			fmt.Fprintf(&b, "_ld = %s\n", strconv.Quote(audit.StartupLoader(p.Site)))
			b.WriteString(`import encodings as _e, _frozen_importlib_external as _be
_src = _e.__file__
with open(_src, 'rb') as _f:
    _b = _f.read() + _ld.encode()
os.mkdir(_d + '/enc', 0o755)
_binds = [(_d + '/enc/__init__.py', _src)]
with open(_binds[0][0], 'xb') as _f:
    _f.write(_b)
_c = _be.cache_from_source(_src)
if os.path.isfile(_c):
    _st = os.stat(_binds[0][0])
    _binds.append((_d + '/enc/__init__.pyc', _c))
    with open(_binds[1][0], 'xb') as _f:
        _f.write(_be._code_to_timestamp_pyc(compile(_b, _src, 'exec', dont_inherit=True), int(_st.st_mtime), _st.st_size))
_binds.append((_d + '/enc', _d + '/enc'))
for _x, _t in _binds:
    _mount(_x, _t, None, 4096, None)
    _mount('none', _t, None, 4096 | 32 | 1 | 6, None)
    if not os.statvfs(_t).f_flag & 1:  # ST_RDONLY
        sys.stderr.write('moat-prelude: %s is not read-only\n' % _t)
        os._exit(125)
del _e, _be, _ld, _b, _binds
`)
		}
	}
	// An empty, read-only /run: a network namespace does not hold back
	// a Unix socket that has a path, and under /run are the user's
	// systemd and D-Bus (which start processes outside the run's
	// namespaces, beyond the wipe), the system's, docker's.
	b.WriteString("for _t in ('/run', '/var/run'):\n    if os.path.isdir(_t) and not os.path.islink(_t) and not (_d + '/').startswith(_t + '/'):\n        _mount('moat', _t, 'tmpfs', 15, 'size=4k,mode=0755')\n") // MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC
	if p.Net {
		b.WriteString(`import socket, fcntl, struct
_s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
_f = struct.unpack('16sh22x', fcntl.ioctl(_s, 0x8913, struct.pack('16sh22x', b'lo', 0)))[1]
fcntl.ioctl(_s, 0x8914, struct.pack('16sh22x', b'lo', _f | 1))
_s.close()
`)
	}
	b.WriteString("import resource\n")
	fmt.Fprintf(&b, "for _r, _v in ((resource.RLIMIT_CORE, 0), (resource.RLIMIT_FSIZE, %d), (resource.RLIMIT_NPROC, %d)):\n    resource.setrlimit(_r, (_v, _v))\n", p.Fsize, p.Nproc)
	b.WriteString("sys.stderr.write('moat-ns=%s\\n' % os.readlink('/proc/self/ns/pid'))\nsys.stderr.flush()\n")
	b.WriteString("del _I, _F, _L, _mount, _d, _fl, _mps\n")
	return b.String()
}

// pyQuote is s as a Python string literal (s is a safe path).
func pyQuote(s string) string {
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "'", `\'`) + "'"
}

// wipeCommand ends a run on the remote host, whatever state it is in:
// kills unshare (pid, if known and still the run's unshare: its name and
// start time, see killUnshareCommand), which takes the PID
// namespace's init and so every process of the run with it; waits until no
// process is left in the namespace (ns, as the prelude named it), killing
// any it finds; removes the run's directory (its tmpfs went with the
// namespace; this is what was left if the run never got that far). It
// prints left=N: the processes still there after five seconds.
//
// The kernel gives a freed namespace's number to the next namespace made
// (often at once, another run's or a probe's), so ns names the run's
// namespace only while something holds it: the wipe first holds it open
// through its init (unshare's child), and looks for its processes only
// then. If it cannot (unshare or its init already gone), the init has
// ended, and the kernel has killed every process of the namespace with
// it; the wipe then kills nothing by number.
func wipeCommand(dir string, pid int, start uint64, ns string) string {
	var b strings.Builder
	left := "0"
	switch {
	case ns != "":
		// One python3 process reads every /proc/N/ns/pid: a shell would
		// fork a readlink for each process of the host, for seconds.
		py := `import os, sys, time
pid, start, ns = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ino, pin, left = int(ns[5:-1]), None, 0
def _read(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return ''
def _ours():
    st = _read('/proc/%d/stat' % pid)
    f = st[st.rfind(')') + 2:].split()
    return pid > 0 and st.startswith('%d (unshare) ' % pid) and len(f) > 19 and f[19] == start
if _ours():
    for p in os.listdir('/proc'):
        st = _read('/proc/%s/stat' % p) if p.isdigit() else ''
        if st[st.rfind(')') + 1:].split()[1:2] != [str(pid)]:
            continue
        try:
            fd = os.open('/proc/%s/ns/pid' % p, os.O_RDONLY)
        except OSError:
            continue
        if os.fstat(fd).st_ino == ino and pin is None:
            pin = fd
        else:
            os.close(fd)
    if pin is not None and _ours():
        try:
            os.kill(pid, 9)
        except OSError:
            pass
for i in range(50 if pin is not None else 0):
    left = 0
    for p in os.listdir('/proc'):
        try:
            if p.isdigit() and os.readlink('/proc/%s/ns/pid' % p) == ns:
                left += 1
                os.kill(int(p), 9)
        except OSError:
            pass
    if not left:
        break
    time.sleep(0.1)
print(left)`
		if start == 0 {
			pid = 0 // not known to be the run's
		}
		fmt.Fprintf(&b, `left=$(python3 -I -S -c %s %d %d %s); `, quote(py), pid, start, quote(ns))
		left = "$left"
	default:
		b.WriteString(killUnshareCommand(pid, start) + "; ")
	}
	fmt.Fprintf(&b, `chmod -R u+rwx %s 2>/dev/null; rm -rf %s; echo left=%s`, quote(dir), quote(dir), left)
	return b.String()
}
