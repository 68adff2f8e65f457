package microvm

import (
	"cmp"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/outdir"
	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
	moatreport "github.com/moat-sandbox/moat/report"
)

// idPrefix names every run directory and VM of this backend.
const idPrefix = "moat-microvm-"

// Guest memory beyond the program's limit: the kernel, the agent and the
// initramfs (held twice while the kernel unpacks it).
const guestOverhead = 96 << 20

// bootTimeout bounds how long the guest may take to boot and report
// ready. The run's wall clock starts when the job is sent: under TCG the
// boot alone takes seconds.
const bootTimeout = 105 * time.Second

// trace: MOAT_TRACE=1 prints the breakdown of a run's time to stderr.
var trace = os.Getenv("MOAT_TRACE") == "1"

var hostCache struct {
	sync.Mutex
	m map[string]*host
}

func (b *Backend) host() (*host, error) {
	key := b.Engine + "\x00" + b.kernel() + "\x00" + os.Getenv("MOAT_MICROVM_KERNEL")
	hostCache.Lock()
	defer hostCache.Unlock()
	if h := hostCache.m[key]; h != nil {
		return h, nil
	}
	h, err := b.probe()
	if err != nil {
		return nil, err
	}
	if hostCache.m == nil {
		hostCache.m = map[string]*host{}
	}
	hostCache.m[key] = h
	return h, nil
}

func (b *Backend) probe() (*host, error) {
	e, err := engineByName(b.Engine)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, moat.ErrUnavailable)
	}
	v, err := e.version(context.Background())
	if err != nil {
		return nil, fmt.Errorf("microvm: %w: %w", err, moat.ErrUnavailable)
	}
	k, err := findKernel(b.kernel())
	if err != nil {
		return nil, err
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("microvm: moat's own binary: %w: %w", err, moat.ErrUnavailable)
	}
	if _, err := exec.LookPath("mksquashfs"); err != nil {
		return nil, fmt.Errorf("microvm: mksquashfs not found (apt-get install squashfs-tools): %w", moat.ErrUnavailable)
	}
	if err := checkStatic(self); err != nil {
		return nil, fmt.Errorf("microvm: moat's binary %s cannot be the guest's init: %w: %w", self, err, moat.ErrUnavailable)
	}
	h := &host{engine: e, engineVersion: v, kernel: k, self: self, accel: "tcg"}
	if q, ok := e.(*qemu); ok {
		if err := q.sandboxSupported(context.Background()); err != nil {
			h.noSandbox = err.Error()
		}
	}
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		h.accel = "kvm"
		if _, ok := e.(*qemu); ok {
			// QEMU does not run as moat: it needs the device for itself.
			var st unix.Stat_t
			if err := unix.Stat("/dev/kvm", &st); err != nil {
				h.accel, h.kvmWhy = "tcg", err.Error()
			} else if why := qemuKVMDenied(st.Mode, os.Geteuid() == 0); why != "" {
				h.accel, h.kvmWhy = "tcg", why
			}
		}
	} else {
		h.kvmWhy = strings.TrimPrefix(err.Error(), "open /dev/kvm: ")
	}
	if a := os.Getenv("MOAT_MICROVM_ACCEL"); a == "tcg" {
		h.accel, h.kvmWhy = "tcg", "MOAT_MICROVM_ACCEL=tcg"
	}
	return h, nil
}

// checkStatic requires a statically linked ELF file: the guest has no
// dynamic loader of moat's.
func checkStatic(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return errors.New("it is dynamically linked (build it with CGO_ENABLED=0)")
		}
	}
	return nil
}

// runBase holds the runs' private directories.
func runBase() string {
	if os.Geteuid() == 0 {
		return "/run/moat/microvm"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("moat-microvm-%d", os.Geteuid()))
}

// ours holds the ids of this process's runs that ended, for Leftovers.
var ours = struct {
	sync.Mutex
	ended map[string]bool
	pids  map[string]int
}{ended: map[string]bool{}, pids: map[string]int{}}

