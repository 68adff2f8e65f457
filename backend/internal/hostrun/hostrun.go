// Package hostrun runs a Python program directly on the host, for the
// backends that do not isolate it (venv; see backend/venv). It enforces
// what a process on the host can honestly be given, and nothing more:
//
//   - a fresh working directory of its own (HOME, TMPDIR inside it), with
//     the workspace copied in and, after the run, out; removed afterwards;
//   - an environment of Spec.Env and the sandbox variables only;
//   - a process group of its own, killed at the end of the run, on
//     timeout, on an output breach and on cancellation;
//   - rlimits set by a small bootstrap before the program's first line:
//     address space (Limits.Memory, per process), file size (Limits.Disk,
//     per file), CPU time (a backstop past the timeout), no core files,
//     and processes (per user, and only when not root: the kernel does not
//     apply it to root);
//   - the output caps of every backend.
//
// What it cannot do: hide the host's files, network, processes or
// environment (other processes' /proc/PID/environ), drop privileges, or
// catch a process that leaves the process group (setsid). [Layers] lists
// exactly the layers it applied.
package hostrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/outdir"
	"github.com/moat-sandbox/moat/internal/sandbox/osthread"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// Run describes one host run.
type Run struct {
	// Python is the interpreter that runs both the bootstrap and the
	// program (an absolute path).
	Python string
	// Args are the interpreter's arguments, as in moat.Spec.
	Args []string
	// Dir is the run's private directory (empty, removed by the caller);
	// the program's working directory is Dir/work.
	Dir  string
	Spec *moat.Spec
}

// bootstrap sets the rlimits and then replaces itself with the program:
// argv is AS FSIZE CPU NPROC EXE ARGS...; a limit of -1 is left as is.
const bootstrap = `import os, resource, sys
a = sys.argv[1:]
for r, v in ((resource.RLIMIT_AS, a[0]), (resource.RLIMIT_FSIZE, a[1]), (resource.RLIMIT_CPU, a[2]), (resource.RLIMIT_NPROC, a[3]), (resource.RLIMIT_CORE, '0')):
    v = int(v)
    if v >= 0:
        resource.setrlimit(r, (v, v))
os.execv(a[4], a[4:])
`

// Layers lists what Run enforces for lim, as Result.Layers.
func Layers(lim moat.Limits) []moat.Layer {
	lim = lim.WithDefaults()
	rl := fmt.Sprintf("address space %d bytes per process, file size %d bytes per file, CPU %ds, no core files", lim.Memory, lim.Disk, cpuSeconds(lim))
	if os.Geteuid() != 0 {
		rl += fmt.Sprintf(", %d processes per user", lim.Pids)
	}
	return []moat.Layer{
		{Name: "process-group", Detail: "killed at the end of the run; a process that leaves it (setsid) is not"},
		{Name: "timeout", Detail: lim.Timeout.String()},
		{Name: "output-limit", Detail: fmt.Sprintf("%d bytes per stream", lim.OutputLimit)},
		{Name: "rlimits", Detail: rl},
		{Name: "clean-env", Detail: "only Spec.Env and the sandbox variables (other processes' environments stay readable)"},
		{Name: "private-workdir", Detail: "a fresh directory for /work, HOME and TMPDIR, removed afterwards"},
	}
}

func cpuSeconds(lim moat.Limits) int64 { return int64(lim.Timeout/time.Second) + 5 }

// Do runs r to completion. The caller has validated r.Spec.
func (r *Run) Do(ctx context.Context) (*moat.Result, error) {
	spec := r.Spec
	lim := spec.Limits.WithDefaults()
	work := filepath.Join(r.Dir, "work")
	home := filepath.Join(r.Dir, "home")
	tmp := filepath.Join(r.Dir, "tmp")
	for _, d := range []string{work, home, tmp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("make %s: %w", d, err)
		}
	}
	if spec.Workspace != "" {
		if err := copyTree(spec.Workspace, work, treecopy.Limits{Bytes: lim.Disk, Files: 1 << 20}, false); err != nil {
			return nil, fmt.Errorf("copy workspace: %w", err)
		}
	}
	for name, data := range spec.Files {
		if err := os.WriteFile(filepath.Join(work, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	nproc := int64(-1)
	if os.Geteuid() != 0 {
		nproc = int64(lim.Pids)
	}
	args := []string{"-I", "-S", "-c", bootstrap, strconv.FormatInt(lim.Memory, 10), strconv.FormatInt(lim.Disk, 10),
		strconv.FormatInt(cpuSeconds(lim), 10), strconv.FormatInt(nproc, 10), r.Python}
	args = append(args, r.Args...)
	cmd := exec.Command(r.Python, args...)
	cmd.Dir = work
	cmd.Env = append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + home, "TMPDIR=" + tmp, "LANG=C.UTF-8",
		"USER=sandbox", "LOGNAME=sandbox", "PYTHONUNBUFFERED=1"}, spec.Env...)
	cmd.SysProcAttr = procAttr()
	if spec.Stdin != nil {
		cmd.Stdin = spec.Stdin
	}
	var breach = make(chan moat.Status, 1)
	onBreach := func() {
		select {
		case breach <- moat.StatusOutputLimit:
		default:
		}
	}
	stdout := capture.New(spec.Stdout, lim.OutputLimit, onBreach)
	stderr := capture.New(spec.Stderr, lim.OutputLimit, onBreach)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = 2 * time.Second // a daemon that left the group may hold the pipes
	start := time.Now()
	if err := osthread.Start(cmd); err != nil { // Pdeathsig: see osthread.Start
		return nil, fmt.Errorf("start %s: %w", r.Python, err)
	}
	pgid := cmd.Process.Pid
	kill := func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	timer := time.NewTimer(lim.Timeout)
	defer timer.Stop()
	status := moat.Status("")
	var werr error
	select {
	case werr = <-waited:
	case <-timer.C:
		status = moat.StatusTimeout
	case s := <-breach:
		status = s
	case <-ctx.Done():
		status = moat.StatusCanceled
	}
	kill() // whatever is left of the group, also after a normal exit
	if status != "" {
		werr = <-waited
	}
	res := &moat.Result{DurationMS: time.Since(start).Milliseconds(), Layers: Layers(lim)}
	res.Stdout, res.StdoutTruncated = stdout.Result()
	res.Stderr, res.StderrTruncated = stderr.Result()
	if res.StdoutTruncated || res.StderrTruncated {
		status = moat.StatusOutputLimit
	}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			res.MaxRSSBytes = ru.Maxrss << 10
		}
	}
	var ee *exec.ExitError
	switch {
	case status != "":
		res.Status = status
		res.ExitCode = -1
	case werr == nil:
		res.Status, res.ExitCode = moat.StatusExited, 0
	case errors.As(werr, &ee):
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			res.Status, res.Signal, res.ExitCode = moat.StatusSignaled, int(ws.Signal()), -1
		} else {
			res.Status, res.ExitCode = moat.StatusExited, ws.ExitStatus()
		}
	case errors.Is(werr, exec.ErrWaitDelay):
		res.Status, res.ExitCode = moat.StatusExited, cmd.ProcessState.ExitCode()
	default:
		return res, fmt.Errorf("wait: %w", werr)
	}
	if spec.OutDir != "" {
		res.Out = outdir.Copy(work, spec)
	}
	return res, nil
}

func copyTree(src, dst string, lim treecopy.Limits, links bool) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(treecopy.Pack(pw, src, lim)) }()
	_, err := treecopy.Unpack(pr, dst, lim, treecopy.Options{KeepLinks: links})
	pr.Close()
	return err
}
