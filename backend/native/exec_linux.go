package native

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// hashes caches sha256s across runs: the interpreter and the userland
// are hashed once per moat process.
var hashes seccomp.ExecHashes

// fileHash returns the hex sha256 of the open regular file f.
func fileHash(f *os.File, st *unix.Stat_t) (string, error) {
	if st.Size > seccomp.MaxExecHash {
		return "", fmt.Errorf("%d bytes, over %d", st.Size, seccomp.MaxExecHash)
	}
	if s := hashes.Sum(f, st); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("%s: not read", f.Name())
}

// hostFileHash hashes a file of the host (the runtime's interpreter).
func hostFileHash(p string) (string, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return "", err
	}
	return fileHash(f, &st)
}

// execTarget judges the file an exec of a sandboxed process runs, f as
// seccomp.OpenExec opened it (inside the sandbox's root, never on the
// host): seccomp.ExecHashes.Exec, with the hashes kept across runs.
var execTarget = hashes.Exec

// procIDs returns the thread group id (the pid that os.getpid() gives
// and the audit hook reports), the parent's pid and the pids above it
// (nearest first, at most maxAncestors) of the host thread tid, all as
// the sandbox sees them. A seccomp notification names the calling thread,
// not its process: keying on it would make every thread of an audited
// process look unaudited.
func procIDs(tid int) (pid, ppid int, ancestors string) {
	pid, host := statusIDs(tid)
	var up []string
	for i := 0; host > 1 && i < maxAncestors; i++ {
		ns, next := statusIDs(host)
		if ns <= 0 {
			break
		}
		if i == 0 {
			ppid = ns
		} else {
			up = append(up, strconv.Itoa(ns))
		}
		if ns == 1 {
			break // the sandbox's init
		}
		host = next
	}
	return pid, ppid, strings.Join(up, ",")
}

// maxAncestors bounds the walk up the process tree.
const maxAncestors = 12

// statusIDs reads NStgid (its last field: the innermost namespace) and
// PPid (as the host sees it) from /proc/ID/status.
func statusIDs(id int) (nsTgid, hostPPid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(id) + "/status")
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "NStgid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				nsTgid, _ = strconv.Atoi(f[len(f)-1])
			}
		} else if rest, ok := strings.CutPrefix(l, "PPid:"); ok {
			hostPPid, _ = strconv.Atoi(strings.TrimSpace(rest))
		}
	}
	return nsTgid, hostPPid
}
