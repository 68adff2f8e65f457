package nsinit

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
)

// oldRoot is where the host's root stays reachable during setup only.
const oldRoot = "/.oldroot"

// scratch is where the one size-limited writable tmpfs is first mounted,
// before its directories are bound to /work, /tmp, /home/sandbox and
// /dev/shm, so that --disk caps all writable space together.
const scratch = "/.scratch"

// devices are the only device nodes the program gets, bound from the host.
// tty is the opener's controlling terminal, never a host one: every
// process of the sandbox descends from a session with none (Setsid), the
// only terminals it can open are those of its own devpts (below), and
// taking one it was handed (TIOCSCTTY on a terminal that is another
// session's) needs CAP_SYS_ADMIN of the host's user namespace.
var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

// PtyMax is how many pseudo-terminals a sandbox may hold at once: its
// devpts instance's max, so that a run cannot take the host's
// (kernel.pty.max, shared by every instance but the host's reserve).
const PtyMax = 32

// DevptsOptions are the mount options of a sandbox's own devpts: a new
// instance (no pty of the host or of another run is in it), its ptmx
// usable by the program's uid, and at most PtyMax terminals. gid and
// mode are left out: the slave belongs to its opener's uid and gid (the
// tty group is not mapped in the sandbox's user namespace).
var DevptsOptions = fmt.Sprintf("newinstance,ptmxmode=0666,mode=0620,max=%d", PtyMax)

// Masked /proc entries (as container runtimes mask them): files get
// /dev/null bound over them, directories an empty read-only tmpfs.
var (
	procMasked   = []string{"kcore", "keys", "latency_stats", "timer_list", "timer_stats", "sched_debug", "sysrq-trigger", "kallsyms", "kpagecount", "kpageflags", "kpagecgroup", "config.gz"}
	procMaskDirs = []string{"acpi", "scsi", "asound", "driver", "fs", "bus", "irq", "tty", "pressure"}
	procReadOnly = []string{"sys"}
)

// setupRoot builds the sandbox's root filesystem and pivots into it. It
// runs in the init, in fresh user and mount namespaces, before anything
// untrusted exists. The invariant it keeps: when it returns, the only host
// paths reachable are cfg.Binds (read-only, nosuid, nodev) and the five
// device nodes; everything writable is the one tmpfs of cfg.Disk bytes.
func setupRoot(cfg *Config) ([]moat.Layer, error) {
	// Nothing we mount may propagate back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("make mounts private: %w", err)
	}
	// The new root is a tmpfs mounted over /tmp of this namespace only.
	// Its limit is the host's root file system's size, as a container's
	// overlay root shows it (statfs, df): an 8 MiB root is no machine
	// (red team, session 19). Only this init writes it (a few files of
	// /etc) before it is remounted read-only (finishRoot).
	if err := unix.Mount("tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size="+rootSize()); err != nil {
		return nil, fmt.Errorf("mount root tmpfs: %w", err)
	}
	if err := os.Mkdir("/tmp"+oldRoot, 0o700); err != nil {
		return nil, err
	}
	if err := unix.PivotRoot("/tmp", "/tmp"+oldRoot); err != nil {
		return nil, fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return nil, err
	}
	binds := append([]string(nil), cfg.Binds...)
	sort.Strings(binds)
	for _, p := range binds {
		if err := bindReadOnly(oldRoot+p, p); err != nil {
			return nil, fmt.Errorf("bind %s: %w", p, err)
		}
	}
	for _, l := range sortedKeys(cfg.Links) {
		if _, err := os.Lstat(l); err == nil {
			continue // the path already exists through a bind
		}
		if err := os.MkdirAll(filepath.Dir(l), 0o755); err != nil {
			return nil, err
		}
		if err := os.Symlink(cfg.Links[l], l); err != nil {
			return nil, fmt.Errorf("link %s: %w", l, err)
		}
	}
	if err := setupScratch(cfg); err != nil {
		return nil, err
	}
	if err := setupDev(); err != nil {
		return nil, err
	}
	if err := setupProc(); err != nil {
		return nil, err
	}
	if err := setupEtc(cfg); err != nil {
		return nil, err
	}
	// The directories every Linux root has, empty and read-only here.
	for _, d := range machineDirs {
		if err := os.MkdirAll(d.path, d.mode); err != nil {
			return nil, fmt.Errorf("root directory: %w", err)
		}
	}
	// The host root and the scratch mount go; the binds of the scratch
	// directories keep the tmpfs alive.
	for _, m := range []string{oldRoot, scratch} {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			return nil, fmt.Errorf("detach %s: %w", m, err)
		}
		if err := os.Remove(m); err != nil {
			return nil, err
		}
	}
	return []moat.Layer{
		{Name: "mount-namespace", Detail: "fresh tmpfs root, pivot_root, host root detached"},
		{Name: "read-only-runtime", Detail: strings.Join(binds, " ")},
		{Name: "proc", Detail: "new /proc, sensitive entries masked, /proc/sys read-only"},
		{Name: "dev", Detail: fmt.Sprintf("null zero full random urandom tty only; ptys of a devpts of its own (at most %d)", PtyMax)},
		{Name: "disk", Detail: fmt.Sprintf("one tmpfs of %d bytes for /work /tmp /home/sandbox /dev/shm", cfg.Disk)},
	}, nil
}

