package microvm

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/sandbox/loginuid"
	"github.com/moat-sandbox/moat/internal/sandbox/netns"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
	"github.com/moat-sandbox/moat/internal/sandbox/timens"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// Init runs the guest agent when this process is the init of a moat
// micro-VM, and powers the guest off when it is done; otherwise it returns
// at once. Every binary that runs the microvm backend calls it first thing
// in main (backend/all's Init does), so that moat's own binary is the
// guest's /init.
func Init() {
	if os.Getenv(shimEnv) == "1" && os.Getpid() != 1 && os.Getppid() == 1 {
		shim() // the program's start in a guest; never returns
	}
	if os.Getpid() != 1 || len(os.Args) == 0 || os.Args[0] != guestInit || !initramfsRoot() {
		return
	}
	runtime.LockOSThread()
	err := agent()
	if err != nil {
		fmt.Fprintf(os.Stderr, "moat-agent: %v\n", err)
	}
	unix.Sync()
	_ = unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	for {
		time.Sleep(time.Hour) // pid 1 must not exit
	}
}

// agent is the guest's side of a run: set up, take the job, run it, send
// the result.
func agent() error {
	t0 := time.Now()
	for _, m := range []struct{ src, dst, fstype, data string }{
		{"dev", "/dev", "devtmpfs", "mode=0755"},
		// hidepid=invisible: the program (another uid, no capabilities)
		// sees its own processes only, not the agent or the kernel's
		// threads.
		{"proc", "/proc", "proc", "hidepid=invisible"},
		{"sys", "/sys", "sysfs", ""},
	} {
		if err := unix.Mount(m.src, m.dst, m.fstype, unix.MS_NOSUID|unix.MS_NOEXEC, m.data); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	if err := loadModules(guestModDir); err != nil {
		return err
	}
	// No module can be loaded from now on, by anyone.
	if err := os.WriteFile("/proc/sys/kernel/modules_disabled", []byte("1"), 0); err != nil {
		return fmt.Errorf("modules_disabled: %w", err)
	}
	if err := switchRoot(10 * time.Second); err != nil {
		return err
	}
	if err := unix.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("mount cgroup2: %w", err)
	}
	port, err := openPort(10 * time.Second)
	if err != nil {
		return err
	}
	if err := minimalDev(); err != nil {
		return err
	}
	fw := &frameWriter{w: port}
	logf := func(format string, a ...any) {
		_ = fw.write(frameLog, []byte(fmt.Sprintf(format, a...)))
	}
	// Ready, with the guest's uptime (kernel boot and init) and the
	// agent's share of it, for MOAT_TRACE's breakdown.
	up, _ := os.ReadFile("/proc/uptime")
	upSec, _, _ := strings.Cut(string(up), " ")
	upF, _ := strconv.ParseFloat(upSec, 64)
	ready, _ := json.Marshal(Ready{UptimeMS: int64(upF * 1000), AgentMS: time.Since(t0).Milliseconds()})
	_ = fw.write(frameReady, ready)
	if err := runJob(port, fw); err != nil {
		logf("%v", err)
		return err
	}
	return nil
}

// loadModules loads every .ko in dir, in name order (the host numbers them
// dependencies first). A module the kernel already has is fine.
func loadModules(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		f, err := os.Open(filepath.Join(dir, n))
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("load module %s: %w", n, err)
		}
	}
	return nil
}

// switchRoot mounts the runtime image (the first virtio disk, squashfs,
// read-only) and makes it the root, /dev, /proc and /sys moved along.
func switchRoot(wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := unix.Mount("/dev/vda", guestNewRoot, "squashfs", unix.MS_RDONLY|unix.MS_NODEV|unix.MS_NOSUID, "")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mount the runtime image /dev/vda: %w", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, d := range []string{"/dev", "/proc", "/sys"} {
		if err := unix.Mount(d, guestNewRoot+d, "", unix.MS_MOVE, ""); err != nil {
			return fmt.Errorf("move %s: %w", d, err)
		}
	}
	if err := unix.Chdir(guestNewRoot); err != nil {
		return err
	}
	if err := unix.Mount(".", "/", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move the root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	return unix.Chdir("/")
}

