package microvm

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// qemu boots VMs with QEMU's microvm machine: no PCI, no firmware, a
// virtio-mmio bus; the kernel is loaded directly.
type qemu struct{}

func (q *qemu) name() string { return "qemu" }

func (q *qemu) binary() (string, error) {
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return "", fmt.Errorf("qemu-system-x86_64 not found (apt-get install qemu-system-x86)")
	}
	return p, nil
}

func (q *qemu) version(ctx context.Context) (string, error) {
	bin, err := q.binary()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%s --version: %w", bin, err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(strings.TrimPrefix(line, "QEMU emulator version ")), nil
}

// args is QEMU's command line for cfg. -nodefaults and -no-user-config:
// no device and no configuration file but these; no network device, no
// disk, no display; the serial console to a file; moat's port.
func (q *qemu) args(cfg *vmConfig) []string {
	cpu := "max"
	if cfg.Accel == "kvm" {
		cpu = "host"
	}
	a := []string{
		"-M", "microvm,accel=" + cfg.Accel + ",x-option-roms=off",
		"-cpu", cpu,
		"-m", fmt.Sprintf("%dM", cfg.MemoryMiB),
		"-smp", fmt.Sprint(cfg.CPUs),
		"-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
		"-serial", "file:" + cfg.Console,
		"-kernel", cfg.Kernel, "-initrd", cfg.Initrd, "-append", cfg.Cmdline,
		"-drive", "file=" + cfg.Root + ",if=none,id=root,format=raw,readonly=on",
		"-device", "virtio-blk-device,drive=root",
		"-device", "virtio-serial-device,max_ports=2",
		"-chardev", "socket,id=moat,path=" + cfg.Channel,
		"-device", "virtserialport,chardev=moat,name=" + portName,
	}
	if cfg.QMP != "" {
		a = append(a, "-qmp", "unix:"+cfg.QMP+",server=on,wait=off")
	}
	if cfg.Incoming != "" {
		// QEMU 7.2 has no file: migration; the path is moat's cache, and
		// planSnapshot refuses one with a quote.
		a = append(a, "-incoming", "exec:cat '"+cfg.Incoming+"'")
	}
	return a
}

type qemuMachine struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (q *qemu) start(cfg *vmConfig) (machine, error) {
	bin, err := q.binary()
	if err != nil {
		return nil, err
	}
	log, err := os.OpenFile(cfg.Dir+"/qemu.log", os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(bin, q.args(cfg)...)
	cmd.Dir = cfg.Dir
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start qemu: %w", err)
	}
	m := &qemuMachine{cmd: cmd, done: make(chan struct{})}
	go func() { m.err = cmd.Wait(); close(m.done) }()
	return m, nil
}

func (m *qemuMachine) Wait() error { <-m.done; return m.err }
func (m *qemuMachine) Pid() int    { return m.cmd.Process.Pid }
func (m *qemuMachine) Kill() {
	select {
	case <-m.done:
	default:
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		_ = m.cmd.Process.Kill()
	}
}
