//go:build linux

package ssh_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/ssh"
	"github.com/moat-sandbox/moat/moattest"
)

func run(t *testing.T, cfg ssh.Config, spec *moat.Spec) (*moat.Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return (&ssh.Backend{Config: cfg}).Run(ctx, spec)
}

// leftDirs lists run directories left in the server's run directory.
func leftDirs(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "moat-ssh-*"))
	return m
}

// TestSSH runs moat's suite against a real OpenSSH server on loopback,
// logged in as an ordinary user. The host is this machine, so the suite's
// checks of host processes see the remote run's.
func TestSSH(t *testing.T) {
	s := startSSHD(t)
	cfg := s.config()
	cfg.Dir = runsDir(t)
	// MOAT_SSH_CASES=a,b runs only those cases (a rerun of one).
	var cases []string
	if only := os.Getenv("MOAT_SSH_CASES"); only != "" {
		cases = strings.Split(only, ",")
	} else {
		for _, c := range moattest.CaseNames() {
			if !cannotHold[c] {
				cases = append(cases, c)
			}
		}
	}
	moattest.Run(t, func() moat.Backend { return &ssh.Backend{Config: cfg} }, moattest.Options{
		AllowDegraded: true,
		NonRoot:       true,
		Layers:        []string{"dedicated-host", "host-key", "user-namespace", "pid-namespace", "uts-namespace", "network-none", "read-only-host", "disk", "rlimits", "timeout", "output-limit", "wipe", "behaviour-report", "honeytoken-witness"},
		Container:     &moattest.Container{Shell: true, SuidRoot: true, ExtraDevices: hostDevices},
		Cases:         cases,
	})
	if left := leftDirs(t, cfg.Dir); len(left) > 0 {
		t.Errorf("run directories left on the host: %q", left)
	}
}

// cannotHold are the suite's cases that assume a sandbox moat builds on
// this machine; a remote host is another machine the program may use as
// it likes (see docs/ssh.md).
var cannotHold = map[string]bool{
	// The host's own files, devices, /proc and /sys: the program sees
	// the device as its user does (read-only).
	"host-files": true, "devices": true, "proc-sys-writes": true,
	// No seccomp filter and no capability bounding on the host: the
	// system calls and socket families an ordinary user has.
	"syscalls": true, "capabilities": true, "socket-families": true, "tiocsti": true,
	// The program's user is the remote host's own login user, no
	// persona's, and its login uid whatever that host's sshd gave the
	// session (none here: os.getlogin() fails with ENXIO).
	"user": true,
	// The memory limit is RLIMIT_AS (no cgroup): the fills of tmpfs,
	// memfd and /dev/shm pages it does not count end at the tmpfs's size
	// or the host's memory, not at the limit these cases want reached.
	"limit-hides": true, "limit-hides-memfd": true, "limit-hides-fork": true,
}

// hostDevices: the remote host's /dev is its own.
var hostDevices = []string{}

// TestBadHosts: an unknown host key, a changed one, a refused key and an
// unreachable host each end in one line that says so, and nothing runs.
func TestBadHosts(t *testing.T) {
	s := startSSHD(t)
	spec := func() *moat.Spec { return &moat.Spec{Args: []string{"-c", "print(1)"}, AllowDegraded: true} }
	empty := filepath.Join(s.Dir, "empty_known_hosts")
	os.WriteFile(empty, nil, 0o644)
	other := filepath.Join(s.Dir, "other_known_hosts")
	otherPub := writeKey(t, filepath.Join(s.Dir, "other_host_key"))
	os.WriteFile(other, []byte("[127.0.0.1]:"+itoa(s.Port)+" "+strings.TrimSpace(string(marshal(otherPub)))+"\n"), 0o644)
	wrongKey := filepath.Join(s.Dir, "wrong_key")
	writeKey(t, wrongKey)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	for _, c := range []struct {
		name string
		edit func(*ssh.Config)
		want error
		text string
	}{
		{"unknown-host", func(c *ssh.Config) { c.KnownHosts = empty }, ssh.ErrUnknownHost, "is not in"},
		{"missing-known-hosts", func(c *ssh.Config) { c.KnownHosts = filepath.Join(s.Dir, "none") }, ssh.ErrUnknownHost, "no such file"},
		{"changed-key", func(c *ssh.Config) { c.KnownHosts = other }, ssh.ErrHostKeyChange, "CHANGED"},
		{"refused-key", func(c *ssh.Config) { c.Key = wrongKey }, ssh.ErrAuth, "refused the key"},
		{"unreachable", func(c *ssh.Config) { c.Port = closedPort }, ssh.ErrUnreachable, "connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := s.config()
			c.edit(&cfg)
			res, err := run(t, cfg, spec())
			if !errors.Is(err, c.want) || !errors.Is(err, moat.ErrUnavailable) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if res != nil {
				t.Errorf("a result for a run that never connected: %+v", res)
			}
			if msg := err.Error(); !strings.Contains(msg, c.text) || strings.Contains(msg, "\n") {
				t.Errorf("error %q: want one line that says %q", msg, c.text)
			}
			if err := (&ssh.Backend{Config: cfg}).Check(context.Background()); !errors.Is(err, c.want) {
				t.Errorf("Check: %v, want %v", err, c.want)
			}
		})
	}
}

