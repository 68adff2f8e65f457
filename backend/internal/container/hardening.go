package container

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe/egress"
)

// What every container gets. The program runs as User, never root, with
// no capabilities, no_new_privs, the Seccomp profile, no network, a
// read-only root and only the tmpfs mounts below writable. Its host name,
// user name, home, pid 1's command line and where moat's files are come
// from the run's persona (NewPersona).
const (
	User    = "1000:1000"
	WorkDir = ctrinit.WorkDir
	// Label marks every container of moat with its run id, for cleanup
	// and `moat gc`.
	Label = "moat.run"
	// InitPids is the pids limit's slack for the init (pid 1).
	InitPids = 1
	// InitReserve is the memory the container's limit has beyond the
	// program's, held by the init from its start (ctrinit.Header.Reserve)
	// and let go once the program is reaped: the tmpfs files a program
	// wrote up to the limit stay charged to the container after it dies,
	// and the init then walks and reads them in the room it let go.
	InitReserve = 32 << 20
)

// RunID returns a fresh identifier for a run's container name and label.
func RunID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Mount is one size-limited tmpfs.
type Mount struct {
	Path    string
	Size    int64
	Options string // for the engine: "rw,nosuid,nodev,exec,size=...,uid=...,gid=...,mode=..."
}

// Tmpfs splits the disk limit over the writable places, so that together
// they hold at most disk bytes (the native sandbox has one tmpfs for all;
// engines cannot bind one into several places): /work a half, /tmp a
// quarter, the home an eighth, and /dev/shm (returned apart, as engines size
// it with their own option) the last eighth.
//
// Each is exec, said in its options: the program runs and loads what it
// writes there, as on native, podman and gVisor direct (a test suite's
// compiled extension, a dropper's payload, which the report must see
// run). Docker merges noexec into every tmpfs whose options do not say
// exec (moby's daemon, for HostConfig.Tmpfs): under runc an exec there
// failed with EACCES and a .so's mmap(PROT_EXEC) with EPERM (no C
// extension built in /work loaded), under runsc the exec failed with
// EACCES. noexec kept nothing out: the program is an interpreter, and a
// memfd runs anyway.
func Tmpfs(disk int64, home string) (mounts []Mount, shm int64) {
	part := func(d int64) int64 { return max(disk/d/4096*4096, 64<<10) }
	for _, m := range []struct {
		path string
		div  int64
		mode string
	}{{WorkDir, 2, "0700"}, {"/tmp", 4, "1777"}, {home, 8, "0700"}} {
		size := part(m.div)
		mounts = append(mounts, Mount{Path: m.path, Size: size,
			Options: fmt.Sprintf("rw,nosuid,nodev,exec,size=%d,uid=1000,gid=1000,mode=%s", size, m.mode)})
	}
	return mounts, part(8)
}

// TrustMount is, in a sinkhole run, the tmpfs on the directory of the
// system trust store (egress.CAFile), where the init writes the run's CA
// (ctrinit.Header.CA): it hides the image's certificates, as native's
// sandbox holds only the run's CA.
func TrustMount() Mount {
	const size = 256 << 10
	return Mount{Path: path.Dir(egress.CAFile), Size: size,
		Options: fmt.Sprintf("rw,nosuid,nodev,size=%d,uid=1000,gid=1000,mode=0755", size)}
}

// MaskedPaths are hidden from the program (an empty read-only tmpfs over a
// directory, /dev/null over a file): the engines' defaults, what native
// masks in /proc, and all of /sys.
var MaskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/proc/kallsyms", "/proc/kpagecount", "/proc/kpageflags", "/proc/kpagecgroup", "/proc/config.gz",
	"/sys/firmware", "/sys/devices/virtual/powercap", "/sys",
}

