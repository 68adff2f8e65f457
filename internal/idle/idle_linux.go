package idle

import (
	"bytes"
	"os"
	"strconv"
)

// counts reads the first line of /proc/stat, the time of all cores in
// ticks: user nice system idle iowait irq softirq steal ...; idle is
// idle and iowait (a core waiting on the disk would run a task that is
// ready). cores is the number of "cpuN" lines.
func counts() (idle, total uint64, cores int, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, 0, false
	}
	return parse(b)
}

func parse(b []byte) (idle, total uint64, cores int, ok bool) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 5 || string(f[0]) != "cpu" {
		return 0, 0, 0, false
	}
	for i, s := range f[1:] {
		if i >= 8 { // guest and guest_nice are in user and nice already
			break
		}
		v, err := strconv.ParseUint(string(s), 10, 64)
		if err != nil {
			return 0, 0, 0, false
		}
		total += v
		if i == 3 || i == 4 {
			idle += v
		}
	}
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if bytes.HasPrefix(line, []byte("cpu")) {
			cores++
		}
	}
	return idle, total, cores, cores > 0
}
