package audit

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat"
)

// Probe is one check of the battery.
type Probe struct {
	Name string
	What string // one line: what it tries
	// report: the probe prints a JSON report that judge reads.
	report bool
	// plain: no prelude; the probe imports nothing outside
	// RestrictedPython's policy.
	plain bool
	setup func(spec *moat.Spec, h *host, mark string)
	judge func(res *moat.Result, rep map[string]string, h *host, mark string) (contained bool, detail string)
	after func(h *host, mark string)
}

// Probes is the battery, in the order it runs.
var Probes = []*Probe{
	{Name: "host-files", What: "read a secret file planted on the host, /etc/shadow; write the host's /tmp", report: true,
		setup: func(s *moat.Spec, h *host, mark string) {
			s.Env = append(s.Env, "SECRET_PATH="+h.secretPath, "HOST_TMP_FILE="+hostTmpFile(mark))
		},
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			var got []string
			if strings.Contains(res.Stdout, h.secret) {
				got = append(got, "read the planted secret "+h.secretPath)
			}
			if ok(rep["shadow"]) {
				got = append(got, "read /etc/shadow")
			}
			if removeMarked(hostTmpFile(mark), mark) {
				got = append(got, "wrote "+hostTmpFile(mark))
			}
			return verdict(got, "secret %s, shadow %s, /tmp write %s", rep["secret"], rep["shadow"], rep["write_tmp"])
		},
		after: func(h *host, mark string) { removeMarked(hostTmpFile(mark), mark) },
	},
	{Name: "secrets", What: "list the user's home and credential directories, read the host's SSH host keys (compared by hash, never printed)", report: true,
		setup: func(s *moat.Spec, h *host, mark string) {
			s.Env = append(s.Env, "SECRET_PATHS="+strings.Join(secretPaths(h.home), ","))
		},
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			var got []string
			for _, p := range secretPaths(h.home) {
				if v := rep[p]; strings.HasPrefix(v, "ok:") && v == fingerprint(p) {
					got = append(got, p)
				}
			}
			if len(got) > 0 {
				return false, "the host's own: " + strings.Join(got, ", ")
			}
			return true, fmt.Sprintf("none of %d paths is the host's", len(secretPaths(h.home)))
		},
	},
	{Name: "env", What: "read the environment of another host process (/proc/PID/environ)", report: true,
		setup: func(s *moat.Spec, h *host, mark string) {
			s.Env = append(s.Env, "HELPER_PID="+strconv.Itoa(h.helper.Process.Pid))
		},
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			if strings.Contains(rep["found"], h.envSecret) {
				return false, "read the secret variable of the host process " + strconv.Itoa(h.helper.Process.Pid)
			}
			return true, "helper's environment: " + rep["helper"]
		},
	},
	{Name: "net-host", What: "connect to a TCP listener on the host's loopback and address", report: true,
		setup: func(s *moat.Spec, h *host, mark string) {
			s.Env = append(s.Env, "PORT="+h.port(), "TOKEN="+mark, "HOSTS="+strings.Join(h.addrs, ","))
		},
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			deadline := time.Now().Add(time.Second) // the listener reads the token on its own
			for !h.received(mark) && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			if h.received(mark) {
				return false, "the host's listener received the token (" + kv(rep) + ")"
			}
			return true, kv(rep)
		},
	},
	{Name: "net-egress", What: "find a route off the machine (UDP connect and send to a TEST-NET address)", report: true,
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			return allFailed(rep, "route4", "route6", "udp_send")
		},
	},
	{Name: "net-raw", What: "make raw, packet, vsock, netlink uevent and alg sockets", report: true,
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			return allFailed(rep, "raw_icmp", "packet", "vsock", "netlink_uevent", "alg")
		},
	},
	{Name: "fork-bomb", What: "fork 96 processes under a limit of 32", report: false,
		setup: func(s *moat.Spec, h *host, mark string) { s.Limits.Pids = 32; s.Limits.Timeout = 30 * time.Second },
		judge: func(res *moat.Result, _ map[string]string, h *host, mark string) (bool, string) {
			if res.Status == moat.StatusPids {
				return true, "killed at the process limit"
			}
			rep := lastJSON(res.Stdout)
			n, _ := strconv.Atoi(rep["forked"])
			if rep == nil {
				return false, fmt.Sprintf("status %s, no report", res.Status)
			}
			if n >= 64 {
				return false, fmt.Sprintf("forked %d processes under a limit of 32", n)
			}
			return true, fmt.Sprintf("forked %d, then %s", n, rep["stopped_by"])
		},
	},
	{Name: "memory-bomb", plain: true, What: "allocate 192MiB under a limit of 64MiB", report: false,
		setup: func(s *moat.Spec, h *host, mark string) {
			s.Limits.Memory = 64 << 20
			s.Limits.Timeout = 30 * time.Second
		},
		judge: func(res *moat.Result, _ map[string]string, h *host, mark string) (bool, string) {
			if res.Status == moat.StatusMemory {
				return true, "killed at the memory limit"
			}
			rep := lastJSON(res.Stdout)
			if rep == nil {
				return false, fmt.Sprintf("status %s, no report", res.Status)
			}
			n, _ := strconv.Atoi(rep["reached"])
			if n >= 128 {
				return false, fmt.Sprintf("allocated %dMiB under a limit of 64MiB", n)
			}
			return true, fmt.Sprintf("stopped at %dMiB by %s", n, rep["stopped_by"])
		},
	},
	{Name: "disk-bomb", What: "write 24MiB in 2MiB files under a disk limit of 8MiB", report: true,
		setup: func(s *moat.Spec, h *host, mark string) { s.Limits.Disk = 8 << 20 },
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			n, _ := strconv.ParseInt(rep["total"], 10, 64)
			if n > 9<<20 {
				return false, fmt.Sprintf("wrote %dMiB under a limit of 8MiB", n>>20)
			}
			return true, fmt.Sprintf("stopped at %dMiB by %s", n>>20, rep["stopped_by"])
		},
	},
	{Name: "output-bomb", plain: true, What: "print 1MiB under an output limit of 64KiB", report: false,
		setup: func(s *moat.Spec, h *host, mark string) { s.Limits.OutputLimit = 64 << 10 },
		judge: func(res *moat.Result, _ map[string]string, h *host, mark string) (bool, string) {
			if len(res.Stdout) > 64<<10 {
				return false, fmt.Sprintf("%d bytes captured under a limit of 64KiB", len(res.Stdout))
			}
			if res.Status == moat.StatusOutputLimit {
				return true, "killed at the output limit"
			}
			if res.StdoutTruncated {
				return true, fmt.Sprintf("capped at %d bytes (the program ended by itself before the kill)", len(res.Stdout))
			}
			return false, fmt.Sprintf("status %s, not truncated: the output limit was never reached", res.Status)
		},
	},
	{Name: "busy-loop", plain: true, What: "spin 20s under a timeout of 2s", report: false,
		setup: func(s *moat.Spec, h *host, mark string) { s.Limits.Timeout = 2 * time.Second },
		judge: func(res *moat.Result, _ map[string]string, h *host, mark string) (bool, string) {
			if res.Status == moat.StatusTimeout {
				return true, "killed at the timeout"
			}
			return false, fmt.Sprintf("status %s after %dms", res.Status, res.DurationMS)
		},
	},
	{Name: "orphans", What: "leave a daemon (double fork, setsid) running after the run", report: true,
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			if pids := processesWith(mark); len(pids) > 0 {
				return false, fmt.Sprintf("the daemon outlived the run on the host (pids %v; killed by the audit)", pids)
			}
			return true, "no process of the run is left"
		},
		after: func(h *host, mark string) {
			for _, pid := range processesWith(mark) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		},
	},
	{Name: "syscalls", What: "mount, unshare, ptrace, keyctl, bpf, io_uring, perf, reboot, kexec, modules, swap, acct, pivot_root, handles", report: true,
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			if arch, skip := rep["skip"]; skip {
				return true, "syscall numbers are x86_64's; not checked on " + arch
			}
			var got []string
			for _, k := range sortedKeys(rep) {
				if !SyscallDenied(rep[k]) {
					got = append(got, k+" ("+strings.TrimSpace(rep[k])+")")
				}
			}
			if len(got) > 0 {
				return false, "allowed: " + strings.Join(got, ", ")
			}
			return true, fmt.Sprintf("%d calls denied", len(rep))
		},
	},
	{Name: "proc-sys-writes", What: "open /proc/sys, /proc/sysrq-trigger and /sys files for writing (nothing written)", report: true,
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			var got []string
			for _, k := range sortedKeys(rep) {
				if !strings.HasPrefix(k, "/") || k == "/proc/self/oom_score_adj" {
					continue
				}
				if ok(rep[k]) && !(k == "/proc/sysrq-trigger" && rep["sysrq_is_null"] == "True") {
					got = append(got, k)
				}
			}
			if len(got) > 0 {
				return false, "writable: " + strings.Join(got, ", ")
			}
			return true, "none writable"
		},
	},
	{Name: "devices", What: "open /dev/mem, kmsg, disks, tun, fuse, kvm, /dev/tty; mknod a block device", report: true,
		setup: func(s *moat.Spec, h *host, mark string) {},
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			var got []string
			for _, k := range sortedKeys(rep) {
				if ok(rep[k]) {
					got = append(got, k)
				}
			}
			if len(got) > 0 {
				return false, "opened: " + strings.Join(got, ", ")
			}
			return true, "none opened"
		},
	},
	{Name: "tiocsti", What: "push input into a terminal (TIOCSTI)", report: true,
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			if rep["stdin"] == "err:EPERM" {
				return true, "TIOCSTI denied by a filter"
			}
			if rep["stdin"] == "ok" || ok(rep["devtty"]) || rep["stdin_isatty"] == "True" {
				return false, fmt.Sprintf("TIOCSTI not filtered (%s) and a terminal is reachable (/dev/tty %s)", rep["stdin"], rep["devtty"])
			}
			return false, fmt.Sprintf("TIOCSTI not filtered (%s); only the lack of a terminal here stopped it", rep["stdin"])
		},
	},
	{Name: "signals", What: "see and signal a host process (signal 0, SIGCONT)", report: true,
		setup: func(s *moat.Spec, h *host, mark string) {
			s.Env = append(s.Env, "HELPER_PID="+strconv.Itoa(h.helper.Process.Pid))
		},
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			if ok(rep["kill0"]) || ok(rep["sigcont"]) {
				return false, "signalled the host process " + strconv.Itoa(h.helper.Process.Pid)
			}
			return true, fmt.Sprintf("kill: %s; %s processes visible", rep["kill0"], rep["procs"])
		},
	},
	{Name: "capabilities", What: "hold capabilities or root, set the host name", report: true,
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			var got []string
			for _, k := range []string{"CapEff", "CapPrm"} {
				if strings.Trim(rep[k], "0") != "" {
					got = append(got, k+"="+rep[k])
				}
			}
			if rep["euid"] == "0" && len(got) > 0 {
				got = append(got, "euid 0")
			}
			if ok(rep["sethostname"]) {
				got = append(got, "sethostname allowed")
			}
			if len(got) > 0 {
				return false, strings.Join(got, ", ")
			}
			return true, fmt.Sprintf("no capabilities, NoNewPrivs %s, seccomp %s", rep["NoNewPrivs"], rep["Seccomp"])
		},
	},
	{Name: "fds", What: "read a descriptor the host left open and inheritable", report: true,
		setup: func(s *moat.Spec, h *host, mark string) { s.Env = append(s.Env, "LEAKED_FD="+strconv.Itoa(h.leakedFD)) },
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			if ok(rep["leaked"]) || strings.Contains(res.Stdout, h.secret) {
				return false, "read the inherited descriptor " + strconv.Itoa(h.leakedFD)
			}
			return true, "inherited descriptor: " + rep["leaked"]
		},
	},
	{Name: "cleanup", What: "leave files in the run's own working directory, TMPDIR and HOME", report: true,
		judge: func(res *moat.Result, rep map[string]string, h *host, mark string) (bool, string) {
			var left []string
			for _, p := range strings.Split(rep["paths"], ",") {
				if p != "" && filepath.IsAbs(p) && removeMarked(p, mark) {
					left = append(left, p)
				}
			}
			if len(left) > 0 {
				return false, "left on the host (removed by the audit): " + strings.Join(left, ", ")
			}
			return true, "nothing left on the host"
		},
	},
}

