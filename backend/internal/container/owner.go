package container

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// OwnerLabel names the moat process that made a container or volume,
// for `moat gc`: "BOOT/PID/START", this host's boot id
// (/proc/sys/kernel/random/boot_id), the pid and its start time in clock
// ticks after boot (/proc/PID/stat's 22nd field). A pid is reused; the
// three together are not: while a process of that boot, pid and start
// time lives, what it labelled is a live run's (one still starting: its
// /etc volume before the container that mounts it exists) and gc spares
// it.
const OwnerLabel = "moat.owner"

// OwnerGrace is how long gc spares what has no owner it can judge (no
// label: an older moat's; another boot's: a moat on another machine
// sharing the daemon, or this one before a reboot) once it was made: a
// run's start, from a volume's making to the container that mounts it,
// is seconds; a volume in use is never removed anyway.
const OwnerGrace = 10 * time.Minute

// Owner is this process's OwnerLabel value, "" where it cannot be read
// (no /proc: moat on macOS with a daemon elsewhere).
func Owner() string { return owner() }

var owner = sync.OnceValue(func() string { return ownerOf(os.Getpid()) })

// Labels are what moat labels a container or volume of the run id with:
// Label, and OwnerLabel where Owner is known.
func Labels(id string) map[string]string {
	m := map[string]string{Label: id}
	if o := Owner(); o != "" {
		m[OwnerLabel] = o
	}
	return m
}

func ownerOf(pid int) string {
	boot := bootID()
	start, ok := startTime(pid)
	if boot == "" || !ok {
		return ""
	}
	return fmt.Sprintf("%s/%d/%d", boot, pid, start)
}

// OwnerAlive says whether the process an OwnerLabel value names still
// runs (alive), and whether the value could be judged here at all
// (known: it is of this boot, well formed). A value not known says
// nothing either way.
func OwnerAlive(v string) (alive, known bool) {
	parts := strings.Split(v, "/")
	if len(parts) != 3 || parts[0] == "" || parts[0] != bootID() {
		return false, false
	}
	pid, err1 := strconv.Atoi(parts[1])
	start, err2 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || pid <= 0 {
		return false, false
	}
	now, ok := startTime(pid)
	return ok && now == start, true
}

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// startTime reads pid's start time (clock ticks after boot) from
// /proc/PID/stat: the 20th field after the command's closing parenthesis
// (the command may hold spaces and parentheses: the last one ends it).
func startTime(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}