// finishRoot makes the root itself read-only; the writable tmpfs binds
// are separate mounts and stay writable.
func finishRoot() error {
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("remount root read-only: %w", err)
	}
	return nil
}

// machineDirs are the directories of a Linux root the program would
// miss (red team, session 19: no /sys, /var, /run), made empty.
var machineDirs = []struct {
	path string
	mode os.FileMode
}{{"/var/tmp", 0o1777}, {"/var/lib", 0o755}, {"/var/cache", 0o755}, {"/run", 0o755}, {"/sys", 0o555}, {"/mnt", 0o755}, {"/srv", 0o755}, {"/media", 0o755}}

// rootSize is the root tmpfs's size option: the host root's size in
// KiB, 8m when it cannot be read.
func rootSize() string {
	var st unix.Statfs_t
	if err := unix.Statfs("/", &st); err != nil || st.Blocks == 0 || st.Bsize <= 0 {
		return "8m"
	}
	return fmt.Sprintf("%dk", st.Blocks*uint64(st.Bsize)>>10)
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// MountTarget creates an empty file or directory at dst, whichever src
// is, for src to be bound on. (The gVisor backend's bundle root is built
// the same way.)
func MountTarget(src, dst string) error {
	fi, err := os.Stat(src)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return os.MkdirAll(dst, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// bindReadOnly binds src (not recursively: submounts of the host stay
// out) at dst and makes it read-only, nosuid and nodev. A remount inside a
// user namespace must keep the flags the host locked on the source
// mount, so they are read back and kept.
func bindReadOnly(src, dst string) error {
	if err := MountTarget(src, dst); err != nil {
		return err
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return err
	}
	return remount(dst, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV)
}

func remount(dst string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		return err
	}
	keep := uintptr(0)
	for _, f := range []struct{ st, ms uintptr }{
		{unix.ST_NOSUID, unix.MS_NOSUID}, {unix.ST_NODEV, unix.MS_NODEV}, {unix.ST_NOEXEC, unix.MS_NOEXEC},
		{unix.ST_NOATIME, unix.MS_NOATIME}, {unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
		{unix.ST_RDONLY, unix.MS_RDONLY},
	} {
		if uintptr(st.Flags)&f.st != 0 {
			keep |= f.ms
		}
	}
	return unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|flags|keep, "")
}

func setupScratch(cfg *Config) error {
	if err := os.Mkdir(scratch, 0o700); err != nil {
		return err
	}
	opts := fmt.Sprintf("mode=0755,size=%d,nr_inodes=%d", cfg.Disk, 1<<20)
	if err := unix.Mount("tmpfs", scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount scratch tmpfs: %w", err)
	}
	for _, d := range []struct {
		name, dst string
		mode      os.FileMode
	}{{"work", WorkDir, 0o755}, {"tmp", TmpDir, 0o1777}, {"home", home, 0o755}, {"shm", "/dev/shm", 0o1777}} {
		src := scratch + "/" + d.name
		if err := os.Mkdir(src, d.mode); err != nil {
			return err
		}
		if err := os.Chmod(src, d.mode); err != nil { // umask-proof
			return err
		}
		if err := os.Chown(src, cfg.UID, cfg.GID); err != nil {
			return err
		}
		if err := os.MkdirAll(d.dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(src, d.dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", d.dst, err)
		}
	}
	return nil
}

func setupDev() error {
	if err := os.MkdirAll("/dev", 0o755); err != nil {
		return err
	}
	// /dev/shm is already a bind below /dev: mount the tmpfs first would
	// hide it, so /dev stays a plain directory of the read-only root and
	// only the device files are bound into it.
	for _, d := range devices {
		if err := MountTarget(oldRoot+"/dev/"+d, "/dev/"+d); err != nil {
			return fmt.Errorf("/dev/%s: %w", d, err)
		}
		if err := unix.Mount(oldRoot+"/dev/"+d, "/dev/"+d, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", d, err)
		}
		if err := remount("/dev/"+d, unix.MS_NOSUID|unix.MS_NOEXEC); err != nil {
			return fmt.Errorf("remount /dev/%s: %w", d, err)
		}
	}
	// Ptys: a devpts instance of this sandbox's own, mounted in its user
	// and mount namespaces, gone with them; /dev/ptmx its multiplexer.
	if err := os.Mkdir("/dev/pts", 0o755); err != nil {
		return err
	}
	if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, DevptsOptions); err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"} {
		if err := os.Symlink(target, "/dev/"+name); err != nil {
			return err
		}
	}
	return nil
}

// ZygoteProc is where a [Zygote] sandbox has its unmasked /proc.
const ZygoteProc = "/.proc"

// ProcMasks are the /proc entries a sandbox masks: files bound over by
// /dev/null, directories covered by an empty read-only tmpfs, and those
// made read-only.
func ProcMasks() (files, dirs, readOnly []string) {
	return procMasked, procMaskDirs, procReadOnly
}

func setupProc() error {
	if err := os.MkdirAll("/proc", 0o555); err != nil {
		return err
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	for _, f := range procMasked {
		p := "/proc/" + f
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	for _, d := range procMaskDirs {
		p := "/proc/" + d
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			continue
		}
		if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=0"); err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	for _, d := range procReadOnly {
		p := "/proc/" + d
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
		if err := remount(p, unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC); err != nil {
			return fmt.Errorf("read-only %s: %w", p, err)
		}
	}
	return nil
}

// EtcFiles are the /etc files of persona p (home its home directory, uid
// and gid the program's): passwd, group, hosts, hostname and machine-id.
func EtcFiles(p Persona, home string, uid, gid int) map[string]string {
	user, gecos := p.user()
	host := p.host()
	files := map[string]string{
		"passwd":   fmt.Sprintf("root:x:0:0:root:/root:/bin/bash\n%s:x:%d:%d:%s:%s:/bin/bash\n", user, uid, gid, gecos, home),
		"group":    fmt.Sprintf("root:x:0:\n%s:x:%d:\n", user, gid),
		"hosts":    "127.0.0.1\tlocalhost\n127.0.1.1\t" + host + "\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"hostname": host + "\n",
		// A machine has one; its absence was a tell (red team, session 19).
		"machine-id": observe.MachineID(host, user) + "\n",
	}
	if uid == 0 {
		files["passwd"] = fmt.Sprintf("%s:x:0:0:%s:%s:/bin/bash\n", user, gecos, home)
		files["group"] = user + ":x:0:\n"
	}
	return files
}

func setupEtc(cfg *Config) error {
	if err := os.MkdirAll("/etc", 0o755); err != nil {
		return err
	}
	files := EtcFiles(cfg.Persona, home, cfg.UID, cfg.GID)
	// The system's files were written when the persona's machine was
	// installed, before it booted (observe.Installed); hosts and hostname
	// as a container's, at its start.
	var boot unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_BOOTTIME, &boot)
	installed := observe.Installed(time.Duration(boot.Nano()) + cfg.Persona.Uptime)
	for name, content := range files {
		p := "/etc/" + name
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
		if name == "passwd" || name == "group" || name == "machine-id" {
			if err := os.Chtimes(p, installed, installed); err != nil {
				return err
			}
		}
	}
	return nil
}
