// Package jail runs the program in a FreeBSD jail made for the run and
// removed after it: the seed's "BSD jail", OS-level virtualisation on
// FreeBSD's single kernel.
//
// # The jail
//
// Each run gets a fresh jail (Params): no IP address (ip4 and ip6
// disabled: network none), enforce_statfs=2 (the jail sees only its own
// mounts), children.max=0 (no jails inside), every allow.* off (no raw
// sockets, no mounts, no chflags, no SysV IPC, no mlock, no set_hostname,
// no debugging of other processes...), securelevel 3, and devfs with
// ruleset 4 (devfsrules_jail: null, zero, random, the tty and fd
// devices). Its root is a tmpfs sized by the disk limit, with the
// runtime (/bin, /lib, /libexec, /usr/bin, /usr/lib, /usr/libexec,
// /usr/local, /usr/share) mounted read-only by nullfs from the host; the
// program runs as nobody with an environment of its own (jexec -u nobody,
// env -i). Limits are RCTL rules on the jail (memoryuse, maxproc,
// openfiles, pcpu) when racct is enabled (kern.racct.enable=1 at boot);
// without it the run needs --allow-degraded. When the run ends, jail -r
// kills every process of the jail, and the mounts and the root go.
//
// # Unverified
//
// moat's CI runs on Linux: this backend is built for FreeBSD
// (GOOS=freebsd go build and vet) and its parameters and command lines are
// tested as pure functions, but it has never run on a FreeBSD host there.
// `moat backends` says so on every host.
package jail

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat"
)

// Backend runs specs in FreeBSD jails.
type Backend struct{}

var (
	_ moat.Backend   = (*Backend)(nil)
	_ moat.Checker   = (*Backend)(nil)
	_ moat.Describer = (*Backend)(nil)
	_ moat.Supporter = (*Backend)(nil)
)

func init() {
	moat.Register("jail", func() moat.Backend { return &Backend{} })
}

// Unverified is what `moat backends` says of the backend on every host.
const Unverified = "unverified: built for FreeBSD and its jail parameters tested, but never run on a FreeBSD host by moat's CI"

// Supports refuses what a jail without an IP address cannot enforce, and
// an image.
func (b *Backend) Supports(spec *moat.Spec) error {
	if spec.Network != moat.NetworkNone {
		return fmt.Errorf("jail: network mode %q: a jail without an address enforces only none: %w", spec.Network, moat.ErrUnsupported)
	}
	if spec.Image != "" {
		return fmt.Errorf("jail: --image %q: a jail runs the host's python3, no image: %w", spec.Image, moat.ErrUnsupported)
	}
	return nil
}

// RuntimeDirs are mounted read-only (nullfs) from the host into every
// jail: the base system's binaries and libraries and the packages' prefix,
// where python3 lives.
var RuntimeDirs = []string{"/bin", "/lib", "/libexec", "/usr/bin", "/usr/lib", "/usr/libexec", "/usr/local", "/usr/share"}

// Plan is one run's jail.
type Plan struct {
	Name   string // moat-<hex>
	Root   string // the jail's root, a tmpfs
	Limits moat.Limits
	// RCTL: racct is enabled, so the limits are RCTL rules.
	RCTL bool
}

// Params are the jail's parameters for jail -c.
func Params(p Plan) []string {
	return []string{
		"name=" + p.Name,
		"path=" + p.Root,
		"host.hostname=sandbox",
		"persist",
		"ip4=disable",
		"ip6=disable",
		"vnet=inherit", // no vnet: with ip4/ip6 disabled the jail has no address at all
		"enforce_statfs=2",
		"children.max=0",
		"securelevel=3",
		"devfs_ruleset=4",
		"mount.devfs",
		"allow.set_hostname=0",
		"allow.sysvipc=0",
		"allow.raw_sockets=0",
		"allow.chflags=0",
		"allow.mount=0",
		"allow.mount.devfs=0",
		"allow.mount.nullfs=0",
		"allow.mount.tmpfs=0",
		"allow.mount.procfs=0",
		"allow.mount.fdescfs=0",
		"allow.quotas=0",
		"allow.socket_af=0",
		"allow.mlock=0",
		"allow.reserved_ports=0",
		"allow.read_msgbuf=0",
		"allow.unprivileged_proc_debug=0",
		"allow.suser=0",
		"allow.nfsd=0",
		"allow.extattr=0",
		"allow.adjtime=0",
		"allow.settime=0",
		"allow.routing=0",
		"allow.setaudit=0",
		"sysvmsg=disable",
		"sysvsem=disable",
		"sysvshm=disable",
	}
}

