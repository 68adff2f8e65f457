package jail

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

func plan() Plan {
	return Plan{Name: "moat-0123456789abcdef", Root: "/tmp/moat-jail-1", Limits: moat.Limits{Memory: 64 << 20, Pids: 16, CPUs: 0.5, Disk: 8 << 20, Timeout: time.Second}, RCTL: true}
}

// TestParams: the jail has no address, sees only its own mounts, cannot
// make jails, has every allow.* off and a raised securelevel.
func TestParams(t *testing.T) {
	ps := Params(plan())
	for _, want := range []string{"name=moat-0123456789abcdef", "path=/tmp/moat-jail-1", "ip4=disable", "ip6=disable",
		"enforce_statfs=2", "children.max=0", "securelevel=3", "devfs_ruleset=4", "persist"} {
		if !slices.Contains(ps, want) {
			t.Errorf("parameters lack %s: %q", want, ps)
		}
	}
	allows := 0
	for _, p := range ps {
		if strings.HasPrefix(p, "allow.") {
			allows++
			if !strings.HasSuffix(p, "=0") {
				t.Errorf("%s: every allow.* must be off", p)
			}
		}
		if strings.HasPrefix(p, "ip4.addr") || strings.HasPrefix(p, "ip6.addr") || p == "vnet=new" {
			t.Errorf("%s: the jail must have no address", p)
		}
	}
	for _, a := range []string{"allow.raw_sockets=0", "allow.mount=0", "allow.chflags=0", "allow.sysvipc=0", "allow.set_hostname=0", "allow.socket_af=0", "allow.mlock=0", "allow.unprivileged_proc_debug=0"} {
		if !slices.Contains(ps, a) {
			t.Errorf("parameters lack %s", a)
		}
	}
	if got := CreateCommand(plan()); got[0] != "/usr/sbin/jail" || got[1] != "-c" || !slices.Equal(got[2:], ps) {
		t.Errorf("CreateCommand = %q", got)
	}
	if got := RemoveCommand("moat-x"); !slices.Equal(got, []string{"/usr/sbin/jail", "-r", "moat-x"}) {
		t.Errorf("RemoveCommand = %q", got)
	}
}

// TestMounts: a tmpfs root of the disk limit, the runtime read-only by
// nullfs, and the unmounts in the reverse order (devfs first, root last).
func TestMounts(t *testing.T) {
	p := plan()
	ms := MountCommands(p)
	if want := []string{"/sbin/mount", "-t", "tmpfs", "-o", "size=8388608,mode=0755,nosuid", "tmpfs", p.Root}; !slices.Equal(ms[0], want) {
		t.Errorf("root mount = %q, want %q", ms[0], want)
	}
	if len(ms) != 1+len(RuntimeDirs) {
		t.Fatalf("%d mounts", len(ms))
	}
	for i, d := range RuntimeDirs {
		if want := []string{"/sbin/mount_nullfs", "-o", "ro,nosuid", d, p.Root + d}; !slices.Equal(ms[i+1], want) {
			t.Errorf("mount %d = %q, want %q", i+1, ms[i+1], want)
		}
	}
	us := UnmountCommands(p)
	if us[0][2] != p.Root+"/dev" || us[len(us)-1][2] != p.Root || us[1][2] != p.Root+RuntimeDirs[len(RuntimeDirs)-1] {
		t.Errorf("unmounts out of order: %q", us)
	}
}

// TestRCTL: memory kills at the limit, processes are denied past it, CPU
// is throttled in percent of one core.
func TestRCTL(t *testing.T) {
	want := []string{
		"jail:moat-0123456789abcdef:memoryuse:sigkill=67108864",
		"jail:moat-0123456789abcdef:maxproc:deny=16",
		"jail:moat-0123456789abcdef:openfiles:deny=4096",
		"jail:moat-0123456789abcdef:pcpu:deny=50",
	}
	if got := RCTLRules(plan()); !slices.Equal(got, want) {
		t.Errorf("RCTLRules = %q, want %q", got, want)
	}
	p := plan()
	p.Limits.CPUs = 0
	if got := RCTLRules(p); len(got) != 3 {
		t.Errorf("no CPU limit asked, rules %q", got)
	}
	if got := RCTLCommands(plan()); len(got) != 4 || !slices.Equal(got[0][:2], []string{"/usr/bin/rctl", "-a"}) {
		t.Errorf("RCTLCommands = %q", got)
	}
	if got := RCTLRemove("moat-x"); !slices.Equal(got, []string{"/usr/bin/rctl", "-r", "jail:moat-x"}) {
		t.Errorf("RCTLRemove = %q", got)
	}
}

// TestExec: the program runs as nobody, with only its environment (env
// -i --, so that no entry is taken for an option), in /work, its
// arguments untouched by any shell.
func TestExec(t *testing.T) {
	spec := &moat.Spec{Env: []string{"FOO=bar", "-x=y"}}
	got := ExecCommand("moat-x", "/usr/local/bin/python3", Env(spec), []string{"-c", "print(1)", "$HOME", "a b"})
	want := []string{"/usr/sbin/jexec", "-u", "nobody", "moat-x", "/usr/bin/env", "-i", "--",
		"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/sandbox", "TMPDIR=/tmp", "LANG=C.UTF-8", "USER=sandbox", "LOGNAME=sandbox", "PYTHONUNBUFFERED=1",
		"FOO=bar", "-x=y",
		"/bin/sh", "-c", `cd /work && exec "$@"`, "moat-jail", "/usr/local/bin/python3", "-c", "print(1)", "$HOME", "a b"}
	if !slices.Equal(got, want) {
		t.Errorf("ExecCommand =\n%q\nwant\n%q", got, want)
	}
}

// TestSupports: only network none, no image.
func TestSupports(t *testing.T) {
	b := &Backend{}
	for _, s := range []*moat.Spec{{Network: moat.NetworkSinkhole}, {Network: moat.NetworkAllow("a:1")}, {Image: "x"}} {
		if err := b.Supports(s); !errors.Is(err, moat.ErrUnsupported) {
			t.Errorf("%+v: %v", s, err)
		}
	}
	if err := b.Supports(&moat.Spec{}); err != nil {
		t.Errorf("network none: %v", err)
	}
}

// TestUnavailableHere: anywhere but FreeBSD the backend says why it is
// unavailable, and that it is unverified.
func TestUnavailableHere(t *testing.T) {
	if runtime.GOOS == "freebsd" {
		t.Skip("on FreeBSD")
	}
	b := &Backend{}
	err := b.Check(context.Background())
	if !errors.Is(err, moat.ErrUnavailable) || !strings.Contains(err.Error(), "FreeBSD only") || !strings.Contains(err.Error(), "unverified") {
		t.Errorf("Check = %v", err)
	}
	if _, err := b.Run(context.Background(), &moat.Spec{Args: []string{"-c", "pass"}}); !errors.Is(err, moat.ErrUnavailable) {
		t.Errorf("Run = %v", err)
	}
	if d := b.Describe(context.Background()); len(d) != 1 || !strings.HasPrefix(d[0], "unverified") {
		t.Errorf("Describe = %q", d)
	}
}
