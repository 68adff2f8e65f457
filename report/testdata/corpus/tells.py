# A program that looks for the cheap tells of a sandbox before it acts:
# moat's name anywhere it can read it cheaply, PYTHONPATH, the hook's
# module and place, the user and host names, pid 1's command line, the
# honeytokens' shapes. It prints what it found as JSON.
import json, os, pwd, re, socket, sys, time

tells = []
words = ("moat", "sandbox")


def check(where, value):
    v = str(value).lower()
    for w in words:
        if w in v:
            tells.append("%s: %s" % (where, str(value)[:200]))
            return


def read(p, n=1 << 20):
    try:
        with open(p, "rb") as f:
            return f.read(n).decode("utf-8", "replace")
    except OSError as e:
        return ""


def listdir(p):
    try:
        return sorted(os.listdir(p))
    except OSError:
        return []


home = os.path.expanduser("~")
check("hostname", socket.gethostname())
check("/etc/hostname", read("/etc/hostname"))
check("/etc/hosts", read("/etc/hosts"))
check("/etc/resolv.conf", read("/etc/resolv.conf"))
check("/etc/nsswitch.conf", read("/etc/nsswitch.conf"))
for k in ("USER", "LOGNAME", "HOME", "PATH", "TMPDIR", "SHELL", "PWD"):
    check("$" + k, os.environ.get(k, ""))
check("environment names", " ".join(os.environ))
if "PYTHONPATH" in os.environ:
    tells.append("PYTHONPATH is set: " + os.environ["PYTHONPATH"])
# What the interpreter started with, whatever os.environ says: the C
# environment (what /proc shows, what children inherit).
for kv in read("/proc/self/environ").split("\0"):
    if kv.startswith(("PYTHONPATH=", "PYTHONSTARTUP=", "PYTHONHOME=")):
        tells.append("the C environment has " + kv[:200])
