package pid1

import (
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// TasksPoll is how often WatchTasks counts.
const TasksPoll = 20 * time.Millisecond

// WatchTasks keeps a pids limit from pid 1 (inits whose host cannot
// count the program's processes: a Sentry's tasks are not the host's).
// It counts the tasks of every process of the namespace but this init
// until done is closed; when they reach limit it sets hit, stops them
// all, lists the daemons (listed) and kills them all, until done (a fork
// bomb held at its RLIMIT_NPROC sits there until killed).
func WatchTasks(limit int, hit *atomic.Bool, done <-chan struct{}, listed func()) {
	t := time.NewTicker(TasksPoll)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if hit.Load() || tasks(limit) >= limit {
			if !hit.Swap(true) {
				// The daemons are listed before the kill, every process
				// stopped meanwhile: a fork bomb does not grow while
				// /proc is read.
				_ = unix.Kill(-1, unix.SIGSTOP)
				listed()
			}
			// Again at every tick until the program is reaped: a fork
			// racing the kill (a Sentry signals its tasks one by one)
			// may leave a child that forks on.
			_ = unix.Kill(-1, unix.SIGKILL)
		}
	}
}

// tasks counts the threads of every process in /proc but pid 1 (this
// init); zombies too, which hold their slot until reaped. The processes
// alone, from one read of /proc, decide when they are enough: a fork
// bomb keeps the kernel (a Sentry) so busy that each further system call
// of this init waits its turn.
func tasks(limit int) int {
	d, err := os.Open("/proc")
	if err != nil {
		return 0
	}
	names, _ := d.Readdirnames(-1)
	_ = d.Close()
	var pids []string
	for _, name := range names {
		if name != "1" && name[0] >= '0' && name[0] <= '9' {
			pids = append(pids, name)
		}
	}
	if len(pids) >= limit {
		return len(pids)
	}
	n := 0
	for _, pid := range pids {
		if t, err := os.ReadDir("/proc/" + pid + "/task"); err == nil {
			n += len(t)
		} else {
			n++ // gone, or a zombie whose task directory cannot be read
		}
	}
	return n
}