// SyscallDenied reports whether the syscalls probe's outcome for one call
// ("-1 EPERM", "0 ") is a denial: EPERM, EACCES or ENOSYS before the call
// could act.
func SyscallDenied(v string) bool {
	r, e, _ := strings.Cut(strings.TrimSpace(v), " ")
	return r == "-1" && (e == "EPERM" || e == "ENOSYS" || e == "EACCES")
}

// secretPaths are where the user's credentials live, and the machine's SSH
// host keys.
func secretPaths(home string) []string {
	var ps []string
	if home != "" {
		ps = append(ps, home)
		for _, n := range []string{".ssh", ".aws", ".config", ".docker", ".kube", ".gnupg", ".netrc", ".git-credentials", ".bash_history"} {
			ps = append(ps, filepath.Join(home, n))
		}
	}
	return append(ps, "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key")
}

// fingerprint is what the secrets probe reports for p when it reads the
// host's own p; "" when the host has no such thing.
func fingerprint(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return ""
	}
	var data []byte
	if fi.IsDir() {
		ents, err := os.ReadDir(p)
		if err != nil {
			return ""
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		data = []byte(strings.Join(names, "\n"))
	} else {
		f, err := os.Open(p)
		if err != nil {
			return ""
		}
		defer f.Close()
		buf := make([]byte, 64)
		n, _ := io.ReadFull(f, buf)
		data = buf[:n]
	}
	return fmt.Sprintf("ok:%x", sha256.Sum256(data))
}

func hostTmpFile(mark string) string { return "/tmp/moat-audit-host-" + mark }

// ok reports whether a probe's outcome is a success ("ok", "ok:…", "read:…").
func ok(v string) bool {
	return v == "ok" || strings.HasPrefix(v, "ok:") || strings.HasPrefix(v, "read:")
}

// verdict is contained when nothing got through.
func verdict(got []string, format string, a ...any) (bool, string) {
	if len(got) > 0 {
		return false, strings.Join(got, "; ")
	}
	return true, fmt.Sprintf(format, a...)
}

// allFailed is contained when every named attempt failed.
func allFailed(rep map[string]string, keys ...string) (bool, string) {
	var got []string
	for _, k := range keys {
		if ok(rep[k]) {
			got = append(got, k)
		}
	}
	if len(got) > 0 {
		return false, "succeeded: " + strings.Join(got, ", ")
	}
	return true, kv(rep)
}

func kv(rep map[string]string) string {
	var s []string
	for _, k := range sortedKeys(rep) {
		s = append(s, k+"="+rep[k])
	}
	return oneLine(strings.Join(s, " "))
}

func sortedKeys(m map[string]string) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}
