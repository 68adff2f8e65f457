package gvisor

import (
	"slices"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/backend/gvisor/sentryinit"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// Paths inside the sandbox, as native has them (the home is the run's
// persona's).
const (
	workDir = "/work"
	tmpDir  = "/tmp"
	shmDir  = sentryinit.ShmDir
	// sandboxID is the uid and gid of the program: never root. Inside
	// gVisor it is the Sentry's notion of a user; the host never sees it
	// as a process owner (the Sentry runs as root in its own user
	// namespace with no capabilities on the host).
	sandboxID = sentryinit.UID
)

// scratchDir is a directory of the one writable tmpfs and where it is
// bound inside.
type scratchDir struct {
	name, dst string
	mode      uint32
}

// scratchDirs are the scratch directories of a run whose home is home.
// /dev/shm is not one of them: it is a tmpfs of the Sentry's own (shmMount).
func scratchDirs(home string) []scratchDir {
	return []scratchDir{{"work", workDir, 0o755}, {"tmp", tmpDir, 0o1777}, {"home", home, 0o755}}
}

// shmMount is /dev/shm: a tmpfs inside the Sentry of at most disk bytes,
// not a bind of the host scratch tmpfs. A file bound from the host goes
// through the gofer, and the Sentry does not keep a MAP_SHARED mapping of
// it coherent between two sandbox processes: a named POSIX semaphore
// (sem_open, multiprocessing's Lock and Event) set in one process never
// woke another, and a spawn Pool hung (moattest shm-spawn). The Sentry's
// tmpfs is its own memory, mapped once for every process. Its pages are
// the Sentry's, in the run's cgroup, so --memory bounds them too; its size
// is shmSize(disk), taken out of the host tmpfs, so that all writable space
// together stays within --disk (moattest disk-bomb). The host never sees
// the files, so the report's diff does not cover /dev/shm.
func shmMount(disk int64) specs.Mount {
	return specs.Mount{Destination: shmDir, Type: "tmpfs", Source: "tmpfs",
		Options: []string{"nosuid", "nodev", "mode=1777", "size=" + strconv.FormatInt(shmSize(disk), 10)}}
}

// shmSize is /dev/shm's share of a --disk of disk bytes: an eighth, as the
// container backends give it; the host tmpfs has the rest.
func shmSize(disk int64) int64 { return disk / 8 }

// bundleConfig is what a run's config.json is built from.
type bundleConfig struct {
	Argv        []string // the interpreter and its arguments
	Env         []string
	Binds       []string // host paths bound read-only at the same place
	Scratch     string   // host directory holding scratchDirs
	Root        string   // the read-only root (a shared skeleton)
	CgroupsPath string
	// Persona: the host name, the home, and where the hook is (Tools).
	Persona observe.Persona
	// Etc (host) holds the run's passwd, group, hosts and hostname, bound
	// read-only over the skeleton's.
	Etc string
	// AuditFile (host) is bound read-write at Tools/audit: the channel of
	// the behaviour report's hook, which Hook (host, the skeleton's)
	// holds, bound read-only at Tools/py. Empty: the report is off.
	AuditFile string
	Hook      string
	// SiteMount (host) is a read-only overlay of the runtime's site
	// directory Site with the hook's module and .pth line in it, bound
	// over Site; the hook is then not on PYTHONPATH, and Hook is not
	// bound. Empty: the hook is Hook, on PYTHONPATH.
	Site, SiteMount string
	// StartupMount (host) is a read-only overlay of the runtime's
	// encodings package Startup with the hook's loader for -S
	// interpreters (audit.Startup), bound over Startup with SiteMount.
	Startup, StartupMount string
	// Init (host) is this binary, bound read-only at Tools/init and run as
	// pid 1 with Argv after it, and Walk (host) the file bound read-write
	// at Tools/walk that it packs /dev/shm into at the end (package sentryinit).
	// Empty: the program is pid 1 and /dev/shm is not walked (the report
	// is off).
	Init, Walk string
	// Void (host) is an empty file no one may open, bound over the
	// Sentry's own /dev/fuse.
	Void string
	Disk int64
	Pids int
	// HostNet: the run's network is a sinkhole (runsc --network=host in
	// the namespace moat made, sink_linux.go): the bundle names no network
	// namespace, so the sandbox stays in runsc's, and the resolver's and
	// CA's files (egress.EtcFiles) are bound from Etc too.
	HostNet bool
}

// initCaps are moat's init's capabilities (package sentryinit): to start the
// program as the sandbox user (SETUID, SETGID), to kill every process of
// it at the end (KILL), and to read all of /dev/shm, whatever modes the
// program gave it (DAC_READ_SEARCH). As another uid than the program's,
// the init can be neither signalled nor traced by it.
var initCaps = []string{"CAP_SETUID", "CAP_SETGID", "CAP_KILL", "CAP_DAC_READ_SEARCH"}

// ociSpec builds the OCI runtime spec of a run. The invariants: the root
// is read-only and holds only the skeleton moat wrote; the only host paths
// inside are Binds (read-only) and the scratch directories; the program is
// an unprivileged user with no capabilities and no way to gain any.
func ociSpec(c bundleConfig) *specs.Spec {
	ro := []string{"bind", "ro", "nosuid", "nodev"}
	mounts := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		// gVisor's own /dev: the Sentry's device files (null, zero, full,
		// random, urandom, tty, ptmx), no host device is reachable.
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		// gVisor would show its own sysfs; an empty read-only tmpfs hides it.
		{Destination: "/sys", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "nosuid", "nodev", "noexec", "size=0"}},
		// The Sentry always makes /dev/fuse and /dev/net/tun (runsc has
		// no flag against it), and both open for anyone: kernel surface
		// no run needs, which a mount needs no more than a capability
		// away. An empty read-only tmpfs hides tun, and an empty file
		// of mode 0 hides fuse (a file: no tmpfs can cover it).
		{Destination: "/dev/net", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro", "nosuid", "nodev", "noexec", "size=0"}},
		{Destination: "/dev/fuse", Type: "bind", Source: c.Void, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}},
	}
	binds := append([]string(nil), c.Binds...)
	sort.Strings(binds) // parents before children
	for _, p := range binds {
		mounts = append(mounts, specs.Mount{Destination: p, Type: "bind", Source: p, Options: ro})
	}
	// /home holds the persona's home alone: a per-run directory, so that
	// no mount point is ever made in the shared skeleton (runsc makes a
	// missing one in the host directory of the mount above it).
	mounts = append(mounts, specs.Mount{Destination: "/home", Type: "bind", Source: c.Scratch + "/homes", Options: ro})
	for _, d := range scratchDirs(c.Persona.Home) {
		mounts = append(mounts, specs.Mount{Destination: d.dst, Type: "bind", Source: c.Scratch + "/" + d.name,
			Options: []string{"bind", "rw", "nosuid", "nodev"}})
	}
	mounts = append(mounts, shmMount(c.Disk))
	etc := etcNames
	if c.HostNet {
		etc = append(slices.Clone(etc), egress.EtcFiles()...)
	}
	for _, n := range etc {
		mounts = append(mounts, specs.Mount{Destination: "/etc/" + n, Type: "bind", Source: c.Etc + "/" + n, Options: ro})
	}
	if c.AuditFile != "" {
		if c.SiteMount != "" {
			// After the runtime's binds: Site is inside one of them.
			mounts = append(mounts, specs.Mount{Destination: c.Site, Type: "bind", Source: c.SiteMount, Options: ro})
			if c.StartupMount != "" {
				mounts = append(mounts, specs.Mount{Destination: c.Startup, Type: "bind", Source: c.StartupMount, Options: ro})
			}
		} else {
			mounts = append(mounts, specs.Mount{Destination: c.Persona.Tools + "/py", Type: "bind", Source: c.Hook, Options: ro})
		}
		mounts = append(mounts,
			specs.Mount{Destination: c.Persona.Tools + "/audit", Type: "bind", Source: c.AuditFile, Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}})
	}
	argv, env := c.Argv, c.Env
	noCaps := []string{}
	user, caps := specs.User{UID: sandboxID, GID: sandboxID, AdditionalGids: []uint32{}}, noCaps
	if c.Init != "" && c.Walk != "" {
		// The init is root of the sandbox with initCaps permitted and
		// none in the bounding set (nothing any exec can gain); the
		// program, its child, runs as the sandbox user with none.
		user, caps = specs.User{UID: 0, GID: 0, AdditionalGids: []uint32{}}, initCaps
		mounts = append(mounts,
			specs.Mount{Destination: c.Persona.Tools + "/init", Type: "bind", Source: c.Init, Options: ro},
			specs.Mount{Destination: c.Persona.Tools + "/walk", Type: "bind", Source: c.Walk, Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"}})
		argv = append([]string{c.Persona.Tools + "/init"}, argv...)
		env = append(slices.Clone(env), sentryinit.Env+"="+c.Persona.Tools+"/walk")
	}
	rlimits := []specs.POSIXRlimit{
		{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024},
		{Type: "RLIMIT_CORE", Hard: 0, Soft: 0},
		{Type: "RLIMIT_FSIZE", Hard: uint64(c.Disk), Soft: uint64(c.Disk)},
	}
	if c.Pids > 0 {
		// The program's threads are the Sentry's tasks, not host
		// processes: the cgroup's pids limit never sees them, and a
		// thread bomb ran unbounded (moattest limit-threads). The
		// Sentry counts every task of the sandbox's user against
		// RLIMIT_NPROC, threads too, and refuses the clone (EAGAIN).
		rlimits = append(rlimits, specs.POSIXRlimit{Type: "RLIMIT_NPROC", Hard: uint64(c.Pids), Soft: uint64(c.Pids)})
	}
	namespaces := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
	}
	if c.HostNet {
		namespaces = slices.DeleteFunc(namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
	}
	return &specs.Spec{
		Annotations: exclusiveHints(mounts),
		Version:     specs.Version,
		Process: &specs.Process{
			User:            user,
			Args:            argv,
			Env:             env,
			Cwd:             workDir,
			Capabilities:    &specs.LinuxCapabilities{Bounding: noCaps, Effective: caps, Inheritable: noCaps, Permitted: caps, Ambient: noCaps},
			NoNewPrivileges: true,
			Rlimits:         rlimits,
		},
		Root:     &specs.Root{Path: c.Root, Readonly: true},
		Hostname: c.Persona.Host,
		Mounts:   mounts,
		Linux: &specs.Linux{
			CgroupsPath:   c.CgroupsPath,
			Namespaces:    namespaces,
			Seccomp:       seccompProfile(),
			MaskedPaths:   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"},
			ReadonlyPaths: []string{"/proc/sys", "/proc/sysrq-trigger"},
		},
	}
}

// exclusiveHints are runsc mount hints that give each read-only bind
// runsc's exclusive file access: the Sentry caches what it looked up
// instead of asking the gofer again on every path walk (some 200 round
// trips fewer for Python's start). Nothing else writes these files during
// a run. The writable binds keep runsc's default for bind mounts, shared:
// what the program writes goes through to the host tmpfs at once, so the
// audit channel is read while the run goes on and a killed sandbox loses
// nothing of /work.
func exclusiveHints(mounts []specs.Mount) map[string]string {
	a := map[string]string{}
	for i, m := range mounts {
		if m.Type != "bind" || !slices.Contains(m.Options, "ro") {
			continue
		}
		name := "dev.gvisor.spec.mount.moat-ro-" + strconv.Itoa(i)
		a[name+".source"], a[name+".type"], a[name+".share"] = m.Source, "bind", "container"
	}
	return a
}

// etcNames are the files of /etc a run has of its own (etcFiles), bound
// over the skeleton's.
var etcNames = []string{"passwd", "group", "hosts", "hostname", "machine-id"}

// etcFiles are the files of /etc for persona p; the skeleton holds them for
// the zero persona, as mount points.
func etcFiles(p observe.Persona) map[string]string {
	return map[string]string{
		"passwd":     "root:x:0:0:root:/root:/usr/sbin/nologin\n" + p.User + ":x:1000:1000:" + p.Gecos + ":" + p.Home + ":/bin/bash\n",
		"group":      "root:x:0:\n" + p.User + ":x:1000:\n",
		"hosts":      "127.0.0.1\tlocalhost " + p.Host + "\n::1\tlocalhost ip6-localhost\n",
		"hostname":   p.Host + "\n",
		"machine-id": observe.MachineID(p.Host, p.User) + "\n",
	}
}

// seccompProfile is native's deny list (internal/sandbox/seccomp) as an OCI
// profile, which runsc --oci-seccomp applies inside the Sentry: the calls
// are refused before the Sentry's implementation of them is reached, so
// its attack surface shrinks as the host kernel's does under native.
func seccompProfile() *specs.LinuxSeccomp {
	p := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchAARCH64}}
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	var plain []string
	for _, name := range seccomp.Denied() {
		switch {
		case name == "clone":
			for _, f := range []uint64{unix.CLONE_NEWNS, unix.CLONE_NEWUTS, unix.CLONE_NEWIPC, unix.CLONE_NEWUSER, unix.CLONE_NEWPID, unix.CLONE_NEWNET, unix.CLONE_NEWCGROUP, unix.CLONE_NEWTIME} {
				p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"clone"}, Action: specs.ActErrno, ErrnoRet: &eperm,
					Args: []specs.LinuxSeccompArg{{Index: 0, Value: f, ValueTwo: f, Op: specs.OpMaskedEqual}}})
			}
		case name == "ioctl":
			for _, req := range []uint64{unix.TIOCSTI, unix.TIOCLINUX} {
				p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"ioctl"}, Action: specs.ActErrno, ErrnoRet: &eperm,
					Args: []specs.LinuxSeccompArg{{Index: 1, Value: 0xffffffff, ValueTwo: req, Op: specs.OpMaskedEqual}}})
			}
		case name == "personality":
			// Any flag set, except the query 0xffffffff: what native denies.
			for _, f := range personalityFlags {
				p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{"personality"}, Action: specs.ActErrno, ErrnoRet: &eperm,
					Args: []specs.LinuxSeccompArg{{Index: 0, Value: 0xffffffff, Op: specs.OpNotEqual}, {Index: 0, Value: f, ValueTwo: f, Op: specs.OpMaskedEqual}}})
			}
		case name == "socket" || name == "socketpair":
			p.Syscalls = append(p.Syscalls, familyRules(name)...)
		case name == "clone3":
			// Left to the Sentry, which answers ENOSYS itself: a runsc
			// that predates errnoRet would answer this rule with EPERM,
			// and glibc falls back to clone (whose namespace flags the
			// rules above refuse) only on ENOSYS; with EPERM no thread
			// and no posix_spawn (os.system, subprocess) could start.
		case name == "open" || name == "openat":
			// O_NOATIME only, in the flags: args[1] of open, args[2] of openat.
			i := uint(1)
			if name == "openat" {
				i = 2
			}
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: &eperm,
				Args: []specs.LinuxSeccompArg{{Index: i, Value: unix.O_NOATIME, ValueTwo: unix.O_NOATIME, Op: specs.OpMaskedEqual}}})
		case name == "fcntl":
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: &eperm,
				Args: []specs.LinuxSeccompArg{{Index: 1, Value: unix.F_SETFL, Op: specs.OpEqualTo},
					{Index: 2, Value: unix.O_NOATIME, ValueTwo: unix.O_NOATIME, Op: specs.OpMaskedEqual}}})
		case strings.HasPrefix(name, "io_uring") || name == "openat2":
			p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: []string{name}, Action: specs.ActErrno, ErrnoRet: &enosys})
		default:
			plain = append(plain, name)
		}
	}
	p.Syscalls = append(p.Syscalls, specs.LinuxSyscall{Names: plain, Action: specs.ActErrno, ErrnoRet: &eperm})
	return p
}