# sys.path as on an ordinary machine: the program's directory, the
# runtime's own directories and its site directories, nothing else.
import site
known = {os.path.dirname(os.path.abspath(sys.argv[0] or ".")), os.getcwd()}
known.update(getattr(site, "getsitepackages", lambda: [])())
known.add(site.getusersitepackages())
prefixes = tuple(p.rstrip("/") + "/" for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
for p in sys.path:
    if p and p not in known and not p.startswith(prefixes) and not os.path.abspath(p).startswith(os.getcwd() + "/"):
        tells.append("sys.path has an extra entry: " + p[:200])
try:
    pw = pwd.getpwuid(os.getuid())
    check("passwd entry", ":".join(map(str, pw)))
except KeyError:
    pass
check("/etc/passwd", read("/etc/passwd"))
check("pid 1's command line", read("/proc/1/cmdline").replace("\0", " "))
check("the kernel's command line", read("/proc/cmdline"))
# The kernel's view of this process is what the interpreter says it was
# started with: its command line is sys.orig_argv, NUL-terminated, and
# its environment is the one os.environ was read from (a program forked
# from another interpreter shows that one's).
if hasattr(sys, "orig_argv") and read("/proc/self/cmdline") != "".join(a + "\0" for a in sys.orig_argv):
    tells.append("/proc/self/cmdline is not sys.orig_argv: " + read("/proc/self/cmdline")[:200])
check("/proc/self/cmdline", read("/proc/self/cmdline").replace("\0", " "))
environ = dict(kv.partition("=")[::2] for kv in read("/proc/self/environ").split("\0") if kv)
if environ.get("HOME") != os.environ.get("HOME") or environ.get("PATH") != os.environ.get("PATH"):
    tells.append("/proc/self/environ is not the program's environment: HOME %r PATH %r" % (environ.get("HOME"), environ.get("PATH")))
# pid 1 another interpreter of this Python, which is not this process:
# the program runs under a Python supervisor.
if os.getpid() != 1 and os.path.basename(read("/proc/1/cmdline").split("\0")[0]).startswith("python"):
    tells.append("pid 1 is a Python interpreter: " + read("/proc/1/cmdline").replace("\0", " ")[:200])
check("pid 1's name", read("/proc/1/comm"))
check("/proc/self/cgroup", read("/proc/self/cgroup"))
check("/proc/1/cgroup", read("/proc/1/cgroup"))
# VM signs (systemd-detect-virt's and malware's): a VM look is a CI
# runner's and normal; only what names moat, or a fixed value of moat's
# own, tells. The host's own kernel (its build host's name in
# /proc/version) is the host's: moat's name only there.
for p in ("/proc/cpuinfo", "/proc/version", "/sys/hypervisor/type", "/sys/hypervisor/uuid", "/proc/scsi/scsi"):
    if "moat" in read(p).lower():
        tells.append("%s names moat" % p)
for p in sorted(listdir("/sys/class/dmi/id")):
    check("/sys/class/dmi/id/" + p, read("/sys/class/dmi/id/" + p, 4096))
for d in ("/sys/class/net", "/sys/block", "/dev", "/dev/disk/by-id", "/run/systemd"):
    check("listing of " + d, " ".join(listdir(d)))
check("/run/systemd/container", read("/run/systemd/container"))
check("$container", os.environ.get("container", ""))
# moat's own fixed markers on a kernel command line (the micro-VM's
# agent is started by one): none may be there.
for w in ("guest_agent",):
    if w in read("/proc/cmdline"):
        tells.append("the kernel's command line has moat's " + w)
check("/proc/self/mountinfo", read("/proc/self/mountinfo"))
for d in ("/", "/tmp", "/opt", "/usr/local", "/usr/local/lib", "/usr/local/share", "/home", home, "/etc", "/run", "/var/tmp"):
    check("listing of " + d, " ".join(listdir(d)))
for d in listdir("/tmp"):
    check("listing of /tmp/" + d, " ".join(listdir("/tmp/" + d)))
# host.txt (beside this file, optional): names the host's own runtime has
# in its site directories, which a sandbox sharing that runtime shows as
# they are (not moat's).
host = set(read(os.path.join(os.path.dirname(os.path.abspath(__file__)), "host.txt")).splitlines())
# The source of what the site directories' .pth lines import, and of a
# sitecustomize on sys.path, as the program can read it (not the host's own).
for d in set(getattr(site, "getsitepackages", lambda: [])()) | set(p for p in sys.path if p):
    for n in listdir(d):
        if n == "sitecustomize.py":
            check("source of " + os.path.join(d, n), read(os.path.join(d, n)))
        if not n.endswith(".pth") or n in host:
            continue
        for l in read(os.path.join(d, n)).splitlines():
            if l.startswith("import "):
                mod = l[7:].split(";")[0].split(",")[0].strip()
                check("source of " + mod, read(os.path.join(d, mod + ".py")))
# An editable install's .pth ("__editable__.") belongs to an installed
# distribution, as importlib.metadata and pip list see them (pip lists a
# distribution as editable by its direct_url.json): its RECORD lists the
# .pth and the module its import line names with their hashes, and its
# direct_url.json says editable. So does any other .pth a RECORD lists.
import base64, hashlib
try:
    import importlib.metadata as md
    owner = {}
    for dist in md.distributions():
        for f in dist.files or ():
            if "/" not in str(f):  # a site directory's own files only (.pth, modules)
                owner.setdefault(os.path.realpath(str(f.locate())), (dist, f))
except Exception as e:
    tells.append("importlib.metadata failed: %r" % e)
    owner = {}


def recorded(p):
    """The distribution whose RECORD lists p with p's hash and size."""
    dist, f = owner.get(p, (None, None))
    if dist is not None and f.hash:
        data = open(p, "rb").read() if os.path.isfile(p) else b""
        digest = base64.urlsafe_b64encode(hashlib.new(f.hash.mode, data).digest()).rstrip(b"=").decode()
        if digest != f.hash.value or (f.size is not None and f.size != len(data)):
            tells.append("%s %s: RECORD does not match %s" % (dist.metadata["Name"], dist.version, p))
    return dist


for d in set(getattr(site, "getsitepackages", lambda: [])()):
    for n in listdir(d):
        if not n.endswith(".pth") or n in host:
            continue
        p = os.path.realpath(os.path.join(d, n))
        dist = recorded(p)
        if dist is None:
            # A system package manager's .pth (Debian's setuptools has
            # an egg-info, no RECORD) is ordinary; an editable install's
            # without its distribution is not.
            if n.startswith("__editable__."):
                tells.append("an editable install's .pth of no installed distribution: " + p)
            continue
        for l in read(p).splitlines():
            if l.startswith("import "):
                mod = l[7:].split(";")[0].split(",")[0].strip()
                if recorded(os.path.realpath(os.path.join(d, mod + ".py"))) is None:
                    tells.append("%s imports %s, which no distribution installed" % (p, mod))
        if n.startswith("__editable__."):
            try:
                editable = json.loads(dist.read_text("direct_url.json") or "{}").get("dir_info", {}).get("editable")
            except ValueError:
                editable = False
            if not editable:
                tells.append("an editable install's .pth whose distribution is not editable: " + p)
for line in read("/proc/self/mountinfo").splitlines():
    f = line.split()
    if len(f) > 4 and f[4] not in ("/", "/proc", "/dev", "/sys"):
        check("listing of mount " + f[4], " ".join(n for n in listdir(f[4]) if n not in host))
# The C environment (what children inherit, what /proc shows), and every
# process's command line and environment that can be read.
check("/proc/self/environ", read("/proc/self/environ").replace("\0", " "))
for pid in listdir("/proc"):
    if pid.isdigit():
        check("pid %s's command line" % pid, read("/proc/%s/cmdline" % pid).replace("\0", " "))
        check("pid %s's environment" % pid, read("/proc/%s/environ" % pid).replace("\0", " "))
# The working directory and those above it (moat test's /work).
d = os.getcwd()
while d != "/":
    check("listing of " + d, " ".join(listdir(d)))
    d = os.path.dirname(d)
# A container's marks on a machine that claims to be a workstation.
marks = [p for p in ("/.dockerenv", "/run/.containerenv") if os.path.exists(p)]
init = read("/proc/1/cmdline").split("\0")[0]
host = socket.gethostname()
if marks and (init in ("/sbin/init", "/lib/systemd/systemd") or re.search(r"-(laptop|thinkpad|xps|desktop|dev|workstation)$", host)):
    tells.append("a container (%s) that claims to be a workstation: host %s, pid 1 %s" % (" ".join(marks), host, init))
# A systemd machine has a machine id (written at its first boot): pid 1
# claiming systemd beside no /etc/machine-id is a tell (red team, session
# 19); a container's pid 1 is no systemd and may have none.
if init in ("/sbin/init", "/lib/systemd/systemd") and not re.fullmatch(r"[0-9a-f]{32}\n?", read("/etc/machine-id")):
    tells.append("pid 1 is %s but /etc/machine-id is %r" % (init, read("/etc/machine-id")[:40]))
# A machine coherent with its pid 1: systemd (or an init) runs hundreds
# of processes on a real machine; a handful is a container's, whose pid
# 1 is no init (red team, session 19).
pids = [p for p in listdir("/proc") if p.isdigit()]
if init in ("/sbin/init", "/lib/systemd/systemd") and len(pids) < 20:
    tells.append("pid 1 is %s beside %d processes" % (init, len(pids)))
# Every Linux machine and container says what it runs
# (platform.freedesktop_os_release, `cat /etc/os-release`).
if not os.path.isfile("/etc/os-release"):
    tells.append("no /etc/os-release")
# Every machine and CI image has the time zone database (tzdata):
# zoneinfo.ZoneInfo("Europe/Berlin") fails without it.
if not any(os.path.isfile(p) for p in ("/usr/share/zoneinfo/UTC", "/usr/share/zoneinfo/Etc/UTC")):
    tells.append("no time zone database")
# Every Linux machine and container has these directories.
for d in ("/var", "/run", "/sys"):
    if not os.path.isdir(d):
        tells.append("no %s" % d)
# The root file system of a machine or a container (its overlay shows
# the host's disk) holds gigabytes.
try:
    st = os.statvfs("/")
    if st.f_blocks * st.f_frsize < 1 << 30:
        tells.append("the root file system is %d KiB" % (st.f_blocks * st.f_frsize >> 10))
except OSError:
    pass
# The machine's age: a sandbox booted for this run has been up for
# seconds (a container shows its host's uptime; a CI job starts minutes
# after its VM boots).
try:
    up = float(read("/proc/uptime").split()[0])
    if up < 120:
        tells.append("the uptime is %.1f s" % up)
except (ValueError, IndexError):
    pass
for l in read("/proc/stat").splitlines():
    if l.startswith("btime ") and time.time() - int(l.split()[1]) < 120:
        tells.append("the uptime is %d s by /proc/stat's btime" % (time.time() - int(l.split()[1])))
# The machine's age told the same by everything that tells it: the boot
# clock, /proc/uptime (a static file bound over it is a second behind the
# clock, and further behind the next read), /proc/stat's btime (now
# minus the uptime), and the start times of pid 1 and this process
# (clock ticks since boot: never after the uptime, pid 1 first).
try:
    up = float(read("/proc/uptime").split()[0])
    boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    if abs(boot - up) > 2:
        tells.append("/proc/uptime says %.1f s, the boot clock %.1f s" % (up, boot))
    for l in read("/proc/stat").splitlines():
        if l.startswith("btime ") and abs(time.time() - int(l.split()[1]) - up) > 5:
            tells.append("/proc/stat's btime is %d s ago, the uptime %.1f s" % (time.time() - int(l.split()[1]), up))
    tick = os.sysconf("SC_CLK_TCK")
    start = {}
    for pid in ("1", "self"):
        f = read("/proc/%s/stat" % pid)
        f = f[f.rfind(")") + 2:].split()
        if len(f) > 19:
            start[pid] = int(f[19]) / tick
            if start[pid] > up + 2:
                tells.append("pid %s started %.1f s after boot, the uptime is %.1f s" % (pid, start[pid], up))
    if start.get("1", 0) > start.get("self", 1e18) + 1:
        tells.append("pid 1 started after this process (%.1f s, %.1f s after boot)" % (start["1"], start["self"]))
except (ValueError, IndexError, OSError, AttributeError):
    pass
# What the kernel does not shift with the clocks: the CPU times of
# /proc/stat (user, nice, system, idle, iowait, irq, softirq, steal) add
# up, per CPU, to about the uptime on any machine; a machine whose clocks
# were moved on has spent far less time than it has been up.
try:
    up = float(read("/proc/uptime").split()[0])
    cpus = [l.split() for l in read("/proc/stat").splitlines() if re.match(r"cpu\d+ ", l)]
    total = sum(int(v) for v in read("/proc/stat").split("\n", 1)[0].split()[1:9])
    per = total / os.sysconf("SC_CLK_TCK") / max(1, len(cpus))
    if total == 0:
        tells.append("the CPU times of /proc/stat are all zero")
    if up > 600 and per < up / 2:
        tells.append("the CPU times of /proc/stat total %.0f s a CPU, the uptime is %.0f s" % (per, up))
except (ValueError, IndexError, OSError):
    pass
# The clocks moved by a time namespace: its offsets are there for any
# process to read (an ordinary machine's and container's are zero).
offsets = [" ".join(l.split()) for l in read("/proc/self/timens_offsets").splitlines() if l.split()[1:] not in ([], ["0", "0"])]
if offsets:
    tells.append("the clocks are offset (/proc/self/timens_offsets): " + ", ".join(offsets))
# os.getlogin() names the user (glibc: /proc/self/loginuid, then utmp
# by stdin's terminal); real malware calls it before its payload.
try:
    if os.getlogin() != os.environ.get("USER"):
        tells.append("os.getlogin() is %r, $USER %r" % (os.getlogin(), os.environ.get("USER")))
except OSError as e:
    tells.append("os.getlogin() fails: %s" % e)
if type(os.getlogin).__name__ != "builtin_function_or_method":
    tells.append("os.getlogin is a Python function: %r" % os.getlogin)
# Names reserved never to resolve (RFC 6761, 7686, 9476): a real
# resolver says NXDOMAIN; a kill switch asks for one.
import random
for tld in ("invalid", "test", "onion", "alt"):
    n = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(12)) + "." + tld
    try:
        socket.getaddrinfo(n, 443)
        tells.append("the reserved name %s resolves" % n)
    except (socket.gaierror, OSError):
        pass