// GC removes the run directories of VMs that are gone (a moat killed with
// SIGKILL leaves its directory; its QEMU dies with it, by Pdeathsig).
func GC(ctx context.Context) ([]string, error) {
	ents, err := os.ReadDir(runBase())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), idPrefix) {
			continue
		}
		dir := filepath.Join(runBase(), e.Name())
		f, err := os.Open(filepath.Join(dir, "lock"))
		if err == nil {
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
			f.Close()
			if err != nil {
				continue // a live run holds it
			}
		} else if fi, serr := os.Stat(dir); serr != nil || time.Since(fi.ModTime()) < time.Minute {
			continue // being made, or gone
		}
		if err := os.RemoveAll(dir); err == nil {
			removed = append(removed, "run directory "+e.Name())
		}
	}
	return removed, nil
}

// Leftovers lists what this process's ended runs left on the host: run
// directories and VM processes. For tests: it must be empty whenever no
// run of this process is in progress.
func Leftovers() []string {
	ours.Lock()
	defer ours.Unlock()
	var left []string
	for id := range ours.ended {
		if _, err := os.Lstat(filepath.Join(runBase(), id)); err == nil {
			left = append(left, "run directory "+id)
		}
		if pid := ours.pids[id]; pid > 0 {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && strings.Contains(string(b), id) {
				left = append(left, fmt.Sprintf("VM process %d of %s", pid, id))
			}
		}
	}
	sort.Strings(left)
	return left
}

type runner struct {
	h    *host
	spec *moat.Spec
	lim  moat.Limits
	rt   *pyrt.Runtime
	// userland is what Spec.Userland added to the runtime image, or nil.
	userland *pyrt.Userland
	// imageSum is the image's interpreter's hash (--image); "" for the
	// host's runtime, which is hashed on the host.
	imageSum string
	id       string
	dir      string
	res      *moat.Result
	vm       machine

	mu       sync.Mutex
	reason   moat.Status
	stopOnce sync.Once
	killVia  *frameWriter // set while the program runs: stop asks the agent first
	grace    *time.Timer

	persona  Persona // the guest's host name, user and home
	tools    string  // the hook's directory in the guest (GuestReport.Tools)
	snapNote string  // how the guest came to be: booted cold or restored
	rep      *hostReport
	verify   moatreport.RunFunc // runs the bytecode verification (finishReport)
	retry    bool               // a restore failed before the job: boot cold instead
}

// killGrace is how long a guest asked to end its program (the timeout,
// the output cap, a cancel) has to send its exit and report before the VM
// is killed.
const killGrace = 20 * time.Second

func (r *runner) stop(reason moat.Status) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.reason = reason
		vm, fw := r.vm, r.killVia
		r.mu.Unlock()
		if vm == nil {
			return
		}
		if fw != nil && (reason == moat.StatusTimeout || reason == moat.StatusOutputLimit || reason == moat.StatusCanceled) {
			// The agent kills the program's cgroup and reports as usual;
			// a guest that does not is killed after killGrace.
			go func() { _ = fw.write(frameKill, nil) }()
			t := time.AfterFunc(killGrace, vm.Kill)
			r.mu.Lock()
			r.grace = t
			r.mu.Unlock()
			return
		}
		vm.Kill()
	})
}

func (r *runner) stopReason() moat.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}