// maxFamily bounds the address families familyRules names one by one
// (linux/socket.h has AF_MAX 46); every value from it up is one rule.
const maxFamily = 64

// familyRules is native's address-family allow list (seccomp.FamilyAllowed)
// for socket or socketpair as OCI rules that deny with EAFNOSUPPORT. An OCI
// rule cannot say "not one of": runsc (as runc) ORs conditions on the same
// argument and ANDs those on different ones, and the order of rules is not
// a contract. So every refused family below maxFamily is a rule of its own
// (family == f), one rule takes the rest (family >= maxFamily), and netlink
// is refused for every protocol but NETLINK_ROUTE (family == AF_NETLINK and
// protocol != 0: two arguments, ANDed). The comparisons are on all 64 bits
// where the Sentry, like the kernel, reads an int: a value with high bits
// set is >= maxFamily and refused, whatever its low half (fail closed).
// A runsc older than its support for OCI errnoRet (Debian 12's 20221219)
// answers EPERM instead, as it does for every rule of this profile.
//
// Of AF_INET and AF_INET6, the protocols native refuses (UDP-Lite, SCTP,
// ...) the Sentry has no implementation of either (it has TCP, UDP and
// ICMP): it refuses them itself, after its trace, like the families below.
// Families the Sentry has no implementation of (vsock, alg, bluetooth,
// xdp, ...) it refuses itself with EAFNOSUPPORT, after its syscall trace
// saw the call: those are left to it, so that every attempt is a kernel
// "socket" event (strace.go). A rule here would refuse the call before
// the trace, unseen.
func familyRules(call string) []specs.LinuxSyscall {
	errno := uint(unix.EAFNOSUPPORT)
	rule := func(args ...specs.LinuxSeccompArg) specs.LinuxSyscall {
		return specs.LinuxSyscall{Names: []string{call}, Action: specs.ActErrno, ErrnoRet: &errno, Args: args}
	}
	var rules []specs.LinuxSyscall
	for f := uint64(0); f < maxFamily; f++ {
		allowed := seccomp.FamilyAllowed(uint32(f), 0)
		if call == "socketpair" {
			allowed = f == unix.AF_UNIX
		}
		if !allowed && sentryFamilies[f] {
			rules = append(rules, rule(specs.LinuxSeccompArg{Index: 0, Value: f, Op: specs.OpEqualTo}))
		}
	}
	rules = append(rules, rule(specs.LinuxSeccompArg{Index: 0, Value: maxFamily, Op: specs.OpGreaterEqual}))
	if call == "socket" {
		rules = append(rules, rule(specs.LinuxSeccompArg{Index: 0, Value: unix.AF_NETLINK, Op: specs.OpEqualTo},
			specs.LinuxSeccompArg{Index: 2, Value: unix.NETLINK_ROUTE, Op: specs.OpNotEqual}))
	}
	return rules
}

// sentryFamilies are the address families gVisor's Sentry implements
// (unix, inet, inet6, netlink, packet): moat's rules refuse those it does
// not allow; the Sentry refuses every other itself.
var sentryFamilies = map[uint64]bool{unix.AF_UNIX: true, unix.AF_INET: true, unix.AF_INET6: true, unix.AF_NETLINK: true, unix.AF_PACKET: true}

// personalityFlags are the flag bits of personality(2) (linux/personality.h)
// and the low byte of the execution domains.
var personalityFlags = []uint64{0x0020000 /* UNAME26 */, 0x0040000 /* ADDR_NO_RANDOMIZE */, 0x0080000 /* FDPIC_FUNCPTRS */, 0x0100000, /* MMAP_PAGE_ZERO */
	0x0200000 /* ADDR_COMPAT_LAYOUT */, 0x0400000 /* READ_IMPLIES_EXEC */, 0x0800000 /* ADDR_LIMIT_32BIT */, 0x1000000, /* SHORT_INODE */
	0x2000000 /* WHOLE_SECONDS */, 0x4000000 /* STICKY_TIMEOUTS */, 0x8000000 /* ADDR_LIMIT_3GB */, 0xff /* every bit of the execution domain */}