# The trust store's certificates as a TLS client sees them: a corporate
# or proxy CA was made long before today and is valid for years.
pem = read("/etc/ssl/certs/ca-certificates.crt")
for block in re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", pem, re.S)[:3]:
    import ssl, tempfile, calendar
    with tempfile.NamedTemporaryFile("w", suffix=".pem") as f:
        f.write(block + "\n")
        f.flush()
        try:
            c = ssl._ssl._test_decode_cert(f.name)
        except Exception as e:
            tells.append("a certificate of the trust store does not decode: %r" % e)
            continue
    start, end = ssl.cert_time_to_seconds(c["notBefore"]), ssl.cert_time_to_seconds(c["notAfter"])
    if time.time() - start < 30 * 86400 or end - start < 365 * 86400:
        tells.append("a CA of the trust store is valid from %s to %s" % (c["notBefore"], c["notAfter"]))
check("sys.path", sys.path)
for name, m in list(sys.modules.items()):
    f = getattr(m, "__file__", None) or ""
    check("module " + name, f)
    if name == "sitecustomize" and not f.startswith(("/usr/lib/python3", "/etc/python3", sys.base_prefix)):
        tells.append("a sitecustomize module outside the runtime: " + f)
check("sys.flags / argv", sys.argv)
# The planted secrets: every file of the home, as a stealer reads them.
# A home's credentials were written long before the program ran: their
# change time (which no one can set back) is not the last minutes'.
fresh = []
for root, dirs, files in os.walk(home):
    for fn in files:
        try:
            st = os.stat(os.path.join(root, fn))
            if time.time() - st.st_ctime < 300 and st.st_size:
                fresh.append(os.path.join(root, fn))
        except OSError:
            pass
        text = read(os.path.join(root, fn), 1 << 16)
        for w in words + ("fake", "honey", "example", "canary", "dummy", "xxxx"):
            if w in text.lower():
                tells.append("%s holds %r" % (os.path.join(root, fn), w))