// minimalDev replaces the kernel's /dev (every device of the guest) by a
// tmpfs with native's devices and the usual links; moat's port and
// disk stay open or mounted below it.
func minimalDev() error {
	if err := unix.Mount("tmpfs", "/dev", "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "mode=0755,size=64k"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	for _, d := range []struct {
		name  string
		minor uint32
	}{{"null", 3}, {"zero", 5}, {"full", 7}, {"random", 8}, {"urandom", 9}} {
		p := "/dev/" + d.name
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(1, d.minor))); err != nil {
			return fmt.Errorf("mknod %s: %w", p, err)
		}
		if err := unix.Chmod(p, 0o666); err != nil {
			return err
		}
	}
	// The kernel's symbol table and memory and the sysrq trigger read as
	// /dev/null (the program's uid cannot use most of them anyway).
	for _, p := range []string{"/proc/kallsyms", "/proc/kcore", "/proc/sysrq-trigger", "/proc/timer_list", "/proc/keys"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if err := unix.Mount("/dev/null", p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mask %s: %w", p, err)
		}
	}
	// Ptys, as native has them (nsinit.DevptsOptions): a devpts instance
	// of the guest's own, at most nsinit.PtyMax terminals, /dev/ptmx its
	// link, and /dev/tty, the opener's controlling terminal (the program
	// starts in a session with none).
	if err := unix.Mknod("/dev/tty", unix.S_IFCHR|0o666, int(unix.Mkdev(5, 0))); err != nil {
		return fmt.Errorf("mknod /dev/tty: %w", err)
	}
	if err := unix.Chmod("/dev/tty", 0o666); err != nil {
		return err
	}
	if err := os.Mkdir("/dev/pts", 0o755); err != nil {
		return err
	}
	if err := unix.Mount("devpts", "/dev/pts", "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, nsinit.DevptsOptions); err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"} {
		if err := os.Symlink(target, "/dev/"+name); err != nil {
			return err
		}
	}
	return nil
}