func (b *Backend) run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("microvm: %w", err)
	}
	if err := b.Supports(spec); err != nil {
		return nil, err
	}
	h, err := b.host()
	if err != nil {
		return nil, err
	}
	if h.noSandbox != "" && !spec.AllowDegraded {
		return nil, fmt.Errorf("microvm: QEMU's seccomp filter: %s (pass --allow-degraded to run QEMU without it): %w", h.noSandbox, moat.ErrDegraded)
	}
	if spec.Network == moat.NetworkSinkhole && h.kernel.NoNet != "" {
		return nil, fmt.Errorf("microvm: network sinkhole: %s: %w", h.kernel.NoNet, moat.ErrUnsupported)
	}
	var rt *pyrt.Runtime
	var ul *pyrt.Userland // Spec.Userland, for the host's runtime (an image has its own)
	var image, imageSum, imageID string
	if spec.Image != "" {
		image, rt, imageSum, imageID, err = imageRuntime(ctx, filepath.Join(local.CacheDir(), "microvm"), spec.Image)
	} else if rt, err = pyrt.Resolve(spec.Python, os.Getenv("PATH"), local.CacheDir()); err == nil {
		if spec.Userland {
			ul, err = pyrt.ResolveUserland(local.CacheDir())
		}
		if err == nil {
			image, err = runtimeImage(ctx, filepath.Join(local.CacheDir(), "microvm"), rt, ul)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("microvm: %w", err)
	}
	initrd, err := initramfs(filepath.Join(local.CacheDir(), "microvm"), h.self, h.kernel)
	if err != nil {
		return nil, fmt.Errorf("microvm: %w", err)
	}
	// The run's suspect bytecode is verified in a fresh guest of the same
	// runtime, or image by its ID (a tag moved meanwhile names another),
	// never on the host: see finishReport.
	verify := func(ctx context.Context, s *moat.Spec) (*moat.Result, error) {
		s.Image, s.Python = cmp.Or(imageID, spec.Image), spec.Python
		return b.Run(ctx, s)
	}
	res, again, err := b.attempt(ctx, spec, h, rt, ul, initrd, image, imageSum, verify, true)
	if again {
		// The saved guest would not restore (QEMU refused the state):
		// it is gone, and this run boots cold.
		res, _, err = b.attempt(ctx, spec, h, rt, ul, initrd, image, imageSum, verify, false)
	}
	return res, err
}

// attempt is one VM for the run; again says that a restore failed before
// the guest took the job (nothing of the spec consumed) and a cold boot
// should follow.
func (b *Backend) attempt(ctx context.Context, spec *moat.Spec, h *host, rt *pyrt.Runtime, ul *pyrt.Userland, initrd, image, imageSum string, verify moatreport.RunFunc, allowRestore bool) (*moat.Result, bool, error) {
	r := &runner{h: h, spec: spec, lim: spec.Limits.WithDefaults(), rt: rt, userland: ul, imageSum: imageSum, id: idPrefix + local.NewID(), res: &moat.Result{Isolation: "microvm"}, verify: verify}
	// A persona of its own for every run, as on native: no cheap tell
	// that this is moat (pid 1, the agent, is hidden from the program).
	p := observe.NewPersonaFor(spec.PersonaKey)
	r.persona = Persona{Host: p.Host, User: p.User, Gecos: p.Gecos, Home: p.Home, Uptime: p.Uptime}
	r.tools = p.Scratch // the hook's directory, the run's own
	if h.noSandbox != "" {
		r.res.Degraded = append(r.res.Degraded, "vmm: QEMU runs without its seccomp filter: "+h.noSandbox)
	}
	defer func() {
		if r.vm != nil {
			r.vm.Kill()
			_ = r.vm.Wait()
		}
		if r.dir != "" {
			_ = os.RemoveAll(r.dir)
		}
		ours.Lock()
		ours.ended[r.id] = true
		ours.Unlock()
	}()
	res, err := r.run(ctx, initrd, image, allowRestore)
	return res, r.retry, err
}

