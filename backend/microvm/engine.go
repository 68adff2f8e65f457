package microvm

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
)

// vmConfig is one VM to boot.
type vmConfig struct {
	Dir       string // the run's private directory
	Kernel    string
	Initrd    string
	Root      string // the runtime image, read-only: the guest's root
	Cmdline   string
	MemoryMiB int64
	CPUs      int
	Accel     string // kvm or tcg
	// Console is a file for the guest's serial console (kernel messages
	// and the agent's errors), bounded by the reader.
	Console string
	// QMP asks for a QMP connection for moat (to save the VM); Incoming,
	// if set, is a saved VM to restore instead of booting (see
	// snapshot_linux.go).
	QMP      bool
	Incoming string
	// Name is the run's id, on the VMM's command line.
	Name string
	// NoSandbox runs QEMU without its seccomp filter (-sandbox): only
	// with Spec.AllowDegraded, where this QEMU has none.
	NoSandbox bool
}

// machine is a running VM.
type machine interface {
	// Wait waits for the VM's process to end.
	Wait() error
	// Kill ends the VM at once.
	Kill()
	// Pid is the host process of the VM.
	Pid() int
	// Channel is moat's end of the guest's virtio-serial port.
	Channel() *net.UnixConn
	// QMP is moat's end of QEMU's monitor (vmConfig.QMP), or nil.
	QMP() *net.UnixConn
}

// engine boots VMs.
type engine interface {
	name() string
	version(ctx context.Context) (string, error)
	start(cfg *vmConfig) (machine, error)
}

// hostTSCKHz is the host's TSC rate as /proc/cpuinfo gives it ("cpu MHz"
// of the first CPU), or 0.
func hostTSCKHz() int64 {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(k) == "cpu MHz" {
			mhz, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil || mhz <= 0 {
				return 0
			}
			return int64(mhz * 1000)
		}
	}
	return 0
}

// kernelCmdline is the guest kernel's command line: the serial console
// for the kernel's own messages, no reboot (a panic ends the VM), moat's
// agent as init, no PCI, no watchdog, the CPU's random numbers trusted for
// the early pool (Python wants entropy at once).
func kernelCmdline(accel string, tscKHz int64) string {
	c := []string{
		"console=ttyS0", "quiet", "loglevel=3", "panic=-1", "reboot=t",
		"rdinit=" + guestInit, // the agent knows itself by pid 1, /init and the initramfs (Init): no marker of moat's here
		"pci=off", "nowatchdog", "nmi_watchdog=0", "random.trust_cpu=on",
		"i8042.noaux", "i8042.nomux", "i8042.dumbkbd", "cryptomgr.notests",
		"lsm=landlock,yama", "cgroup_no_v1=all", "swiotlb=noforce",
	}
	if accel != "kvm" && tscKHz > 0 {
		// Under emulation the guest's TSC is the host's, and the microvm
		// machine has no HPET or PM timer to calibrate it against: the
		// kernel is told its rate (without it, it hangs once it marks the
		// TSC unstable).
		c = append(c, fmt.Sprintf("tsc_early_khz=%d", tscKHz), "tsc=reliable")
	}
	return strings.Join(c, " ")
}
