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

// Call fills ev's Kind, Path, Detail, SHA256, Script and Addr from a watched
// exec or connect notification n of thread tid, reading its memory (the
// caller's arguments): an exec's path and argv (argv bounded by maxArgv),
// the file it runs, opened as the caller's kernel finds it
// (seccomp.OpenExec: also where its name cannot be had), given to target
// for its hash and whether the exec cannot succeed; a connect's address.
// An exec's file (nil where it could not be opened) is given to check,
// if not nil, to confirm after the exec (seccomp.ExecCheck.Expect).
// A memory that cannot be read is said in Detail, and Call returns false.
func Call(ev *moat.Event, n seccomp.Notif, tid int, maxArgv int, target func(f *os.File, err error) (sha string, failed bool), check *seccomp.ExecCheck) bool {
	nr := uint32(n.Nr)
	mem, merr := os.Open("/proc/" + fmt.Sprint(tid) + "/mem")
	switch nr {
	case unix.SYS_EXECVE, unix.SYS_EXECVEAT:
		ev.Kind = moat.KindExec
		pathArg, argvArg, envArg := n.Args[0], n.Args[1], n.Args[2]
		dirfd, flags := int32(unix.AT_FDCWD), uint64(0)
		if nr == unix.SYS_EXECVEAT {
			pathArg, argvArg, envArg = n.Args[1], n.Args[2], n.Args[3]
			dirfd, flags = int32(n.Args[0]), n.Args[4]
		}
		if merr == nil {
			raw := seccomp.ReadString(mem, pathArg, 4096)
			ev.Path, ev.Detail = ExecName(tid, dirfd, raw, flags)
			// LD_PRELOAD and LD_AUDIT: code the loader maps into what
			// runs, which no exec shows (kept apart from the command line).
			ev.Data = audit.Clean(seccomp.LoaderEnv(mem, envArg), 2000)
			if argv := audit.Clean(seccomp.ReadArgv(mem, argvArg), maxArgv); ev.Detail == "" {
				ev.Detail = argv
			} else {
				ev.Detail = argv + " (" + ev.Detail + ")"
			}
			// By its whole name where it has one the kernel resolves
			// (a link out of the directory followed inside the caller's
			// root); else (past PATH_MAX, a directory or descriptor not
			// named, an escaped name) by what the caller gave, from its
			// directory.
			var f *os.File
			var err error = unix.ENOENT
			if strings.HasPrefix(ev.Path, "/") && ev.Path != raw && !strings.HasPrefix(ev.Path, "/proc/self/fd/") && len(ev.Path) < unix.PathMax {
				f, err = seccomp.OpenExec(tid, unix.AT_FDCWD, ev.Path, 0)
			}
			if err != nil {
				f, err = seccomp.OpenExec(tid, dirfd, raw, flags)
			}
			if check != nil {
				check.Expect(tid, raw, f)
			}
			var failed bool
			ev.SHA256, failed = target(f, err)
			if ev.SHA256 != "" {
				line := seccomp.ScriptLine(f)
				ev.Script = audit.Clean(line, 300)
				ev.ScriptSHA256 = scriptSum(tid, line, target)
			}
			if f != nil {
				f.Close()
			}
			if failed {
				ev.Kind = moat.KindExecFailed
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

// scriptSum is the hash of the interpreter a script's "#!" line names,
// opened as the caller's kernel finds it (seccomp.OpenScriptInterpreter),
// judged by target: "" if none.
func scriptSum(tid int, line string, target func(f *os.File, err error) (sha string, failed bool)) string {
	interp := seccomp.ScriptInterpreter(line)
	if interp == "" {
		return ""
	}
	f, err := seccomp.OpenScriptInterpreter(tid, interp)
	sum, _ := target(f, err)
	if f != nil {
		f.Close()
	}
	return sum
}

// ExecName names what an exec of thread tid runs, from its arguments (the
// name raw, as read from the caller's memory): an absolute name as it
// is; a relative one made whole from the caller's working directory or
// execveat's directory (walked up, seccomp.DirName, where the kernel will
// not name it past PATH_MAX), or under audit.CwdUnnamed where neither
// can; an execveat of a descriptor (AT_EMPTY_PATH: fexecve, a memfd) as
// /proc/self/fd/N, which is what it runs. note says, for the event's
// detail, what the descriptor was, or why the name is not whole.
func ExecName(tid int, dirfd int32, raw string, flags uint64) (name, note string) {
	proc := "/proc/" + strconv.Itoa(tid) + "/"
	if raw == "" && flags&unix.AT_EMPTY_PATH != 0 {
		target, err := os.Readlink(proc + "fd/" + strconv.Itoa(int(dirfd)))
		if err != nil {
			target = "?"
		}
		return "/proc/self/fd/" + strconv.Itoa(int(dirfd)), audit.Clean("execveat of descriptor "+strconv.Itoa(int(dirfd))+", AT_EMPTY_PATH: "+target, 300)
	}
	if raw == "" || strings.HasPrefix(raw, "/") {
		return audit.CleanPath(raw, audit.MaxPath), ""
	}
	dir := proc + "cwd"
	if dirfd != unix.AT_FDCWD {
		dir = proc + "fd/" + strconv.Itoa(int(dirfd))
	}
	d, err := os.Readlink(dir)
	if errors.Is(err, unix.ENAMETOOLONG) {
		// past PATH_MAX the kernel will not name it: walked up
		d, err = seccomp.DirName(dir, proc+"root")
	}
	switch {
	case err == nil && strings.HasPrefix(d, "/") && !strings.HasSuffix(d, " (deleted)"):
		return audit.CleanPath(path.Join(d, raw), audit.MaxPath), ""
	case err == nil:
		return audit.CleanPath(audit.CwdUnnamed+"/"+raw, audit.MaxPath), audit.Clean("its directory is "+d, 300)
	default:
		return audit.CleanPath(audit.CwdUnnamed+"/"+raw, audit.MaxPath), audit.Clean("its directory could not be named: "+err.Error(), 200)
	}
}

// Listener fills ev (Kind listener, Name bind or listen, Addr, Detail)
// from a watched bind or listen notification n of thread tid, as socks
// judges it (seccomp.Sockets): false for one that opens no port (a
// client's bind, a Unix socket's), which is not recorded. A bind's
// address is read from the caller's memory; a listen's is its socket's
// bind's, or, not seen bound, "every address" (Addr empty, said in
// Detail), which the report takes as reachable from anywhere.
func Listener(ev *moat.Event, n seccomp.Notif, tid int, socks *seccomp.Sockets) bool {
	ev.Kind = moat.KindListener
	fd := int32(n.Args[0])
	var c seccomp.SocketCall
	var keep bool
	if uint32(n.Nr) == unix.SYS_BIND {
		ev.Name = "bind"
		var raw []byte
		if mem, err := os.Open("/proc/" + strconv.Itoa(tid) + "/mem"); err == nil {
			raw = ReadRawSockaddr(mem, n.Args[1], n.Args[2])
			mem.Close()
		}
		c, keep = socks.Bind(tid, fd, raw)
	} else {
		ev.Name = "listen"
		c, keep = socks.Listen(tid, fd)
	}
	if !keep {
		return false
	}
	ListenerDetail(ev, c)
	return true
}

// ReadRawSockaddr reads the address a bind or connect names from the
// caller's memory, at most MaxSockaddr bytes (nil if none).
func ReadRawSockaddr(mem *os.File, addr, length uint64) []byte {
	if addr == 0 || length < 2 {
		return nil
	}
	buf := make([]byte, min(length, MaxSockaddr))
	n, _ := mem.ReadAt(buf, int64(addr))
	return buf[:n]
}

// RanEvent is the kernel exec event of r, what a process ran after an
// exec that was not what the exec was read to run
// (seccomp.ExecCheck.Confirm): its file judged by target for its hash
// (and closed), named by the kernel's link, with the name the exec was
// read with in Detail.
// HiddenNote starts the detail of what ran after an exec where the
// process could no longer be read (seccomp.Ran.Hidden), before the name
// read; the report makes it a high evasion finding.
const HiddenNote = "the process hid its memory after the exec (not dumpable): what ran is unknown; the name read: "

func RanEvent(r seccomp.Ran, pid, ppid int, target func(f *os.File, err error) (sha string, failed bool)) moat.Event {
	if r.Hidden {
		return moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, PID: pid, PPID: ppid, Name: moat.ExecRan,
			Detail: HiddenNote + audit.Clean(r.Name, 300)}
	}
	sha, _ := target(r.File, nil)
	r.File.Close()
	ev := moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, PID: pid, PPID: ppid, Name: moat.ExecRan,
		Path: audit.CleanPath(r.Path, audit.MaxPath), SHA256: sha}
	name := audit.Clean(r.Name, 300)
	if r.Swapped {
		ev.Name = moat.ExecSwapped
		ev.Detail = "what ran after the exec (the kernel's link), not the file the witness read (another file, or this one rewritten since) by the name: " + name
	} else {
		ev.Detail = "what ran after the exec (the kernel's link); the witness could not open its name: " + name
	}
	return ev
}