func (r *runner) run(ctx context.Context, initrd, image string, allowRestore bool) (*moat.Result, error) {
	start := time.Now()
	if err := os.MkdirAll(runBase(), 0o700); err != nil {
		return nil, fmt.Errorf("microvm: %w", err)
	}
	r.dir = filepath.Join(runBase(), r.id)
	if err := os.Mkdir(r.dir, 0o700); err != nil {
		return nil, fmt.Errorf("microvm: %w", err)
	}
	// Held for the whole run: GC takes the directories no one holds.
	lock, err := os.OpenFile(filepath.Join(r.dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("microvm: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil, fmt.Errorf("microvm: lock run directory: %w", err)
	}
	fi, err := os.Stat(initrd)
	if err != nil {
		return nil, fmt.Errorf("microvm: %w", err)
	}
	cpus := 1
	if r.lim.CPUs > 1 {
		cpus = int(r.lim.CPUs + 0.999)
	}
	cfg := &vmConfig{
		Dir: r.dir, Kernel: r.h.kernel.Path, Initrd: initrd, Root: image, Cmdline: kernelCmdline(r.h.accel, hostTSCKHz()),
		MemoryMiB: (r.lim.Memory + guestOverhead + 2*fi.Size() + (1<<20 - 1)) >> 20,
		CPUs:      cpus, Accel: r.h.accel, Console: filepath.Join(r.dir, "console"), Name: r.id, NoSandbox: r.h.noSandbox != "",
	}
	var plan *snapPlan
	if q, ok := r.h.engine.(*qemu); ok {
		plan = planSnapshot(q, r.h.engineVersion, cfg, filepath.Join(local.CacheDir(), "microvm"), allowRestore)
	}
	if plan != nil && plan.lock != nil {
		defer plan.lock.Close()
	}
	restored := plan != nil && plan.restore
	r.snapNote = "booted cold"
	if restored {
		r.snapNote = "restored from a saved guest waiting for work (this restore used once)"
	}
	vm, err := r.h.engine.start(cfg)
	if err != nil {
		return nil, fmt.Errorf("microvm: %w", err)
	}
	r.mu.Lock()
	r.vm = vm
	r.mu.Unlock()
	ours.Lock()
	ours.pids[r.id] = vm.Pid()
	ours.Unlock()
	exited := make(chan struct{})
	go func() { _ = vm.Wait(); close(exited) }()

	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			r.stop(moat.StatusCanceled)
		case <-done:
		}
	}()
	// The guest's channel is a socket pair, connected from the start; the
	// guest must boot and say it is ready within bootTimeout.
	bootTimer := time.AfterFunc(bootTimeout, func() { r.stop(moat.StatusError) })
	defer bootTimer.Stop()
	conn := vm.Channel()
	defer conn.Close()
	connected := time.Now()
	go func() {
		<-exited
		conn.Close()
	}()
	buf := make([]byte, maxGuestFrame)
	var kind byte
	var p []byte
	if !restored {
		kind, p, err = readFrame(conn, buf, maxGuestFrame)
		if err != nil || kind != frameReady {
			why := "the guest did not report ready"
			if err != nil {
				why += ": " + err.Error()
			} else {
				why += fmt.Sprintf(": frame %q", kind)
			}
			return r.lost(start, why+"; "+r.vmError())
		}
		if trace {
			var rd Ready
			_ = json.Unmarshal(p, &rd)
			fmt.Fprintf(os.Stderr, "moat: microvm: accelerator %s; QEMU process started after %dms; guest ready %dms after QEMU start (guest uptime %dms: kernel %dms, agent %dms)\n",
				r.h.accel, connected.Sub(start).Milliseconds(), time.Since(start).Milliseconds(), rd.UptimeMS, rd.UptimeMS-rd.AgentMS, rd.AgentMS)
		}
		if plan != nil && plan.lock != nil {
			t := time.Now()
			if err := plan.save(vm.QMP()); err != nil {
				r.snapNote = "booted cold; saving it for later runs failed: " + err.Error()
			} else {
				r.snapNote = "booted cold, and saved for later runs to restore"
			}
			if trace {
				fmt.Fprintf(os.Stderr, "moat: microvm: %s (%dms)\n", r.snapNote, time.Since(t).Milliseconds())
			}
		}
	}
	// The job first, alone: the guest reseeds and sets its clock, and
	// says so, before the workspace, the files and stdin follow (a
	// restore that fails has consumed nothing of the spec).
	fw := &frameWriter{w: conn}
	if err := r.sendJob(fw); err != nil {
		return r.lost(start, "send the job: "+err.Error()+"; "+r.vmError())
	}
	var agentLog []string
	for accepted := false; !accepted; {
		kind, p, err = readFrame(conn, buf, maxGuestFrame)
		switch {
		case err != nil:
			why := "the guest did not take its job: " + err.Error()
			if len(agentLog) > 0 {
				why += "; agent: " + clean(strings.Join(agentLog, "; "))
			}
			if restored && r.stopReason() == "" {
				// QEMU would not restore the saved guest, or it died:
				// the snapshot goes, and the run boots cold.
				_ = os.Remove(plan.path)
				r.retry = true
			}
			return r.lost(start, why+"; "+r.vmError())
		case kind == frameLog:
			if len(agentLog) < 8 {
				agentLog = append(agentLog, string(p[:min(len(p), 500)]))
			}
		case kind == frameAccepted:
			accepted = true
		default:
			return r.lost(start, fmt.Sprintf("the guest sent %q before taking its job: %s", kind, errFrame))
		}
	}
	bootTimer.Stop()
	booted := time.Now()
	if r.rep != nil {
		r.rep.offsetMS = booted.Sub(start).Milliseconds()
	}
	if trace {
		fmt.Fprintf(os.Stderr, "moat: microvm: %s; QEMU process started after %dms; job taken %dms after QEMU start\n", r.snapNote, connected.Sub(start).Milliseconds(), booted.Sub(start).Milliseconds())
	}
	// The wall clock starts with the program (the 'S' frame); until
	// then the guest's setup (the workspace, the report, the sinkhole)
	// is bounded as the boot is.
	setupTimer := time.AfterFunc(bootTimeout, func() { r.stop(moat.StatusError) })
	defer setupTimer.Stop()
	var timer *time.Timer
	stopTimer := func() {
		setupTimer.Stop()
		if timer != nil {
			timer.Stop()
		}
	}
	defer stopTimer()

	sendErr := make(chan error, 1)
	go func() { sendErr <- r.send(fw) }()

	stdout := capture.New(r.spec.Stdout, r.lim.OutputLimit, func() { r.stop(moat.StatusOutputLimit) })
	stderr := capture.New(r.spec.Stderr, r.lim.OutputLimit, func() { r.stop(moat.StatusOutputLimit) })
	var ex *Exit
	var outW *io.PipeWriter
	var outDone chan struct{}
	finished := false
	var readErr error
loop:
	for {
		kind, p, err = readFrame(conn, buf, maxGuestFrame)
		if err != nil {
			readErr = err
			break
		}
		switch kind {
		case frameStarted:
			if timer != nil || ex != nil {
				readErr = fmt.Errorf("a second start, or one after the exit: %w", errFrame)
				break loop
			}
			setupTimer.Stop()
			r.mu.Lock()
			r.killVia = fw
			r.mu.Unlock()
			timer = time.AfterFunc(r.lim.Timeout, func() { r.stop(moat.StatusTimeout) })
		case frameStdout:
			stdout.Add(p)
		case frameStderr:
			stderr.Add(p)
		case frameExit:
			if ex != nil {
				readErr = fmt.Errorf("a second exit frame: %w", errFrame)
				break loop
			}
			ex = &Exit{}
			if err := json.Unmarshal(p, ex); err != nil {
				readErr = fmt.Errorf("exit frame: %w", errFrame)
				break loop
			}
			stopTimer() // the program is over; the copy-out is bounded by its caps
			r.mu.Lock()
			r.killVia = nil
			r.mu.Unlock()
			if trace {
				fmt.Fprintf(os.Stderr, "moat: microvm: job to exit %dms (Python's start and the program)\n", time.Since(booted).Milliseconds())
			}
		case frameOut:
			if ex == nil || r.spec.OutDir == "" {
				readErr = fmt.Errorf("work directory before the exit, or unasked: %w", errFrame)
				break loop
			}
			if outW == nil {
				outW, outDone = r.startCopyOut()
			}
			if _, err := outW.Write(p); err != nil {
				readErr = fmt.Errorf("copy out: %w", err)
				break loop
			}
		case frameOutEnd:
			if outW == nil && r.spec.OutDir != "" {
				outW, outDone = r.startCopyOut()
			}
			if outW != nil {
				outW.Close()
				<-outDone
				outW = nil
			}
		case frameEvents, frameEventsEnd:
			if ex == nil || r.rep == nil {
				readErr = fmt.Errorf("report before the exit, or unasked: %w", errFrame)
				break loop
			}
			take := r.rep.take
			if kind == frameEventsEnd {
				take = r.rep.end
			}
			if err := take(p); err != nil {
				readErr = err
				break loop
			}
		case framePycs:
			if ex == nil || r.rep == nil {
				readErr = fmt.Errorf("bytecode before the exit, or unasked: %w", errFrame)
				break loop
			}
			if err := r.rep.takePycs(p); err != nil {
				readErr = err
				break loop
			}
		case frameLog:
			if len(agentLog) < 8 {
				agentLog = append(agentLog, string(p[:min(len(p), 500)]))
			}
		case frameDone:
			finished = true
			break loop
		default:
			readErr = fmt.Errorf("frame %q from the guest: %w", kind, errFrame)
			break loop
		}
	}
	if outW != nil {
		outW.CloseWithError(errors.New("the guest's stream broke off"))
		<-outDone
	}
	r.stopOnce.Do(func() {}) // no stop reason after the end
	r.vm.Kill()
	r.mu.Lock()
	if r.grace != nil {
		r.grace.Stop()
	}
	r.mu.Unlock()

	<-exited
	r.res.DurationMS = time.Since(start).Milliseconds()
	res := r.res
	res.Stdout, res.StdoutTruncated = stdout.Result()
	res.Stderr, res.StderrTruncated = stderr.Result()
	res.Layers = r.layers()
	if r.spec.OutDir != "" && res.Out == nil {
		res.Out = &moat.OutReport{Dir: r.spec.OutDir, Error: "the guest sent no work directory"}
	}
	if err := <-sendErr; err != nil && ex == nil && r.stopReason() == "" {
		agentLog = append(agentLog, "send: "+err.Error())
	}
	e := moat.Ending{Stop: r.stopReason()}
	if e.Stop == moat.StatusError {
		e.Stop, e.Lost = "", fmt.Sprintf("the guest did not start the program within %s of taking its job", bootTimeout)
	}
	if ex != nil {
		e.OOMKills, e.PidsHits = ex.OOMKills, ex.PidsHits
		res.MaxRSSBytes = min(max(ex.PeakMemory, 0), r.lim.Memory)
		switch {
		case ex.StartErr != "":
			e.StartErr, e.StartErrno = "start "+r.rt.Command+": "+clean(ex.StartErr), syscall.Errno(ex.StartErrno)
		case ex.Exited:
			e.Exited, e.ExitCode, e.Signal = true, ex.Code, ex.Signal
		}
	}
	if !finished && e.Lost == "" {
		why := "the guest's channel closed"
		if readErr != nil && !errors.Is(readErr, io.EOF) {
			why = "the guest's channel: " + readErr.Error()
		}
		if len(agentLog) > 0 {
			why += "; agent: " + clean(strings.Join(agentLog, "; "))
		}
		e.Lost = why
		if ex != nil && r.spec.OutDir != "" && res.Out != nil && res.Out.Error == "" && e.Stop == "" {
			res.Out.Error = why
		}
	}
	err = e.Classify("microvm", res)
	r.finishReport(res, ex != nil)
	return res, err
}

