package container

import (
	"bytes"
	"cmp"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
)

// daemonsAtLimit lists, from the host, the daemons among the container's
// processes (its cgroup c) as its pids limit ends the run: the host kills
// the container there at once, before its init could list what outlived
// the program. A daemon is a process in a session other than the
// program's (the init's child started first); the program's own children
// are its work and do not count (survivors.AtStop). Read from this host's
// /proc (the container's processes are this kernel's: runc, crun; not a
// Sentry's), pids and sessions then given as the container sees them.
// Everything read is the program's: survivors bounds it.
func (c Cgroup) daemonsAtLimit() []survivors.Process {
	b, err := os.ReadFile(filepath.Join(cmp.Or(c.Pids, c.Memory), "cgroup.procs"))
	if err != nil {
		return nil
	}
	var pids []int
	init := 0
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		switch {
		case err != nil || pid <= 0:
		case init == 0 && nsInit(pid):
			init = pid
		default:
			pids = append(pids, pid)
		}
	}
	if init == 0 {
		return nil
	}
	main, first := 0, uint64(0)
	for _, pid := range pids {
		if ppid, start, ok := parentStart(pid); ok && ppid == init && (main == 0 || start < first) {
			main, first = pid, start
		}
	}
	if main == 0 {
		return nil
	}
	sid, ok := survivors.SID(main)
	if !ok {
		return nil
	}
	ds := survivors.AtStop(main, []int{sid}, func() []int { return pids })
	for i := range ds {
		ds[i].SID = nsField(ds[i].PID, "NSsid", ds[i].SID)
		ds[i].PID = nsField(ds[i].PID, "NSpid", ds[i].PID)
	}
	return ds
}

// parentStart reads pid's parent and start time (in ticks) from its stat.
func parentStart(pid int) (ppid int, start uint64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	start, err2 := strconv.ParseUint(f[19], 10, 64)
	return ppid, start, err1 == nil && err2 == nil
}

// nsField is the last value of a /proc/PID/status line key (NSpid,
// NSsid: as the innermost pid namespace sees it), def if none.
func nsField(pid int, key string, def int) int {
	f := nsFields(pid, key)
	if len(f) == 0 {
		return def
	}
	if n, err := strconv.Atoi(f[len(f)-1]); err == nil {
		return n
	}
	return def
}