// ReadonlyPaths are the engines' defaults: /proc entries that configure
// the kernel.
var ReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// Layers lists what a container run has in effect: the engine, runtime and
// image (as the backend describes them), the init (initVol; "" for
// bootstrap.py), the hardening, and the report.
func Layers(engine, runtime, image, initVol string, spec *moat.Spec, lim moat.Limits, p Persona) []moat.Layer {
	init := "moat's init (" + p.InitPath() + " from the read-only volume " + initVol + ": this moat binary, nothing of the host)"
	if initVol == "" {
		init = "bootstrap.py run by the image's python3 (the engine cannot run this moat binary)"
	}
	mounts, shm := Tmpfs(lim.Disk, p.Home)
	disk := ""
	for _, m := range mounts {
		disk += fmt.Sprintf("%s %d, ", m.Path, m.Size)
	}
	disk += fmt.Sprintf("/dev/shm %d bytes", shm)
	return []moat.Layer{
		{Name: "engine", Detail: engine},
		{Name: "runtime", Detail: runtime},
		{Name: "image", Detail: image},
		{Name: "init", Detail: init},
		{Name: "user", Detail: "user " + User + " (never root)"},
		{Name: "capabilities", Detail: "cap-drop ALL"},
		{Name: "no-new-privs", Detail: "no-new-privileges"},
		{Name: "seccomp", Detail: "seccomp: the engine default minus ptrace, process_vm_*, and TIOCSTI/TIOCLINUX ioctls; socket families unix, inet, inet6, netlink route only"},
		{Name: "read-only-rootfs", Detail: "read-only root filesystem from the image"},
		{Name: "network", Detail: networkLayer(spec)},
		{Name: "masked-paths", Detail: "/sys and sensitive /proc entries masked, /proc/sys read-only"},
		{Name: "disk", Detail: "tmpfs (nosuid,nodev): " + disk},
		{Name: "limits", Detail: fmt.Sprintf("memory %d bytes (no swap), pids %d (+%d for the init), cpus %g", lim.Memory, lim.Pids, InitPids, lim.CPUs)},
		{Name: "timeout", Detail: lim.Timeout.String()},
		{Name: "output-limit", Detail: fmt.Sprintf("%d bytes per stream", lim.OutputLimit)},
		{Name: "no-host-mounts", Detail: "no host path mounted; workspace copied in and out as a tar stream"},
		reportLayer(spec.NoReport),
	}
}

// networkLayer describes the container's network.
func networkLayer(spec *moat.Spec) string {
	if spec.Network == moat.NetworkSinkhole {
		return "network namespace of the container, loopback only, where moat (from the host) serves the " +
			(&egress.Config{Mode: egress.ModeSinkhole}).Describe()
	}
	return "network none: loopback only"
}

// HelperNetworkLayer is networkLayer's for a sinkhole served by moat's
// sink helper, a container of its own on the run's network namespace.
func HelperNetworkLayer() string {
	return "network namespace of the container, loopback only, where moat's sink helper (a container of its own sharing that namespace alone, with CAP_NET_ADMIN there) serves the " +
		(&egress.Config{Mode: egress.ModeSinkhole}).Describe()
}

// Denied are system calls the engines' default profile allows and moat
// does not: a program has no business tracing or reading other processes.
var Denied = []string{"ptrace", "process_vm_readv", "process_vm_writev", "io_uring_setup", "io_uring_enter", "io_uring_register"}

// ioctl requests denied whatever the descriptor (the kernel reads the low
// 32 bits): pushing input into a terminal, and the Linux console's ioctl.
const (
	tiocsti   = 0x5412
	tioclinux = 0x541C
)

// ioctlRules allow ioctl when its request differs from both denied values
// in some bit of the low 32: one rule per bit where the two agree, and one
// per combination of the bits where they differ that is neither. seccomp
// has no "not equal under a mask"; this is that, spelled in MASKED_EQ.
func ioctlRules() []rule {
	var rules []rule
	diff := uint64(tiocsti ^ tioclinux)
	for bit := range 32 {
		m := uint64(1) << bit
		if diff&m != 0 {
			continue
		}
		rules = append(rules, rule{Names: []string{"ioctl"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: m, ValueTwo: ^uint64(tiocsti) & m, Op: specs.OpMaskedEqual}}})
	}
	// Every value of the differing bits but the two denied requests'.
	for v := uint64(0); v <= diff; v++ {
		if v&^diff != 0 || v == tiocsti&diff || v == tioclinux&diff {
			continue
		}
		rules = append(rules, rule{Names: []string{"ioctl"}, Action: specs.ActAllow,
			Args: []specs.LinuxSeccompArg{{Index: 1, Value: diff, ValueTwo: v, Op: specs.OpMaskedEqual}}})
	}
	return rules
}

// profile and rule are the profile's JSON, with only the fields both
// engines (Docker 20.10+, Podman 4) read.
type profile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet,omitempty"`
	ArchMap         []seccomp.Architecture   `json:"archMap,omitempty"`
	Syscalls        []rule                   `json:"syscalls"`
}

type rule struct {
	Names    []string                 `json:"names"`
	Action   specs.LinuxSeccompAction `json:"action"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	Includes *seccomp.Filter          `json:"includes,omitempty"`
	Excludes *seccomp.Filter          `json:"excludes,omitempty"`
}