// lost ends a run whose guest never took its job.
func (r *runner) lost(start time.Time, why string) (*moat.Result, error) {
	r.vm.Kill()
	r.res.DurationMS = time.Since(start).Milliseconds()
	r.res.Layers = r.layers()
	e := moat.Ending{Stop: r.stopReason(), Lost: why}
	if e.Stop == moat.StatusError {
		e.Stop, e.Lost = "", fmt.Sprintf("the guest did not boot within %s; %s", bootTimeout, why)
	}
	err := e.Classify("microvm", r.res)
	r.finishReport(r.res, false)
	return r.res, err
}

// vmError is the end of the VM's own log and console, for an error.
func (r *runner) vmError() string {
	var parts []string
	for _, f := range []string{"qemu.log", "console"} {
		if t := tail(filepath.Join(r.dir, f), 600); t != "" {
			parts = append(parts, f+": "+t)
		}
	}
	if len(parts) == 0 {
		return "no output from the VM"
	}
	return strings.Join(parts, "; ")
}

// tail is the last n bytes of a file, made safe to print.
func tail(p string, n int64) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-n, 0)
	b := make([]byte, fi.Size()-off)
	_, _ = f.ReadAt(b, off)
	return clean(strings.TrimSpace(string(b)))
}

// sendJob gives the guest its job, with fresh randomness and the clock.
func (r *runner) sendJob(fw *frameWriter) error {
	env := []string{
		"PATH=" + filepath.Dir(r.rt.Command) + ":/usr/local/bin:/usr/bin:/bin",
		"HOME=" + r.persona.Home, "TMPDIR=" + guestTmp, "LANG=C.UTF-8", "USER=" + r.persona.User, "LOGNAME=" + r.persona.User,
		"PYTHONUNBUFFERED=1",
	}
	env, report := r.newReport(append(env, r.spec.Env...))
	job := Job{
		Argv: append([]string{r.rt.Command}, r.spec.Args...), Env: env,
		Memory: r.lim.Memory, Pids: r.lim.Pids, Disk: r.lim.Disk, CPUs: r.lim.CPUs, Out: r.spec.OutDir != "",
		Report: report, Persona: r.persona,
	}
	// The guest's clocks run to the host's uptime and the persona's
	// more, as native's: the same boot time in every phase of a key.
	var ts unix.Timespec
	if job.Persona.Uptime > 0 && unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) == nil {
		job.Persona.Uptime += time.Duration(ts.Nano())
	}
	if r.spec.Network == moat.NetworkSinkhole {
		// The sink serves the plan's fake instance credentials; the CA
		// variables point at the trust store with the run's CA.
		job.Net = &egress.Config{Mode: egress.ModeSinkhole}
		if r.rep != nil {
			job.Net.Metadata = r.rep.metadata
		}
		job.Env = egress.CAEnv(job.Env)
	}
	job.Seed = make([]byte, 64)
	if _, err := rand.Read(job.Seed); err != nil {
		return err
	}
	job.NowNS = time.Now().UnixNano()
	b, err := json.Marshal(job)
	if err != nil {
		return err
	}
	return fw.write(frameJob, b)
}

