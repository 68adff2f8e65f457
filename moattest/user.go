package moattest

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
)

// userProbe asks for the program's user name every way a program does,
// with the environment's names (LOGNAME, USER...) removed, as a service's
// environment has none: getpwuid, the group's getgrgid, getpass.getuser,
// os.getlogin, and with a shell, whoami and id -un.
const userProbe = `
import getpass, grp, pwd, shutil, subprocess
for k in ('LOGNAME', 'USER', 'LNAME', 'USERNAME'):
    os.environ.pop(k, None)
R['uid'] = str(os.getuid())
R['home'] = os.environ.get('HOME', '')
R['pw'] = attempt(lambda: '%s:%s' % (pwd.getpwuid(os.getuid()).pw_name, pwd.getpwuid(os.getuid()).pw_dir))
R['gr'] = attempt(lambda: grp.getgrgid(os.getgid()).gr_name)
R['getpass'] = attempt(getpass.getuser)
R['getlogin'] = attempt(os.getlogin)
R['loginuid'] = tryread('/proc/self/loginuid')
for name, argv in (('whoami', ['whoami']), ('id', ['id', '-un'])):
    if shutil.which(argv[0]):
        p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        R[name] = '%d:%s' % (p.returncode, (p.stdout + p.stderr).decode('latin1').strip())
done()`

// testUser: the program's uid has a user and a group, as on any machine:
// its name (the persona's, never root or a sandbox's) from getpwuid,
// getpass, whoami and id -un; its home the persona's. Without them a
// program's getpass.getuser() raises, and malware that builds its paths
// from the user name stops before it shows itself. os.getlogin() answers
// the same name where the sandbox can give a login uid, and where the
// kernel has no /proc/self/loginuid (gVisor's) through the hook (not
// without the report, nor when the test runs in a login session, whose
// login uid the program inherits: docs/report.md).
func testUser(t *testing.T, s *suite) {
	spec := s.py(pyProbe + userProbe)
	if s.opts.Container == nil || !s.opts.Container.Shell {
		spec.Userland = true // whoami and id
		if sup, ok := s.newBackend().(moat.Supporter); ok {
			if err := sup.Supports(spec); errors.Is(err, moat.ErrUnsupported) {
				spec.Userland = false
			}
		}
	}
	res := s.run(t, spec)
	var p probes
	report(t, res, &p)
	name, home, _ := strings.Cut(strings.TrimPrefix(p["pw"], "ok:"), ":")
	if !strings.HasPrefix(p["pw"], "ok:") || name == "" {
		t.Fatalf("getpwuid(%s): %q, want the persona's user", p["uid"], p["pw"])
	}
	if name == "sandbox" || name == "moat" || (name == "root" && p["uid"] != "0") {
		t.Errorf("the user's name is %q: a sandbox's", name)
	}
	if home != p["home"] || !strings.HasPrefix(home, "/home/") && home != "/root" {
		t.Errorf("the user's home is %q, HOME %q", home, p["home"])
	}
	if !strings.HasPrefix(p["gr"], "ok:") {
		t.Errorf("getgrgid: %q, want the user's group", p["gr"])
	}
	if p["getpass"] != "ok:"+name {
		t.Errorf("getpass.getuser() with no LOGNAME or USER: %q, want ok:%s", p["getpass"], name)
	}
	for _, k := range []string{"whoami", "id"} {
		v, ok := p[k]
		if !ok {
			if spec.Userland || s.opts.Container != nil && s.opts.Container.Shell {
				t.Errorf("%s: not in the sandbox", k)
			}
			continue
		}
		if v != "0:"+name {
			t.Errorf("%s: %q, want 0:%s", k, v, name)
		}
	}
	switch why := noLogin(p["loginuid"]); {
	case strings.HasPrefix(p["loginuid"], "err:") && s.reportOff():
		// No /proc/self/loginuid (gVisor's Sentry) and no hook: glibc
		// looks for the terminal on fd 0 in utmp, and there is none. An
		// ordinary CI runner (a service's process: its login uid unset)
		// gets ENXIO instead, glibc's answer to the unset login uid: the
		// errno differs, the failure does not (docs/gvisor.md).
		if p["getlogin"] != "err:ENOTTY" {
			t.Errorf("os.getlogin() without a login uid nor the hook: %q, want err:ENOTTY (%s)", p["getlogin"], why)
		}
	case strings.HasPrefix(p["loginuid"], "err:"):
		// No /proc/self/loginuid: the hook's os.getlogin answers the
		// user of the process's uid (docs/gvisor.md), so a payload
		// built on it runs (package-test-index).
		if p["getlogin"] != "ok:"+name {
			t.Errorf("os.getlogin() without a login uid, with the hook: %q, want ok:%s (%s)", p["getlogin"], name, why)
		}
	case why != "":
		t.Logf("os.getlogin(): %q (%s)", p["getlogin"], why)
	case p["getlogin"] != "ok:"+name:
		t.Errorf("os.getlogin(): %q, want ok:%s", p["getlogin"], name)
	}
}

// noLogin says why the program cannot have a login uid of its own here,
// or "": loginuid is what it read of /proc/self/loginuid.
func noLogin(loginuid string) string {
	if strings.HasPrefix(loginuid, "err:") {
		// gVisor's Sentry: glibc's getlogin() then looks for the
		// terminal on fd 0 in utmp.
		return "the kernel has no /proc/self/loginuid (" + loginuid + ")"
	}
	if b, err := os.ReadFile("/proc/self/loginuid"); err == nil && strings.TrimSpace(string(b)) != "4294967295" {
		return "the test runs in a login session (login uid " + strings.TrimSpace(string(b)) + "): the program inherits it"
	}
	return ""
}
