package survivors

import (
	"bytes"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Wait lists the survivors of the program (pid main, ended and reaped or
// a zombie) among procs (nil: every process of this PID namespace), once
// none is left, or after Grace once one is a daemon's or none has run for
// Quiet, or after SessionGrace. sessions are the program's: a survivor in
// any other called setsid. The caller kills them after.
func Wait(main int, sessions []int, procs func() []int) []Process {
	start := time.Now()
	moved, cpu, n := start, uint64(0), 0
	for {
		ps := List(main, sessions, procs)
		if len(ps) == 0 {
			return ps
		}
		now := time.Now()
		var c uint64
		for _, p := range ps {
			c += p.cpu
		}
		if c != cpu || len(ps) != n {
			moved, cpu, n = now, c, len(ps)
		}
		waited := now.Sub(start)
		if waited > SessionGrace || (waited > Grace &&
			(now.Sub(moved) > Quiet || slices.ContainsFunc(ps, func(p Process) bool { return p.Own }))) {
			return ps
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// List lists the processes of procs (nil: Procs) other than this one,
// main, zombies and kernel threads: at most Max, the last with More if
// there were more.
func List(main int, sessions []int, procs func() []int) []Process {
	if procs == nil {
		procs = Procs
	}
	self := os.Getpid()
	var ps []Process
	for _, pid := range procs() {
		if pid == self || pid == main {
			continue
		}
		p, ok := read(pid)
		if !ok {
			continue
		}
		if len(ps) == Max {
			ps[len(ps)-1].More = true
			return ps
		}
		p.Own = !slices.Contains(sessions, p.SID)
		ps = append(ps, p)
	}
	return ps
}

// Procs lists the processes of this PID namespace (its /proc).
func Procs() []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	var pids []int
	for {
		names, err := d.Readdirnames(256)
		for _, name := range names {
			if pid, err := strconv.Atoi(name); err == nil && pid > 0 {
				pids = append(pids, pid)
			}
		}
		if err != nil {
			return pids
		}
	}
}

// pfKthread is a kernel thread's flag in /proc/PID/stat (a micro-VM's
// guest lists them).
const pfKthread = 0x00200000

// read reads pid's state, session and command line; not ok for a zombie
// or a process gone.
func read(pid int) (Process, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := readBounded(dir+"/stat", 1024)
	if err != nil {
		return Process{}, false
	}
	// pid (comm) state ppid pgrp session ...: comm may hold anything, so
	// the fields are those after its last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return Process{}, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 7 || f[0] == "Z" || f[0] == "X" {
		return Process{}, false
	}
	if flags, _ := strconv.ParseUint(f[6], 10, 64); flags&pfKthread != 0 {
		return Process{}, false
	}
	sid, _ := strconv.Atoi(f[3])
	var cpu uint64
	if len(f) > 12 { // utime and stime, fields 14 and 15 of stat
		u, _ := strconv.ParseUint(f[11], 10, 64)
		s, _ := strconv.ParseUint(f[12], 10, 64)
		cpu = u + s
	}
	cmd, _ := readBounded(dir+"/cmdline", CmdBytes)
	cmd = bytes.ReplaceAll(bytes.TrimRight(cmd, "\x00"), []byte{0}, []byte{' '})
	return Process{PID: pid, SID: sid, Cmd: string(cmd), cpu: cpu}, true
}

// SID is pid's session, as this PID namespace sees it; not ok for a
// zombie or a process gone.
func SID(pid int) (int, bool) {
	p, ok := read(pid)
	return p.SID, ok
}

func readBounded(path string, n int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, n))
}

// AtStop lists, when moat ends the run while the program (pid main) still
// runs (its timeout, a limit), the daemons among procs (nil: Procs): the
// processes in a session other than sessions, which called setsid. The
// program's own children in its session are the program's work, not
// survivors, and do not count towards Max (so many of them do not hide
// a daemon). No grace: the caller kills them all next.
func AtStop(main int, sessions []int, procs func() []int) []Process {
	if procs == nil {
		procs = Procs
	}
	self := os.Getpid()
	var ds []Process
	for _, pid := range procs() {
		if pid == self || pid == main {
			continue
		}
		p, ok := read(pid)
		if !ok || slices.Contains(sessions, p.SID) {
			continue
		}
		if len(ds) == Max {
			ds[len(ds)-1].More = true
			return ds
		}
		p.Own = true
		ds = append(ds, p)
	}
	return ds
}