// send gives the guest the files, the workspace and stdin.
func (r *runner) send(fw *frameWriter) error {
	names := make([]string, 0, len(r.spec.Files))
	for n := range r.spec.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if len(r.spec.Files[n])+len(n)+1 > maxHostFrame {
			return fmt.Errorf("file %s: over %d bytes: %w", n, maxHostFrame, moat.ErrInvalidSpec)
		}
		if err := fw.write(frameFile, append([]byte(n+"\x00"), r.spec.Files[n]...)); err != nil {
			return err
		}
	}
	if r.spec.Workspace != "" {
		if err := treecopy.Pack(fw.stream(frameTree), r.spec.Workspace, treecopy.Limits{Bytes: r.lim.Disk, Files: 1 << 20}); err != nil {
			return fmt.Errorf("workspace: %w", err)
		}
	}
	if err := fw.write(frameTreeEnd, nil); err != nil {
		return err
	}
	if r.spec.Stdin != nil {
		if _, err := io.Copy(fw.stream(frameStdin), r.spec.Stdin); err != nil {
			return err
		}
	}
	return fw.write(frameStdinEOF, nil)
}

// startCopyOut unpacks the guest's tar stream into Spec.OutDir as it
// comes, with the caps of every backend; links are never followed.
func (r *runner) startCopyOut() (*io.PipeWriter, chan struct{}) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		rep, err := outdir.Unpack(pr, r.spec)
		r.res.Out = outdir.Report(r.spec, rep, err)
	}()
	return pw, done
}