// openPort waits for moat's virtio-serial port to appear and opens it.
func openPort(wait time.Duration) (*os.File, error) {
	deadline := time.Now().Add(wait)
	for {
		ents, _ := os.ReadDir("/sys/class/virtio-ports")
		for _, e := range ents {
			name, err := os.ReadFile(filepath.Join("/sys/class/virtio-ports", e.Name(), "name"))
			if err == nil && strings.TrimSpace(string(name)) == portName {
				f, err := os.OpenFile("/dev/"+e.Name(), os.O_RDWR, 0)
				if err == nil {
					return f, nil
				}
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no virtio-serial port %q after %s", portName, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ownUserNS says that the program is started in a user namespace of its
// own (every id mapped to itself), so that os/exec forks it into the
// persona's time namespace on a kernel that refuses the vfork (runJob).
var ownUserNS bool

// runJob reads the job and the workspace, runs the program and sends its
// output, its end and the work directory back.
func runJob(port *os.File, fw *frameWriter) error {
	buf := make([]byte, 64<<10)
	kind, p, err := readFrame(port, buf, maxHostFrame)
	if err != nil {
		return fmt.Errorf("read job: %w", err)
	}
	if kind != frameJob {
		return fmt.Errorf("first frame %q, want the job: %w", kind, errFrame)
	}
	var job Job
	if err := json.Unmarshal(p, &job); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if len(job.Argv) == 0 {
		return errors.New("job: no argv")
	}
	if err := job.Persona.check(); err != nil {
		return fmt.Errorf("job: %w", err)
	}
	if err := reseed(job.Seed); err != nil {
		return fmt.Errorf("reseed the guest's random pool: %w", err)
	}
	tv := unix.NsecToTimeval(job.NowNS)
	if err := unix.Settimeofday(&tv); err != nil {
		return fmt.Errorf("set the guest's clock: %w", err)
	}
	// The guest's kernel booted seconds ago (or a snapshot's did): what
	// the agent starts from here on runs in a time namespace whose clocks
	// are the persona's (Persona.Uptime). A guest kernel without time
	// namespaces shows its own uptime.
	if up := job.Persona.Uptime; up > 0 {
		var ts unix.Timespec
		if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
			return fmt.Errorf("boot clock: %w", err)
		}
		if ahead := up - time.Duration(ts.Nano()); ahead > 0 {
			err := timens.Ahead(ahead)
			if errors.Is(err, timens.ErrUnsupported) && job.Report != nil {
				// A kernel that refuses os/exec's vfork into the
				// namespace (Debian 12's 6.1) allows a fork: the
				// program's shim is started in a user namespace
				// (ownUserNS), which makes os/exec fork. Without the
				// report the agent's own deny list, which the program
				// inherits, refuses CLONE_NEWUSER: its clocks stay the
				// guest's.
				if err = timens.AheadForking(ahead); err == nil {
					ownUserNS = true
				}
			}
			if err != nil && !errors.Is(err, timens.ErrUnsupported) {
				return err
			}
		}
	}
	if err := fw.write(frameAccepted, nil); err != nil {
		return err
	}
	t0 := time.Now() // the zero of the report's times
	if err := setupDisk(job.Disk, job.Persona.Home); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(job.Persona.Host)); err != nil {
		return fmt.Errorf("host name: %w", err)
	}
	if err := personaEtc(job.Persona); err != nil {
		return err
	}
	// The guest's RAM is the memory limit and a little more: the kernel's
	// overcommit heuristic would refuse a large allocation outright (a
	// MemoryError, not the limit's kill); let the cgroup decide.
	if err := os.WriteFile("/proc/sys/vm/overcommit_memory", []byte("1"), 0); err != nil {
		return fmt.Errorf("overcommit: %w", err)
	}
	loErr := netns.LoopbackUp()
	var gnet *guestNet
	if job.Net != nil {
		if loErr != nil {
			return fmt.Errorf("sinkhole: loopback: %w", loErr)
		}
		if gnet, err = startNet(job.Net, t0); err != nil {
			return fmt.Errorf("sinkhole: %w", err)
		}
	}
	// /etc is complete (the persona's files, the sinkhole's resolver and
	// CA): read-only from here on.
	if err := unix.Mount("", "/etc", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("remount /etc read-only: %w", err)
	}
	// The workspace, then the files: the tar stream goes to treecopy as it
	// comes.
	pr, pw := io.Pipe()
	unpacked := make(chan error, 1)
	go func() {
		owner := &treecopy.Owner{UID: sandboxID, GID: sandboxID}
		_, err := treecopy.Unpack(pr, guestWork, treecopy.Limits{Bytes: job.Disk, Files: 1 << 20}, treecopy.Options{Owner: owner, KeepLinks: true, AnyNames: true, Whole: true})
		_, _ = io.Copy(io.Discard, pr)
		unpacked <- err
	}()
	files := map[string][]byte{}
	tree := false
read:
	for {
		kind, p, err := readFrame(port, buf, maxHostFrame)
		if err != nil {
			pw.CloseWithError(err)
			return fmt.Errorf("read workspace: %w", err)
		}
		switch kind {
		case frameTree:
			tree = true
			if _, err := pw.Write(p); err != nil {
				return fmt.Errorf("workspace: %w", err)
			}
		case frameFile:
			name, content, ok := strings.Cut(string(p), "\x00")
			if !ok || name == "" || strings.ContainsAny(name, "/") || name == "." || name == ".." {
				return fmt.Errorf("file frame without a plain name: %w", errFrame)
			}
			files[name] = []byte(content)
		case frameTreeEnd:
			break read
		default:
			return fmt.Errorf("frame %q before the workspace's end: %w", kind, errFrame)
		}
	}
	pw.Close()
	if err := <-unpacked; err != nil && tree {
		return fmt.Errorf("workspace: %w", err)
	}
	for name, content := range files {
		p := filepath.Join(guestWork, name)
		_ = os.Remove(p)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
		if err != nil {
			return fmt.Errorf("file %s: %w", name, err)
		}
		_, err = f.Write(content)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Lchown(p, sandboxID, sandboxID)
		}
		if err != nil {
			return fmt.Errorf("file %s: %w", name, err)
		}
	}
	files = nil
	var rep *guestReporter
	if job.Report != nil {
		if rep, err = startReport(job.Report, t0, job.Persona.Home, job.Persona.Uptime); err != nil {
			return fmt.Errorf("behaviour report: %w", err)
		}
	}
	if err := makeCgroup(job); err != nil {
		return err
	}
	ex := run(port, fw, job, buf, rep)
	b, _ := json.Marshal(ex)
	if err := fw.write(frameExit, b); err != nil {
		return err
	}
	if gnet != nil {
		evs, dropped := gnet.stop()
		if rep != nil {
			rep.net, rep.netDropped = evs, dropped
		}
	}
	if rep != nil {
		if err := rep.finish(fw); err != nil {
			return err
		}
	}
	if job.Out {
		w := fw.stream(frameOut)
		err := treecopy.Pack(w, guestWork, treecopy.Limits{Bytes: 256 << 20, Files: 10000})
		if err != nil && !errors.Is(err, treecopy.ErrLimit) && !errors.Is(err, treecopy.ErrIncomplete) {
			return fmt.Errorf("pack work: %w", err)
		}
		if err := fw.write(frameOutEnd, nil); err != nil {
			return err
		}
	}
	return fw.write(frameDone, nil)
}

// rndReseedCRNG is the RNDRESEEDCRNG ioctl, _IO('R', 0x07): the kernel's
// CRNG takes a new key from the input pool at once.
const rndReseedCRNG = 0x5207

// reseed mixes the host's seed into the guest kernel's input pool and
// makes the CRNG reseed from it, so that guests restored from one
// snapshot (one pool, one key) part ways before the program draws a byte.
func reseed(seed []byte) error {
	if len(seed) < 32 {
		return fmt.Errorf("a seed of %d bytes, want 32 or more", len(seed))
	}
	f, err := os.OpenFile("/dev/urandom", os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write(seed); err != nil {
		return err
	}
	return unix.IoctlSetInt(int(f.Fd()), rndReseedCRNG, 0)
}

// setupDisk mounts one tmpfs of size bytes and binds its directories as
// the only writable places: /work, /tmp, the home directory, /dev/shm.
// The home is a directory of a small tmpfs on /home, read-only around
// it; the disk's own mount point (guestScratch) is unmounted once its
// directories are bound, so that no path names it.
func setupDisk(size int64, home string) error {
	opts := fmt.Sprintf("mode=0755,size=%d,nr_inodes=%d", size, 1<<20)
	if err := unix.Mount("tmpfs", guestScratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mount the disk: %w", err)
	}
	if err := unix.Mount("tmpfs", guestHomes, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755,size=64k,nr_inodes=64"); err != nil {
		return fmt.Errorf("mount %s: %w", guestHomes, err)
	}
	if err := os.Mkdir(home, 0o755); err != nil {
		return fmt.Errorf("home: %w", err)
	}
	_ = os.Mkdir("/dev/shm", 0o755)
	for _, d := range []struct {
		name, at string
		mode     fs.FileMode
	}{{"work", guestWork, 0o755}, {"tmp", guestTmp, 0o777 | fs.ModeSticky}, {"home", home, 0o755}, {"shm", "/dev/shm", 0o777 | fs.ModeSticky}} {
		p := filepath.Join(guestScratch, d.name)
		if err := os.Mkdir(p, 0o700); err != nil {
			return err
		}
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
		if err := os.Chown(p, sandboxID, sandboxID); err != nil {
			return err
		}
		if err := unix.Mount(p, d.at, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", d.at, err)
		}
		if err := unix.Mount("", d.at, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return fmt.Errorf("remount %s: %w", d.at, err)
		}
	}
	if err := unix.Mount("", guestHomes, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("remount %s read-only: %w", guestHomes, err)
	}
	if err := unix.Unmount(guestScratch, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount the disk's mount point: %w", err)
	}
	return nil
}

// personaEtc makes the guest's /etc the run's: a tmpfs with a copy of
// the image's (writableEtc), the persona's user in passwd and group in
// place of any entry of its name or of uid or gid sandboxID, its host
// name in hostname and hosts, as native writes them. The sinkhole adds
// its files; then runJob makes /etc read-only.
func personaEtc(p Persona) error {
	if err := writableEtc(); err != nil {
		return err
	}
	passwd, _ := os.ReadFile("/etc/passwd")
	group, _ := os.ReadFile("/etc/group")
	installed := observe.Installed(p.Uptime)
	files := []struct{ name, content string }{
		{"passwd", withEntry(string(passwd), p.User, fmt.Sprintf("%s:x:%d:%d:%s:%s:/bin/bash", p.User, sandboxID, sandboxID, p.Gecos, p.Home))},
		{"group", withEntry(string(group), p.User, fmt.Sprintf("%s:x:%d:", p.User, sandboxID))},
		{"hostname", p.Host + "\n"},
		{"hosts", "127.0.0.1\tlocalhost\n127.0.1.1\t" + p.Host + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
	}
	for _, f := range files {
		// The image's file may be a link: the run's replaces it.
		path := "/etc/" + f.name
		_ = os.Remove(path)
		fd, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
		if err != nil {
			return fmt.Errorf("/etc/%s: %w", f.name, err)
		}
		_, err = fd.WriteString(f.content)
		if cerr := fd.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("/etc/%s: %w", f.name, err)
		}
		// The image's files were written at its build, before the
		// persona's machine booted (observe.Installed); hosts and
		// hostname at its start.
		if f.name == "passwd" || f.name == "group" {
			if err := os.Chtimes(path, installed, installed); err != nil {
				return fmt.Errorf("/etc/%s: %w", f.name, err)
			}
		}
	}
	return nil
}

// withEntry is the passwd or group file content with line, the
// persona's entry, at its end in place of every entry of name or of id
// sandboxID (the third field).
func withEntry(content, name, line string) string {
	id := strconv.Itoa(sandboxID)
	var out []string
	for _, l := range strings.Split(content, "\n") {
		f := strings.Split(l, ":")
		if strings.TrimSpace(l) == "" || f[0] == name || (len(f) > 2 && f[2] == id) {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(append(out, line), "\n") + "\n"
}

// maxEtc bounds what the agent copies of the image's /etc.
const maxEtc = 8 << 20

// cgroupDir is the program's cgroup in the guest.
const cgroupDir = "/sys/fs/cgroup/run"

// makeCgroup makes the program's cgroup with the job's limits.
func makeCgroup(job Job) error {
	if err := os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+memory +pids +cpu"), 0); err != nil {
		return fmt.Errorf("cgroup controllers: %w", err)
	}
	if err := os.Mkdir(cgroupDir, 0o755); err != nil {
		return fmt.Errorf("cgroup: %w", err)
	}
	set := map[string]string{
		"memory.max":      strconv.FormatInt(job.Memory, 10),
		"memory.swap.max": "0",
		"pids.max":        strconv.Itoa(job.Pids),
	}
	if job.CPUs > 0 {
		set["cpu.max"] = fmt.Sprintf("%d 100000", int64(job.CPUs*100000))
	}
	for k, v := range set {
		if err := os.WriteFile(filepath.Join(cgroupDir, k), []byte(v), 0); err != nil && k != "memory.swap.max" {
			return fmt.Errorf("cgroup %s: %w", k, err)
		}
	}
	return nil
}

// run starts the program as the sandbox user in its cgroup and waits for
// it, streaming its output and stdin.
func run(port *os.File, fw *frameWriter, job Job, buf []byte, rep *guestReporter) Exit {
	inR, inW, err := os.Pipe()
	if err != nil {
		return Exit{StartErr: "stdin pipe: " + err.Error()}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return Exit{StartErr: "stdout pipe: " + err.Error()}
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return Exit{StartErr: "stderr pipe: " + err.Error()}
	}
	// From here on the agent reaches the cgroups by descriptor: /sys is
	// covered by an empty read-only tmpfs, so the program sees no device,
	// driver or cgroup of the guest.
	cg, err := openCgroups()
	if err != nil {
		return Exit{StartErr: "cgroups: " + err.Error()}
	}
	if err := unix.Mount("tmpfs", "/sys", "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=4k,mode=0555"); err != nil {
		return Exit{StartErr: "cover /sys: " + err.Error()}
	}
	_ = unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{})
	_ = unix.Setrlimit(unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: 1024, Max: 1024})
	// No capability can come back through an exec: the bounding set is
	// emptied (the agent keeps what it has; it execs nothing else).
	if err := dropBounding(); err != nil {
		return Exit{StartErr: "capability bounding set: " + err.Error()}
	}
	// native's deny list: with the report on, as notifications the agent
	// answers, installed by the shim that becomes the program
	// (notify_guest_linux.go); else on every thread of the agent (it
	// needs none of those calls from here on), which the program
	// inherits. no_new_privs with it.
	if rep == nil {
		if _, err := seccomp.Install(); err != nil {
			return Exit{StartErr: "seccomp: " + err.Error()}
		}
	}
	attr := &os.ProcAttr{
		Dir:   guestWork,
		Env:   job.Env,
		Files: []*os.File{inR, outW, errW},
		Sys: &syscall.SysProcAttr{
			Setsid:     true,
			Credential: &syscall.Credential{Uid: sandboxID, Gid: sandboxID, Groups: []uint32{}},
		},
	}
	if ownUserNS {
		// Every id mapped to itself: the program's uid_map and gid_map
		// read as the initial namespace's ("0 0 4294967295"), and it
		// holds no capability in either.
		all := []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1<<32 - 1}}
		attr.Sys.Cloneflags = syscall.CLONE_NEWUSER
		attr.Sys.UidMappings, attr.Sys.GidMappings, attr.Sys.GidMappingsEnableSetgroups = all, all, true
	}
	// The program is born in its cgroup: the agent steps into it for the
	// fork and back out (the deny list refuses clone3, so no
	// CLONE_INTO_CGROUP; what the agent has used stays charged to the root).
	if err := cg.write(cg.run, "cgroup.procs", "1"); err != nil {
		return Exit{StartErr: "enter cgroup: " + err.Error()}
	}
	// A login session's login uid, for getlogin(): the agent's thread
	// (locked) forks the program. Best effort (package loginuid).
	_ = loginuid.Set(sandboxID)
	var proc *os.Process
	if rep != nil {
		proc, rep.kernel, err = startShim(job, attr, rep.start)
	} else {
		proc, err = os.StartProcess(job.Argv[0], job.Argv, attr)
	}
	if err := cg.write(cg.root, "cgroup.procs", "1"); err != nil && proc != nil {
		_ = proc.Kill()
		return Exit{StartErr: "leave cgroup: " + err.Error()}
	}
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		ex := Exit{StartErr: err.Error()}
		var errno syscall.Errno
		if errors.As(err, &errno) {
			ex.StartErrno = int(errno)
		}
		return ex
	}
	_ = fw.write(frameStarted, nil)
	// When the agent ends the run while the program still runs (the
	// host's timeout or output cap, a limit), the daemons are listed
	// before the cgroup is killed: one that outlasts the run rather than
	// the program is named too (survivors.AtStop).
	var stopMu sync.Mutex
	var atStop []survivors.Process
	listed := false
	listAtStop := func() {
		if rep == nil {
			return
		}
		stopMu.Lock()
		defer stopMu.Unlock()
		if listed {
			return
		}
		listed = true
		atStop = survivors.AtStop(proc.Pid, []int{proc.Pid}, func() []int { return cg.procs() })
	}
	drained := make(chan struct{}, 2)
	for _, s := range []struct {
		r    *os.File
		kind byte
	}{{outR, frameStdout}, {errR, frameStderr}} {
		go func() {
			_, _ = io.Copy(fw.stream(s.kind), s.r)
			s.r.Close()
			drained <- struct{}{}
		}()
	}
	go func() { // stdin from the host
		for {
			kind, p, err := readFrame(port, buf, maxHostFrame)
			if err != nil || kind == frameStdinEOF {
				inW.Close()
				if err != nil {
					return
				}
				continue
			}
			switch kind {
			case frameStdin:
				if _, err := inW.Write(p); err != nil {
					inW.Close()
				}
			case frameKill: // the host's timeout or output cap
				listAtStop()
				_ = cg.write(cg.run, "cgroup.kill", "1")
			}
		}
	}()
	// A limit reached ends the run, as on every backend: a fork bomb
	// that swallows its EAGAINs would otherwise run until the timeout.
	watchDone := make(chan struct{})
	go watchLimits(cg, watchDone, listAtStop)
	// pid 1 reaps every orphan; the program's own status is kept.
	var ex Exit
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if err != nil && !errors.Is(err, unix.EINTR) {
			break
		}
		if pid == proc.Pid {
			ex.Exited = true
			if ws.Signaled() {
				ex.Signal = int(ws.Signal())
			} else {
				ex.Code = ws.ExitStatus()
			}
			break
		}
	}
	close(watchDone)
	if rep != nil && ex.Exited {
		// What outlives the program is listed before it is killed: the
		// processes of its cgroup (nothing of the agent's is in it). The
		// program runs in a session of its own (Setsid).
		rep.outlived = survivors.Wait(proc.Pid, []int{proc.Pid}, func() []int { return cg.procs() })
	}
	if rep != nil {
		stopMu.Lock()
		if len(rep.outlived) == 0 {
			rep.outlived = atStop
		}
		listed = true // a stop from now on lists nothing
		stopMu.Unlock()
	}
	// Nothing of the program outlives it.
	_ = cg.write(cg.run, "cgroup.kill", "1")
	go func() {
		for {
			var ws unix.WaitStatus
			if _, err := unix.Wait4(-1, &ws, 0, nil); errors.Is(err, unix.ECHILD) {
				return
			}
		}
	}()
	<-drained
	<-drained
	ex.OOMKills = eventCount(cg.read(cg.run, "memory.events"), "oom_kill")
	ex.PidsHits = eventCount(cg.read(cg.run, "pids.events"), "max")
	if b := cg.read(cg.run, "memory.peak"); b != nil {
		ex.PeakMemory, _ = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	return ex
}

