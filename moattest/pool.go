package moattest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/pool"
)

// poolProbe is what a pooled run sees of its sandbox, and what it leaves
// for the next: files in every writable place, a variable, a daemon, the
// audit hook's .pth lines rewritten (where it can).
const poolProbe = `
import json, os, sys
home = os.path.expanduser("~")
aws = os.path.join(home, ".aws", "credentials")
seen = {
  "work": sorted(os.listdir(".")),
  "tmp": sorted(os.listdir("/tmp")),
  "shm": sorted(os.listdir("/dev/shm")),
  "home": sorted(os.listdir(home)),
  "env": dict(os.environ),
  "procs": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
  "host": os.uname().nodename,
  "aws": open(aws).read() if os.path.exists(aws) else "",
  "passwd": open("/etc/passwd").read() if os.path.exists("/etc/passwd") else "",
  "sysv": open("/proc/sysvipc/shm").read().splitlines()[1:] if os.path.exists("/proc/sysvipc/shm") else [],
  "random": __import__("random").getrandbits(64),
}
# The hook's .pth lines as this run found them; then the run tampers
# with every one it can (its site directories are its user's in a
# container): the next run must find them whole again.
import site
pth = []
for d in sorted(set(site.getsitepackages())):
    try:
        names = sorted(os.listdir(d))
    except OSError:
        continue
    for n in names:
        if n.endswith(".pth"):
            p = os.path.join(d, n)
            try:
                pth.append(open(p).read())
                os.chmod(d, 0o755)
                os.chmod(p, 0o644)
                open(p, "w").write("import sys; sys.stderr.write('pth-of-' + %r)\n" % sys.argv[1])
            except OSError:
                pass
seen["pth"] = pth
for d in (".", "/tmp", "/dev/shm", home):
    open(os.path.join(d, "left-by-" + sys.argv[1]), "w").write("x")
os.environ["LEFT_BY"] = sys.argv[1]
if sys.argv[2:] == ["forked"]:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.shmget(0x4d4f4154 + int(sys.argv[1]), 4096, 0o1000 | 0o666) < 0:
        raise OSError(ctypes.get_errno(), "shmget")
if os.fork() == 0:
    os.setsid()
    import time
    time.sleep(600)
print(json.dumps(seen))
`

type poolSeen struct {
	Work, Tmp, Shm, Home, Sysv []string
	Env                        map[string]string
	Procs                      []int
	Host, AWS, Passwd          string
	Random                     uint64
	Pth                        []string
}

// PoolMode says what more PoolIsolationMode checks.
type PoolMode struct {
	// Forked: the pool's sandboxes are forked from one process (the
	// native zygote), so also SysV shared memory (a segment each run
	// leaves), random state, a persona of each run's own (host name, and
	// /etc/passwd naming the run's USER with its HOME), and the report's
	// planted honeytokens being the ones the run saw.
	Forked bool
}

// PoolIsolation runs n programs through p (of its template's image and
// options), each in a sandbox the pool prepared, and fails if one sees anything of another: a file in /work,
// /tmp, /dev/shm or home, a variable, a process (a daemon an earlier run
// left), the same honeytokens or persona.
func PoolIsolation(t *testing.T, p *pool.Pool, n int) {
	t.Helper()
	PoolIsolationMode(t, p, n, PoolMode{})
}