func (r *runner) layers() []moat.Layer {
	ls := []moat.Layer{
		{Name: "microvm", Detail: fmt.Sprintf("%s %s, accelerator %s: the program runs on a kernel of its own in a VM of %d vCPU(s); %s", r.h.engine.name(), r.h.engineVersion, r.h.accel, max(1, int(r.lim.CPUs+0.999)), r.snapNote)},
		{Name: "guest-kernel", Detail: r.h.kernel.Source + "; module loading off after moat's virtio and netfilter modules"},
		r.runtimeLayer(),
		r.vmmLayer(),
		{Name: "channel", Detail: "one virtio-serial port to moat; no network device, no vsock, no shared directory"},
		{Name: "disk", Detail: fmt.Sprintf("one guest tmpfs of %d bytes for /work /tmp %s /dev/shm", r.lim.Disk, r.persona.Home)},
		r.networkLayer(),
		{Name: "seccomp", Detail: "native's deny list in the guest"},
		{Name: "user", Detail: fmt.Sprintf("uid %d, no capabilities, no_new_privs", sandboxID)},
		{Name: "cgroup-v2", Detail: fmt.Sprintf("in the guest: memory %d bytes, pids %d, cpus %g; guest RAM %d bytes more", r.lim.Memory, r.lim.Pids, r.lim.CPUs, guestOverhead)},
		{Name: "rlimits", Detail: "nofile 1024, core 0"},
		{Name: "timeout", Detail: r.lim.Timeout.String() + " from the program's start in the guest (the boot or restore and the guest's setup are bounded apart, " + bootTimeout.String() + " each)"},
		{Name: "output-limit", Detail: fmt.Sprintf("%d bytes per stream", r.lim.OutputLimit)},
		r.reportLayer(),
	}
	if r.userland != nil {
		ls = slices.Insert(ls, 3, moat.Layer{Name: "userland", Detail: r.userland.Summary() + "; in the runtime image, with the interpreter's site directories"})
	}
	return ls
}

