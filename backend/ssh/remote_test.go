package ssh

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// TestQuote: every word survives a real sh unchanged.
func TestQuote(t *testing.T) {
	for _, s := range []string{"", "a b", "it's", `"$HOME"`, "`id`", "a\nb", "'''", "\\"} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+quote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("quote(%q) through sh = %q, %v", s, out, err)
		}
	}
}

func TestSafePath(t *testing.T) {
	for p, want := range map[string]bool{"/var/tmp": true, "/home/a_b-c.d": true, "var/tmp": false, "/a b": false,
		"/a/../b": false, "/a/..": false, "/a;b": false, "/a$b": false, "/a'b": false, "": false} {
		if got := safePath(p); got != want {
			t.Errorf("safePath(%q) = %v", p, got)
		}
	}
}

// TestParseProbe: what the host says is read strictly.
func TestParseProbe(t *testing.T) {
	p, err := parseProbe("os=Linux\nuid=1002\ngid=1003\nhome=/home/u\npython3=yes\nns=yes\nnet=no unshare: unshare failed: Operation not permitted\nsystemd=no Failed to connect\nmade=yes\n")
	if err != nil {
		t.Fatal(err)
	}
	if p.OS != "Linux" || p.UID != 1002 || p.GID != 1003 || p.Home != "/home/u" || !p.Python || !p.NS || p.Net || !p.Made || p.Systemd {
		t.Errorf("probe = %+v", p)
	}
	if p.NetWhy != "unshare: unshare failed: Operation not permitted" {
		t.Errorf("NetWhy = %q", p.NetWhy)
	}
	// the site directory the hook's overlay goes on: a safe path only
	for site, want := range map[string]string{"/usr/local/lib/python3.11/dist-packages": "/usr/local/lib/python3.11/dist-packages",
		"/usr/lib/a,upperdir=/x": "", "/a b": "", "lib": ""} {
		if p, err := parseProbe("uid=1\ngid=1\nsite=" + site + "\n"); err != nil || p.Site != want {
			t.Errorf("site=%q: %q, %v; want %q", site, p.Site, err, want)
		}
	}
	for _, bad := range []string{"", "os=Linux\n", "uid=-1\ngid=0\n", "uid=x\ngid=0\n"} {
		if _, err := parseProbe(bad); err == nil {
			t.Errorf("parseProbe(%q) took it", bad)
		}
	}
}

// TestRunCommand: the namespaces, and the network one only for none.
func TestRunCommand(t *testing.T) {
	p := runParams{Dir: "/var/tmp/moat-ssh-1", Home: "/home/u", Net: true, Disk: 1 << 20, Fsize: 1 << 20, Nproc: 16, Program: "print('x')\n"}
	c := runCommand(p)
	for _, want := range []string{"echo moat-pid=$$ >&2;", "echo moat-start=$1 >&2;", "exec 'unshare' '--user' '--map-root-user' '--mount' '--uts' '--ipc' '--pid' '--fork' '--kill-child' '--mount-proc' '--net' '--' 'python3' '-I' '-S' '-c'",
		"size=1048576", "RLIMIT_NPROC, 16", "0x8914", "'/home/u'"} {
		if !strings.Contains(c, want) {
			t.Errorf("run command lacks %q:\n%s", want, c)
		}
	}
	if strings.Contains(c, "'overlay'") {
		t.Errorf("an overlay without a site directory:\n%s", c)
	}
	// the hook's site directory: an overlay on the run's tmpfs
	p.Site = "/usr/local/lib/python3.11/dist-packages"
	if c := prelude(p); !strings.Contains(c, "_mount('moat', _s, 'overlay', 6, 'lowerdir=%s,upperdir=%s/site/u,workdir=%s/site/w' % (_s, _d, _d))") ||
		!strings.Contains(c, "_s = '/usr/local/lib/python3.11/dist-packages'") || !strings.Contains(c, "_mount(_x, _t, None, 4096, None)") ||
		!strings.Contains(c, `site=\"/usr/local/lib/python3.11/dist-packages\"`) {
		t.Errorf("run command lacks the site directory's overlay:\n%s", c)
	}
	p.Site = ""
	p.Net = false
	if c := runCommand(p); strings.Contains(c, "'--net'") || strings.Contains(c, "0x8914") {
		t.Errorf("network namespace without network none:\n%s", c)
	}
	if got := launcher(1002, 1003); strings.Join(got, " ") != "unshare --map-user=1002 --map-group=1003 -- python3" {
		t.Errorf("launcher = %q", got)
	}
	// The prelude compiles.
	if out, err := exec.Command("python3", "-c", "import sys; compile(sys.argv[1], 'prelude', 'exec')", prelude(p)).CombinedOutput(); err != nil {
		t.Errorf("prelude does not compile: %s", out)
	}
}

// TestWipeCommand: a real sh runs it; with nothing to kill it removes the
// directory, even one the program made unreadable, and says left=0.
func TestWipeCommand(t *testing.T) {
	d := t.TempDir() + "/run"
	if err := exec.Command("/bin/sh", "-c", "mkdir -p "+d+"/work/x && touch "+d+"/work/x/f && chmod 000 "+d+"/work/x").Run(); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/bin/sh", "-c", wipeCommand(d, 0, 0, "pid:[1]")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "left=0" {
		t.Fatalf("wipe: %q, %v", out, err)
	}
	if err := exec.Command("test", "-e", d).Run(); err == nil {
		t.Errorf("%s still there", d)
	}
	if c := wipeCommand("/x", 42, 7, ""); !strings.Contains(c, "/proc/42/stat") || !strings.Contains(c, "= 7 ] && kill -KILL 42") {
		t.Errorf("wipe without a namespace: %s", c)
	}
	if c := wipeCommand("/x", 42, 0, ""); strings.Contains(c, "kill") {
		t.Errorf("wipe kills a pid whose start time it does not know: %s", c)
	}
}

// TestNeverAuto: auto never runs code on a remote host, even a configured
// one; it is run only by name.
func TestNeverAuto(t *testing.T) {
	t.Setenv(EnvHost, "127.0.0.1")
	for _, n := range moat.Strongest() {
		if n == "ssh" {
			t.Fatalf("auto may pick ssh: %q", moat.Strongest())
		}
	}
	if tech, ok := moat.LookupTechnique("ssh"); !ok || !tech.Explicit || tech.Level != moat.LevelHigh {
		t.Errorf("technique ssh = %+v", tech)
	}
}