// TestRefusals: what a remote host cannot enforce is refused, not
// weakened: other network modes, an image, a host interpreter, and any
// run that does not accept the missing cgroups.
func TestRefusals(t *testing.T) {
	s := startSSHD(t)
	cfg := s.config()
	for _, spec := range []*moat.Spec{
		{Args: []string{"-c", "pass"}, Network: moat.NetworkSinkhole, AllowDegraded: true},
		{Args: []string{"-c", "pass"}, Network: moat.NetworkAllow("example.com:443"), AllowDegraded: true},
		{Args: []string{"-c", "pass"}, Image: "python:3", AllowDegraded: true},
		{Args: []string{"-c", "pass"}, Python: "/usr/bin/python3", AllowDegraded: true},
	} {
		if _, err := run(t, cfg, spec); !errors.Is(err, moat.ErrUnsupported) {
			t.Errorf("%+v: %v, want ErrUnsupported", spec, err)
		}
	}
	cfg.Dir = runsDir(t)
	_, err := run(t, cfg, &moat.Spec{Args: []string{"-c", "pass"}})
	if !errors.Is(err, moat.ErrDegraded) || !strings.Contains(err.Error(), "cgroups") {
		t.Errorf("without AllowDegraded: %v, want ErrDegraded naming the cgroups", err)
	}
	if left := leftDirs(t, cfg.Dir); len(left) > 0 {
		t.Errorf("a refused run left its directory: %q", left)
	}
}

// TestReset: the reset command runs after every run, and one that fails
// fails the run.
func TestReset(t *testing.T) {
	s := startSSHD(t)
	cfg := s.config()
	cfg.Dir = runsDir(t)
	mark := filepath.Join(s.Dir, "reset-ran")
	cfg.Reset = `echo "$MOAT_SSH_HOST" >> ` + mark
	res, err := run(t, cfg, &moat.Spec{Args: []string{"-c", "print('hi')"}, AllowDegraded: true})
	if err != nil || res.Status != moat.StatusExited || res.Stdout != "hi\n" {
		t.Fatalf("run: %v, %+v", err, res)
	}
	if b, err := os.ReadFile(mark); err != nil || string(b) != "127.0.0.1\n" {
		t.Errorf("reset command: %q, %v; want it run once with MOAT_SSH_HOST", b, err)
	}
	cfg.Reset = "echo broken >&2; exit 3"
	res, err = run(t, cfg, &moat.Spec{Args: []string{"-c", "print('hi')"}, AllowDegraded: true})
	if err == nil || !strings.Contains(err.Error(), "reset command") || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("a failing reset: %v, want its error", err)
	}
	if res == nil || res.Stdout != "hi\n" || res.Status != moat.StatusError {
		t.Errorf("a failing reset: result %+v, want the output kept and status error", res)
	}
}

// TestCheckDescribe: the server's host works (Check), and `moat backends`
// says which host, its verified key, and what it enforces.
func TestCheckDescribe(t *testing.T) {
	s := startSSHD(t)
	b := &ssh.Backend{Config: s.config()}
	if err := b.Check(context.Background()); err != nil {
		t.Fatalf("Check: %v", err)
	}
	d := strings.Join(b.Describe(context.Background()), "\n")
	for _, want := range []string{"host moatssh@127.0.0.1:", "host key ssh-ed25519 SHA256:", "network none: a network namespace", "no reset command", "audit hook: a .pth line in an overlay of /"} {
		if !strings.Contains(d, want) {
			t.Errorf("Describe lacks %q:\n%s", want, d)
		}
	}
}