// vmmLayer says how the VMM itself is confined.
func (r *runner) vmmLayer() moat.Layer {
	if r.h.engine.name() != "qemu" {
		return moat.Layer{Name: "vmm", Detail: r.h.engine.name() + ": not confined by moat"}
	}
	d := "QEMU as "
	if os.Geteuid() == 0 {
		d += "an unprivileged uid of its own (no groups"
		if r.h.accel == "kvm" {
			d += " but /dev/kvm's"
		}
		d += "), in network and IPC namespaces of its own (no network)"
	} else {
		d += "moat's user"
	}
	d += ", in an empty directory, given its files and sockets as descriptors"
	if r.h.noSandbox != "" {
		return moat.Layer{Name: "vmm", Detail: d + "; no seccomp filter (degraded): " + r.h.noSandbox}
	}
	return moat.Layer{Name: "vmm", Detail: d + "; QEMU's seccomp filter: -sandbox " + qemuSandbox}
}

// runtimeLayer says what the guest's root is.
func (r *runner) runtimeLayer() moat.Layer {
	if r.spec.Image != "" {
		return moat.Layer{Name: "read-only-runtime", Detail: "squashfs root, read-only: the file system of image " + r.spec.Image + " (its " + r.rt.Command + "); moat's agent from the initramfs"}
	}
	return moat.Layer{Name: "read-only-runtime", Detail: "squashfs root, read-only: moat's agent, " + r.rt.Executable + ", its libraries and standard library"}
}

// networkLayer says what the guest's network is.
func (r *runner) networkLayer() moat.Layer {
	if r.spec.Network == moat.NetworkSinkhole {
		return moat.Layer{Name: "network-sinkhole", Detail: "no network device: in the guest, every address routes to the loopback, " +
			"where moat's agent is the sink (DNS answered from 198.18.0.0/15, TCP and UDP recorded and answered harmlessly, TLS terminated with the run's CA); " +
			"nothing leaves the guest, and its events are the guest's word"}
	}
	return moat.Layer{Name: "network-none", Detail: "no network device: loopback only"}
}

func engineByName(name string) (engine, error) {
	switch name {
	case "", "qemu":
		return &qemu{}, nil
	case "firecracker":
		return &firecracker{}, nil
	}
	return nil, fmt.Errorf("microvm: engine %q: want qemu or firecracker", name)
}