// CreateCommand creates the jail.
func CreateCommand(p Plan) []string { return append([]string{"/usr/sbin/jail", "-c"}, Params(p)...) }

// RemoveCommand removes the jail, killing every process in it.
func RemoveCommand(name string) []string { return []string{"/usr/sbin/jail", "-r", name} }

// MountCommands prepare the jail's root, in order: a tmpfs of the disk
// limit, then each runtime directory read-only by nullfs. UnmountCommands
// undo them, in reverse order.
func MountCommands(p Plan) [][]string {
	lim := p.Limits.WithDefaults()
	cmds := [][]string{{"/sbin/mount", "-t", "tmpfs", "-o", "size=" + strconv.FormatInt(lim.Disk, 10) + ",mode=0755,nosuid", "tmpfs", p.Root}}
	for _, d := range RuntimeDirs {
		cmds = append(cmds, []string{"/sbin/mount_nullfs", "-o", "ro,nosuid", d, p.Root + d})
	}
	return cmds
}

// UnmountCommands unmount what MountCommands and jail -c (devfs) mounted,
// innermost first.
func UnmountCommands(p Plan) [][]string {
	cmds := [][]string{{"/sbin/umount", "-f", p.Root + "/dev"}}
	for i := len(RuntimeDirs) - 1; i >= 0; i-- {
		cmds = append(cmds, []string{"/sbin/umount", "-f", p.Root + RuntimeDirs[i]})
	}
	return append(cmds, []string{"/sbin/umount", "-f", p.Root})
}

// RCTLRules are the limits as rules on the jail: memory and processes
// kill or deny at the limit, CPU is throttled to the cores asked for.
func RCTLRules(p Plan) []string {
	lim := p.Limits.WithDefaults()
	subj := "jail:" + p.Name + ":"
	rules := []string{
		subj + "memoryuse:sigkill=" + strconv.FormatInt(lim.Memory, 10),
		subj + "maxproc:deny=" + strconv.Itoa(lim.Pids),
		subj + "openfiles:deny=4096",
	}
	if lim.CPUs > 0 {
		rules = append(rules, subj+"pcpu:deny="+strconv.Itoa(int(lim.CPUs*100+0.5)))
	}
	return rules
}

// RCTLCommands add the rules; RCTLRemove removes every rule of the jail.
func RCTLCommands(p Plan) [][]string {
	var cmds [][]string
	for _, r := range RCTLRules(p) {
		cmds = append(cmds, []string{"/usr/bin/rctl", "-a", r})
	}
	return cmds
}

// RCTLRemove removes the jail's rules.
func RCTLRemove(name string) []string { return []string{"/usr/bin/rctl", "-r", "jail:" + name} }

// ExecCommand runs the program in the jail as nobody, in /work, with env
// alone as its environment.
func ExecCommand(name, python string, env, args []string) []string {
	cmd := []string{"/usr/sbin/jexec", "-u", "nobody", name, "/usr/bin/env", "-i", "--"}
	cmd = append(cmd, env...)
	cmd = append(cmd, "/bin/sh", "-c", `cd /work && exec "$@"`, "moat-jail", python)
	return append(cmd, args...)
}

// Env is the program's environment in the jail: the sandbox's variables,
// then the spec's (later entries win with env).
func Env(spec *moat.Spec) []string {
	env := []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/sandbox", "TMPDIR=/tmp", "LANG=C.UTF-8",
		"USER=sandbox", "LOGNAME=sandbox", "PYTHONUNBUFFERED=1"}
	for _, kv := range spec.Env {
		if !strings.ContainsRune(kv, 0) {
			env = append(env, kv)
		}
	}
	return env
}
