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
// for the next: files in every writable place, a variable, a daemon.
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
}
for d in (".", "/tmp", "/dev/shm", home):
    open(os.path.join(d, "left-by-" + sys.argv[1]), "w").write("x")
os.environ["LEFT_BY"] = sys.argv[1]
if os.fork() == 0:
    os.setsid()
    import time
    time.sleep(600)
print(json.dumps(seen))
`

type poolSeen struct {
	Work, Tmp, Shm, Home []string
	Env                  map[string]string
	Procs                []int
	Host, AWS            string
}

// PoolIsolation runs n programs through p (of its template's image and
// options), each in a sandbox the pool prepared, and fails if one sees anything of another: a file in /work,
// /tmp, /dev/shm or home, a variable, a process (a daemon an earlier run
// left), the same honeytokens or persona.
func PoolIsolation(t *testing.T, p *pool.Pool, n int) {
	t.Helper()
	var runs []poolSeen
	for i := range n {
		WaitReady(t, p, 1)
		spec := p.Template() // its image and options
		spec.Args = []string{"-c", poolProbe, fmt.Sprint(i)}
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
		runs = append(runs, s)
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
		if _, ok := s.Env["LEFT_BY"]; ok {
			t.Errorf("run %d sees LEFT_BY", i)
		}
		if len(s.Procs) > 2 { // pid 1 (the init) and the program itself
			t.Errorf("run %d sees processes %v: an earlier run's daemon?", i, s.Procs)
		}
		for j := range i {
			o := runs[j]
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
