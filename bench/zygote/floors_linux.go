//go:build linux

package main

import (
	"bytes"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"golang.org/x/sys/unix"
)

// floorsPy makes children one layer at a time, as the zygote makes its
// own, without moat's work: the floors under a zygote child's cost.
//
//go:embed floors.py
var floorsPy []byte

// floorLevels is floors.py's LEVELS' length; the last is every layer
// with no second fork, whose "added" is against the row before it.
const floorLevels = 13

// floors prints, for each level of floors.py, the CPU (user+sys of
// every process: the parent's share of each fork and cgroup, the
// children's and grandchildren's) and page faults a child costs, and
// the kernel workers' CPU over the same time (a network namespace is torn
// down by cleanup_net in a kworker, after its last process: no process's
// rusage holds it). Then moat's whole child, made, run and torn down by
// this program under perf stat (every process it starts counted). Each
// row's added cost is its difference with the row above.
func floors(python string, n int, dur time.Duration) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("-floors makes namespaces and cgroup v1 directories on the host: run it as root")
	}
	for _, c := range []string{"memory", "pids", "cpu"} {
		if _, err := os.Stat("/sys/fs/cgroup/" + c); err != nil {
			return fmt.Errorf("-floors times cgroup v1's directories (this CI host's): %w", err)
		}
	}
	raw, err := seccomp.Program()
	if err != nil {
		return err
	}
	prog := make([]byte, 0, 8*len(raw))
	for _, in := range raw {
		prog = append(prog, byte(in.Op), byte(in.Op>>8), in.Jt, in.Jf, byte(in.K), byte(in.K>>8), byte(in.K>>16), byte(in.K>>24))
	}
	dir, err := os.MkdirTemp("", "moat-floors-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "floors.py")
	if err := os.WriteFile(script, floorsPy, 0o644); err != nil {
		return err
	}
	fmt.Printf("load average %s\n", loadavg())
	fmt.Printf("%-36s %9s %7s %9s %9s %8s\n", "per child", "CPU", "added", "kworkers", "faults", "added")
	var prevCPU, prevFaults float64
	for level := range floorLevels {
		k0 := kworkers()
		cmd := exec.Command(python, script, strconv.Itoa(level), strconv.Itoa(n), "/sys/fs/cgroup")
		cmd.Stdin = strings.NewReader(hex.EncodeToString(prog))
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("floors level %d: %w", level, err)
		}
		// The kworkers' share: a namespace's cleanup runs after its last
		// process, so give it a moment past the last child.
		time.Sleep(time.Second)
		kw := kwDelta(k0, kworkers())
		var r struct {
			Level                string
			N                    int
			SelfCPU, ChildrenCPU float64 `json:"-"`
			Faults               float64
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			return fmt.Errorf("floors level %d: %w: %q", level, err, out)
		}
		r.Level, _ = m["level"].(string)
		self, _ := m["self_cpu"].(float64)
		children, _ := m["children_cpu"].(float64)
		faults, _ := m["faults"].(float64)
		c := (self + children) * 1000 / float64(n)
		f := faults / float64(n)
		fmt.Printf("%-36s %7.1fms %+7.1f %7.2fms %9.0f %+8.0f\n", r.Level, c, c-prevCPU, float64(kw.Microseconds())/1000/float64(n), f, f-prevFaults)
		prevCPU, prevFaults = c, f
	}
	return whole(dur)
}

// whole runs this program again under perf stat, its rate part alone
// (-n 0 -w 1): everything a zygote child costs, the host's share (the
// Go side, its cgroup, its sockets) and the zygote's included.
func whole(dur time.Duration) error {
	perf, err := exec.LookPath("perf")
	if err != nil {
		fmt.Println("moat's whole child: not measured (perf is not installed)")
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "moat-floors-perf-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctl, ack := filepath.Join(dir, "ctl"), filepath.Join(dir, "ack")
	for _, f := range []string{ctl, ack} {
		if err := unix.Mkfifo(f, 0o600); err != nil {
			return err
		}
	}
	// Counting starts disabled: the program enables it once its zygote
	// is up (perfWindow), so that the zygote's own start is not a child's.
	k0 := kworkers()
	cmd := exec.Command(perf, "stat", "-x,", "-e", "task-clock,page-faults", "-D", "-1", "--control", "fifo:"+ctl+","+ack, "--",
		self, "-n", "0", "-w", "1", "-d", dur.String(), "-perf-control", ctl+","+ack)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("perf stat: %w\n%s%s", err, stdout.String(), stderr.String())
	}
	time.Sleep(time.Second)
	kw := kwDelta(k0, kworkers())
	// "made, run and torn down by 1 workers: 123, 24.6/s"
	var count float64
	if i := strings.Index(stdout.String(), "workers: "); i >= 0 {
		f := strings.FieldsFunc(stdout.String()[i+len("workers: "):], func(r rune) bool { return r == ',' || r == ' ' })
		if len(f) > 0 {
			count, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	if count == 0 {
		return fmt.Errorf("perf stat: no count in %q", stdout.String())
	}
	var cpuMs, faults float64
	for _, line := range strings.Split(stderr.String(), "\n") {
		f := strings.Split(line, ",")
		if len(f) < 3 {
			continue
		}
		v, _ := strconv.ParseFloat(f[0], 64)
		switch {
		case strings.HasPrefix(f[2], "task-clock"):
			cpuMs = v // msec
		case strings.HasPrefix(f[2], "page-faults"):
			faults = v
		}
	}
	fmt.Printf("%-36s %7.1fms %7s %7.2fms %9.0f   (%d children, perf stat)\n", "moat's whole child (made, run, gone)", cpuMs/count, "", float64(kw.Microseconds())/1000/count, faults/count, int(count))
	return nil
}

// kworkers is the CPU time of the kernel's worker threads, by thread
// id: a kworker comes and goes, so a difference is taken by kwDelta
// over the threads of the later picture.
func kworkers() map[int]int64 {
	ents, _ := os.ReadDir("/proc")
	t := map[int]int64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || end < open || !bytes.HasPrefix(b[open+1:end], []byte("kworker")) {
			continue
		}
		f := strings.Fields(string(b[end+2:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		t[pid] = u + s
	}
	return t
}

// kwDelta is the kworkers' CPU from a to b: each thread's own growth, a
// new one's whole time (one that ended between is lost, a floor).
func kwDelta(a, b map[int]int64) time.Duration {
	var d int64
	for pid, v := range b {
		d += v - a[pid]
	}
	return time.Duration(d) * 10 * time.Millisecond // USER_HZ 100
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// perfWindow sends perf stat's control FIFO cmd ("enable", "disable")
// and waits for its ack; ctlAck is -perf-control's "CTL,ACK".
func perfWindow(ctlAck, cmd string) error {
	ctl, ack, ok := strings.Cut(ctlAck, ",")
	if !ok {
		return fmt.Errorf("-perf-control %q: want CTL,ACK", ctlAck)
	}
	c, err := os.OpenFile(ctl, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer c.Close()
	a, err := os.OpenFile(ack, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := c.WriteString(cmd + "\n"); err != nil {
		return err
	}
	buf := make([]byte, 16)
	_, err = a.Read(buf)
	return err
}
