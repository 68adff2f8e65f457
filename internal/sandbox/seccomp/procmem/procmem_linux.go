// Package procmem decodes what a notified process's system call names in
// its memory (/proc/PID/mem) beyond strings and argv (seccomp.ReadString,
// ReadArgv), for the supervisors of internal/sandbox/seccomp's notify
// filter (native's, the micro-VM agent's). What is read is evidence, never
// a decision: another thread of the caller may change the memory between
// this read and the kernel's. It is apart from package seccomp so that the
// sandbox inits, which import seccomp and start before the CLI's packages
// initialize, do not take on its dependencies (net/netip).
package procmem

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
)

// ReadSockaddr decodes the address a connect names: "ip:port" for inet,
// a path for unix sockets.
func ReadSockaddr(mem *os.File, addr, length uint64) (hostport, path string) {
	if addr == 0 || length < 2 {
		return "", ""
	}
	buf := make([]byte, min(length, MaxSockaddr))
	n, _ := mem.ReadAt(buf, int64(addr))
	return ParseSockaddr(buf[:n])
}

// Call fills ev's Kind, Path, Detail, SHA256 and Addr from a watched
// exec or connect notification n of thread tid, reading its memory (the
// caller's arguments): an exec's path and argv (argv bounded by maxArgv,
// the file's hash and whether it is missing by target, for execve only),
// a connect's address. A memory that cannot be read is said in Detail,
// and Call returns false.
func Call(ev *moat.Event, n seccomp.Notif, tid int, maxArgv int, target func(path string) (sha string, failed bool)) bool {
	nr := uint32(n.Nr)
	mem, merr := os.Open("/proc/" + fmt.Sprint(tid) + "/mem")
	switch nr {
	case unix.SYS_EXECVE, unix.SYS_EXECVEAT:
		ev.Kind = moat.KindExec
		pathArg, argvArg := n.Args[0], n.Args[1]
		if nr == unix.SYS_EXECVEAT {
			pathArg, argvArg = n.Args[1], n.Args[2]
		}
		if merr == nil {
			raw := seccomp.ReadString(mem, pathArg, 4096)
			whole := raw
			if raw != "" && !strings.HasPrefix(raw, "/") {
				// relative to the working directory, or to execveat's
				// directory: the path the program ran, made whole
				dir := "/proc/" + strconv.Itoa(tid) + "/cwd"
				if nr == unix.SYS_EXECVEAT && int32(n.Args[0]) != unix.AT_FDCWD {
					dir = "/proc/" + strconv.Itoa(tid) + "/fd/" + strconv.Itoa(int(int32(n.Args[0])))
				}
				d, err := os.Readlink(dir)
				if errors.Is(err, unix.ENAMETOOLONG) {
					// past PATH_MAX the kernel will not name it: walked up
					d, err = seccomp.DirName(dir, "/proc/"+strconv.Itoa(tid)+"/root")
				}
				switch {
				case err == nil && strings.HasPrefix(d, "/") && !strings.HasSuffix(d, " (deleted)"):
					whole = path.Join(d, raw)
					if len(whole) < unix.PathMax {
						raw = whole // else hashed by its relative path: none
					}
				case err != nil:
					whole = audit.CwdUnnamed + "/" + raw
				}
			}
			ev.Path = audit.CleanPath(whole, audit.MaxPath)
			ev.Detail = audit.Clean(seccomp.ReadArgv(mem, argvArg), maxArgv)
			if nr == unix.SYS_EXECVE {
				var failed bool
				ev.SHA256, failed = target(raw)
				if failed {
					ev.Kind = moat.KindExecFailed
				}
			}
		}
	default:
		ev.Kind = moat.KindConnect
		if merr == nil {
			ev.Addr, ev.Path = ReadSockaddr(mem, n.Args[1], n.Args[2])
		}
	}
	if mem != nil {
		mem.Close()
	}
	if merr != nil {
		ev.Detail = "memory unreadable: " + audit.Clean(merr.Error(), 100)
	}
	return merr == nil
}