// PoolIsolationMode is PoolIsolation with the checks of mode.
func PoolIsolationMode(t *testing.T, p *pool.Pool, n int, mode PoolMode) {
	t.Helper()
	var runs []poolSeen
	for i := range n {
		WaitReady(t, p, 1)
		spec := p.Template() // its image and options
		spec.Args = []string{"-c", poolProbe, fmt.Sprint(i)}
		if mode.Forked {
			spec.Args = append(spec.Args, "forked")
		}
		spec.Files = map[string][]byte{fmt.Sprintf("code%d.py", i): []byte("pass")}
		res, pooled, err := p.Run(context.Background(), &spec)
		if err != nil {
			t.Fatal(err)
		}
		if !pooled {
			t.Fatalf("run %d: not served by the pool", i)
		}
		if res.Status != moat.StatusExited || res.ExitCode != 0 {
			t.Fatalf("run %d: %s %d: %s", i, res.Status, res.ExitCode, res.Stderr)
		}
		var s poolSeen
		if err := json.Unmarshal([]byte(res.Stdout), &s); err != nil {
			t.Fatalf("run %d: %v: %q", i, err, res.Stdout)
		}
		if mode.Forked {
			forkedRun(t, i, res, &s)
		}
		runs = append(runs, s)
	}
	hosts := map[string]bool{}
	for _, s := range runs {
		hosts[s.Host+" "+s.Env["HOME"]] = true
	}
	if mode.Forked && n >= 3 && len(hosts) < 2 {
		t.Errorf("%d runs share one host name and home: %v", n, hosts)
	}
	for i, s := range runs {
		for _, l := range [][]string{s.Work, s.Tmp, s.Shm, s.Home} {
			for _, name := range l {
				if strings.HasPrefix(name, "left-by-") {
					t.Errorf("run %d sees %s of an earlier run", i, name)
				}
				if strings.HasPrefix(name, "code") && name != fmt.Sprintf("code%d.py", i) {
					t.Errorf("run %d sees the file %s of another run", i, name)
				}
			}
		}
		if !slices.Contains(s.Work, fmt.Sprintf("code%d.py", i)) {
			t.Errorf("run %d: its own file is missing: %v", i, s.Work)
		}
		for _, l := range s.Pth {
			if strings.Contains(l, "pth-of-") {
				t.Errorf("run %d finds a .pth an earlier run rewrote: %q", i, l)
			}
		}
		if i > 0 && len(s.Pth) != len(runs[0].Pth) {
			t.Errorf("run %d finds %d .pth files, run 0 found %d", i, len(s.Pth), len(runs[0].Pth))
		}
		if _, ok := s.Env["LEFT_BY"]; ok {
			t.Errorf("run %d sees LEFT_BY", i)
		}
		if len(s.Procs) > 2 { // pid 1 (the init) and the program itself
			t.Errorf("run %d sees processes %v: an earlier run's daemon?", i, s.Procs)
		}
		for j := range i {
			o := runs[j]
			if mode.Forked && s.Random == o.Random {
				t.Errorf("runs %d and %d: the same random numbers (random not reseeded)", j, i)
			}
			if s.Env["GITHUB_TOKEN"] == "" || s.Env["GITHUB_TOKEN"] == o.Env["GITHUB_TOKEN"] {
				t.Errorf("runs %d and %d: the same (or no) GITHUB_TOKEN honeytoken %q", j, i, s.Env["GITHUB_TOKEN"])
			}
			if s.AWS == "" || s.AWS == o.AWS {
				t.Errorf("runs %d and %d: the same (or no) AWS credentials honeytoken", j, i)
			}
		}
	}
}

// WaitReady waits until the pool has n sandboxes ready.
func WaitReady(t *testing.T, p *pool.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for p.Stats().Ready < n {
		if time.Now().After(deadline) {
			t.Fatalf("pool not ready after 2 minutes: %+v", p.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// forkedRun checks one run of PoolMode.Forked: no SysV segment of an
// earlier run, its persona's passwd entry, and its report's planted
// tokens the ones it saw.
func forkedRun(t *testing.T, i int, res *moat.Result, s *poolSeen) {
	t.Helper()
	if len(s.Sysv) > 0 {
		t.Errorf("run %d sees SysV shared memory: %q", i, s.Sysv)
	}
	if !slices.ContainsFunc(res.Layers, func(l moat.Layer) bool { return l.Name == "zygote" }) {
		t.Errorf("run %d: no zygote layer (what a forked sandbox shares): %v", i, res.Layers)
	}
	user, home := s.Env["USER"], s.Env["HOME"]
	if user == "" || !strings.Contains(s.Passwd, "\n"+user+":x:") && !strings.HasPrefix(s.Passwd, user+":x:") || !strings.Contains(s.Passwd, ":"+home+":") {
		t.Errorf("run %d: /etc/passwd is not its persona's (USER %q, HOME %q): %q", i, user, home, s.Passwd)
	}
	planted := map[string]string{}
	for _, e := range res.Events {
		if e.Kind == moat.KindHoneytokenPlanted {
			planted[e.Path] = e.Data
		}
	}
	if tok := s.Env["GITHUB_TOKEN"]; tok == "" || planted["$GITHUB_TOKEN"] != tok {
		t.Errorf("run %d: its report planted GITHUB_TOKEN %q, the run saw %q", i, planted["$GITHUB_TOKEN"], tok)
	}
	if aws := planted[home+"/.aws/credentials"]; aws == "" || !strings.Contains(s.AWS, aws) {
		t.Errorf("run %d: its report's AWS credentials are not the ones in its home", i)
	}
}