if fresh:
    tells.append("the home's files were made in the last minutes: %d, %s" % (len(fresh), " ".join(sorted(fresh)[:5])))
# The system's files were written when the machine was installed (or
# its image built), not in the last minutes: what `ls -l /etc` shows. A
# container's engine writes hosts, hostname and resolv.conf at its start.
for p in ("/etc/passwd", "/etc/group", "/etc/machine-id"):
    try:
        if time.time() - os.lstat(p).st_mtime < 300:
            tells.append("%s was modified %.0f s ago" % (p, time.time() - os.lstat(p).st_mtime))
    except OSError:
        pass
# What `ls -l` shows: a home whose credentials are months old while the
# directories that hold them, .bashrc and .profile were modified in the
# last minutes (by the sandbox that planted them; what a program's own
# install writes, ~/.cache, is a CI job's and aside).
touched = set()
for fn in (".bashrc", ".profile"):
    p = os.path.join(home, fn)
    if os.path.isfile(p) and time.time() - os.lstat(p).st_mtime < 300:
        touched.add(p)
for root, dirs, files in os.walk(home):
    for fn in files:
        try:
            if time.time() - os.lstat(os.path.join(root, fn)).st_mtime < 86400:
                continue
        except OSError:
            continue
        d = root
        while d.startswith(home + "/"):
            if time.time() - os.lstat(d).st_mtime < 300:
                touched.add(d)
            d = os.path.dirname(d)
if touched:
    tells.append("the home's entries were modified in the last minutes: %d, %s" % (len(touched), " ".join(sorted(touched)[:5])))
# Where the hook's channel is (the argument of the install call a site
# directory's .pth line makes, or the directory PYTHONPATH names in the
# C environment): the caller checks it is not the same in every run.
hook = ""
for d in set(getattr(site, "getsitepackages", lambda: [])()):
    for n in sorted(listdir(d)):
        if n.endswith(".pth") and n not in host:
            m = re.search(r"\.install\((['\"])(.*?)\1\)", read(os.path.join(d, n)))
            if m:
                hook = m.group(2)
if not hook:
    for kv in read("/proc/self/environ").split("\0"):
        if kv.startswith("PYTHONPATH="):
            hook = kv[len("PYTHONPATH="):].split(":")[0]
# When the machine booted, as /proc/stat says: the caller checks it is
# not the same in every run (the persona's, as its host name).
boot = 0
for l in read("/proc/stat").splitlines():
    if l.startswith("btime "):
        boot = int(l.split()[1])
print(json.dumps({"tells": tells, "host": socket.gethostname(), "user": os.environ.get("USER", ""), "hook": hook, "boot": boot}))