// TestHostSockets: network none on the host is a network namespace, which
// does not hold back a Unix socket that has a path: the user's systemd and
// D-Bus (/run/user/UID), the system's (/run/dbus, /run/docker.sock), any
// service listening under /run. Through them the program could start
// processes outside its namespaces, which the wipe would not find. The run
// sees an empty /run of its own.
func TestHostSockets(t *testing.T) {
	s := startSSHD(t)
	cfg := s.config()
	cfg.Dir = runsDir(t)
	d, err := os.MkdirTemp("/run", "moat-ssh-sock-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(d, "bus")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("host service\n"))
			c.Close()
		}
	}()
	code := `import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print('reached:', s.recv(64).decode().strip())
except OSError as e:
    print('refused:', e)`
	res, err := run(t, cfg, &moat.Spec{Args: []string{"-c", code, path}, AllowDegraded: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Stdout, "refused:") {
		t.Errorf("the run reached a Unix socket of the host under /run: %q %q", res.Stdout, res.Stderr)
	}
}

// TestHostIPC: System V IPC objects outlive the processes that made them;
// in the host's IPC namespace, a run's shared memory and message queues
// would be left after the wipe, for the host's processes and the next run
// to read. The run has an IPC namespace of its own, gone with it.
func TestHostIPC(t *testing.T) {
	s := startSSHD(t)
	cfg := s.config()
	cfg.Dir = runsDir(t)
	key := 0x6d6f0000 + int(time.Now().UnixNano()%0xffff)
	code := `import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
key = int(sys.argv[1])
print('shm', libc.shmget(key, 4096, 0o1600), 'msg', libc.msgget(key, 0o1600))`
	res, err := run(t, cfg, &moat.Spec{Args: []string{"-c", code, strconv.Itoa(key)}, AllowDegraded: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Stdout, "shm ") || strings.Contains(res.Stdout, "-1") {
		t.Fatalf("the run could not make its IPC objects: %q %q", res.Stdout, res.Stderr)
	}
	k := strconv.Itoa(key)
	for _, f := range []string{"/proc/sysvipc/shm", "/proc/sysvipc/msg"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if fs := strings.Fields(line); len(fs) > 1 && fs[0] == k {
				_ = exec.Command("ipcrm", map[bool]string{true: "-m", false: "-q"}[f == "/proc/sysvipc/shm"], fs[1]).Run()
				t.Errorf("the run left an IPC object on the host (%s): %s", f, line)
			}
		}
	}
}

// TestNestedNamespaceSurvivor: a program that makes a user and PID
// namespace of its own and leaves a daemon in it, under another name: the
// daemon is in the run's PID namespace too (a child namespace's processes
// are), and dies with the run's init, which the wipe's check of the run's
// own namespace alone would not see.
func TestNestedNamespaceSurvivor(t *testing.T) {
	s := startSSHD(t)
	cfg := s.config()
	cfg.Dir = runsDir(t)
	mark := fmt.Sprintf("moat-survivor-%d", time.Now().UnixNano())
	code := `import os, sys, subprocess
subprocess.Popen(['unshare', '--user', '--pid', '--fork', '--mount-proc', 'sh', '-c', 'exec -a ' + sys.argv[1] + ' sleep 300'],
                 start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
import time; time.sleep(1)
seen = [p for p in os.listdir('/proc') if p.isdigit() and sys.argv[1].encode() in open('/proc/%s/cmdline' % p, 'rb').read()]
print('started' if seen else 'not started')`
	res, err := run(t, cfg, &moat.Spec{Args: []string{"-c", code, mark}, AllowDegraded: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stdout != "started\n" {
		t.Fatalf("run: %q %q", res.Stdout, res.Stderr)
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), mark) {
			if pid, err := strconv.Atoi(e.Name()); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Errorf("a process of the run outlived its wipe: %d %q", pid(e.Name()), b)
		}
	}
}

func pid(s string) int { n, _ := strconv.Atoi(s); return n }