// maxCgroupPids bounds the pids read of the program's cgroup for the
// survivors' lists: a program's own children there do not hide a daemon
// behind them (survivors.AtStop counts only the daemons), up to this.
const maxCgroupPids = 4096

// procs are the pids of the program's cgroup, at most maxCgroupPids.
func (c *cgroups) procs() []int {
	fd, err := unix.Openat(c.run, "cgroup.procs", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	f := os.NewFile(uintptr(fd), "cgroup.procs")
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, maxCgroupPids*8))
	return cgroupPids(b)
}

// cgroupPids parses a cgroup.procs file, at most maxCgroupPids pids.
func cgroupPids(b []byte) []int {
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 && len(pids) < maxCgroupPids {
			pids = append(pids, pid)
		}
	}
	return pids
}

// watchLimits kills the program's cgroup once the memory limit has
// killed a process or the pids limit has refused a fork (the counts go
// to the host in the Exit, which names the limit).
func watchLimits(cg *cgroups, done <-chan struct{}, listed func()) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if eventCount(cg.read(cg.run, "memory.events"), "oom_kill") > 0 || eventCount(cg.read(cg.run, "pids.events"), "max") > 0 {
			listed()
			_ = cg.write(cg.run, "cgroup.kill", "1")
			return
		}
	}
}

