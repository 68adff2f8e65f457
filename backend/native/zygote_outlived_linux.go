package native

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
)

// stopOutlived lists, from the host, the daemons of a zygote child's PID
// namespace (pid1, the host pid of its pid 1) when moat stops the run
// (its timeout, a limit) while the program still runs: the child's pid 1
// lists what outlives the program only when the program ends, and a stop
// kills it first. The program is pid 1's child with the lowest pid in the
// namespace (made first, ahead of the run), in a session of its own; a
// process of any other session than its and pid 1's called setsid. PIDs
// and sessions are given as the namespace sees them, as pid 1 gives them.
// None when the program is gone (pid 1 then lists them itself) or the
// namespace cannot be read.
func stopOutlived(pid1 int) []survivors.Process {
	ns, err := os.Readlink("/proc/" + strconv.Itoa(pid1) + "/ns/pid")
	if err != nil {
		return nil
	}
	var pids []int
	inner := map[int][2]int{} // host pid: pid, sid in the namespace
	main, mainInner := 0, 0
	for _, pid := range survivors.Procs() {
		if pid == pid1 {
			continue
		}
		if n, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid"); err != nil || n != ns {
			continue
		}
		ppid, ip, is, ok := nsIDs(pid)
		if !ok {
			continue
		}
		pids = append(pids, pid)
		inner[pid] = [2]int{ip, is}
		if ppid == pid1 && (main == 0 || ip < mainInner) {
			main, mainInner = pid, ip
		}
	}
	if main == 0 {
		return nil
	}
	sid1, ok := survivors.SID(pid1)
	if !ok {
		return nil
	}
	sessions := []int{sid1, main}
	ps := survivors.AtStop(main, sessions, func() []int { return pids })
	for i := range ps {
		in := inner[ps[i].PID]
		ps[i].PID, ps[i].SID = in[0], in[1]
	}
	return ps
}

// nsIDs reads pid's parent (host pid) and its pid and session in its own
// (innermost) PID namespace from /proc/PID/status.
func nsIDs(pid int) (ppid, innerPID, innerSID int, ok bool) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, 0, false
	}
	defer f.Close()
	last := func(v string) int {
		fs := strings.Fields(v)
		if len(fs) == 0 {
			return 0
		}
		n, _ := strconv.Atoi(fs[len(fs)-1])
		return n
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		switch k {
		case "PPid":
			ppid = last(v)
		case "NSpid":
			innerPID = last(v)
		case "NSsid":
			innerSID = last(v)
		}
	}
	return ppid, innerPID, innerSID, innerPID > 0 && innerSID >= 0
}