// dropBounding empties the capability bounding set of every thread of
// the agent.
func dropBounding() error {
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return err
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return err
	}
	// prctl acts on the calling thread: the agent's main thread is locked
	// (Init) and is the one that forks.
	for c := 0; c <= last; c++ {
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop %d: %w", c, err)
		}
	}
	return nil
}

// cgroups are the guest's root cgroup and the program's, open.
type cgroups struct{ root, run int }

func openCgroups() (*cgroups, error) {
	root, err := unix.Open("/sys/fs/cgroup", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	run, err := unix.Open(cgroupDir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(root)
		return nil, err
	}
	return &cgroups{root: root, run: run}, nil
}

func (c *cgroups) write(dir int, name, v string) error {
	fd, err := unix.Openat(dir, name, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	_, err = unix.Write(fd, []byte(v))
	return err
}

// read is a small cgroup file's content, nil if it cannot be read.
func (c *cgroups) read(dir int, name string) []byte {
	fd, err := unix.Openat(dir, name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	b := make([]byte, 4096)
	n, err := unix.Read(fd, b)
	if err != nil {
		return nil
	}
	return b[:n]
}

// eventCount reads one counter of a cgroup events file's content.
func eventCount(b []byte, key string) int64 {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// writableEtc puts a tmpfs with a copy of the image's /etc (a few small
// files) over it, for the resolver's and the CA's files.
func writableEtc() error {
	type entry struct {
		rel, link string
		mode      fs.FileMode
		data      []byte
	}
	var ents []entry
	total := 0
	err := filepath.WalkDir("/etc", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "/etc" {
			return err
		}
		rel, _ := filepath.Rel("/etc", p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{rel: rel, mode: fi.Mode()}
		switch {
		case d.IsDir():
		case d.Type()&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
		case d.Type().IsRegular():
			total += int(fi.Size())
			if total > maxEtc {
				return errors.New("the image's /etc is too big to copy")
			}
			if e.data, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			return nil
		}
		ents = append(ents, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy /etc: %w", err)
	}
	if err := unix.Mount("tmpfs", "/etc", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=16m"); err != nil {
		return fmt.Errorf("mount /etc: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join("/etc", e.rel)
		switch {
		case e.mode.IsDir():
			err = os.Mkdir(p, e.mode.Perm())
		case e.link != "":
			err = os.Symlink(e.link, p)
		default:
			err = os.WriteFile(p, e.data, e.mode.Perm())
		}
		if err != nil {
			return fmt.Errorf("copy /etc: %w", err)
		}
	}
	return nil
}

// initramfsRoot reports whether / is the kernel's initramfs (its rootfs,
// a tmpfs or ramfs): with pid 1 and the name /init, this process is the
// guest's agent, never a container's or a machine's init. Nothing on the
// kernel's command line says so: the program can read that.
func initramfsRoot() bool {
	var st unix.Statfs_t
	if unix.Statfs("/", &st) != nil {
		return false
	}
	return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
}
