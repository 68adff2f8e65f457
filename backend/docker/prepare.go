package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
)

// box is a container created, attached and started, with moat's init (or
// bootstrap.py) waiting on its stdin for the header: everything of a run
// that depends on no program. Its run hands the program over; close
// removes it. A cold run is a box run at once; a warm pool's (Prepared)
// waits.
type box struct {
	b        *Backend
	e        *engine
	tmpl     *moat.Spec // what the container was made for: image, network, limits, report
	lim      moat.Limits
	vol      string
	persona  ctr.Persona
	name     string // the image as named
	imageID  string
	site     *ctr.HookSite
	startup  *ctr.HookStartup       // the hook for -S interpreters (HookStartup)
	etc      etcFiles               // the run's /etc/passwd and /etc/group (etcMounts)
	id       string                 // the container's
	runID    string                 // the run's (ctr.RunID), its containers' label
	sinkID   atomic.Pointer[string] // the sink helper's container, once made (startSinkHelper); Close may race the run
	r        *ctr.Run
	hj       types.HijackedResponse
	stopWait context.CancelFunc

	exited   chan struct{} // closed when the container has exited (or the wait failed)
	exitCode int64         // the container's exit status once exited is closed; -1 unknown

	closeOnce sync.Once
}

// prepare makes a box for runs like spec. A refused start that is the
// run's result (an image without python3) comes back as a Result and no
// box; errNoInit when the init volume was found empty (its stamp lied).
func (b *Backend) prepare(ctx context.Context, e *engine, spec *moat.Spec, vol string, stale time.Time) (*box, *moat.Result, error) {
	lim := spec.Limits.WithDefaults()
	life := context.WithoutCancel(ctx)
	id := ctr.RunID()
	persona := ctr.NewPersona(spec.PersonaKey)
	e.info(ctx)
	cfg, hc, err := b.config(spec, lim, id, vol, persona, b.runtimeName(e))
	if err != nil {
		return nil, nil, err
	}
	// The image is pinned by its ID: the run, its layers and the hook's
	// bytecode cache (keyed by the ID) are of the same image, whatever
	// the name points to meanwhile.
	bx := &box{b: b, e: e, tmpl: spec, lim: lim, vol: vol, persona: persona, name: cfg.Image, runID: id, exited: make(chan struct{}), exitCode: -1}
	ins, err := e.cli.ImageInspect(life, cfg.Image)
	if err != nil && client.IsErrNotFound(err) && vol != "" && !spec.NoReport {
		// A missing image is pulled before the create, not after it
		// fails: its ID is needed to learn it (ctr.Learn below), so that
		// its first run has the hook in every interpreter.
		if perr := pull(life, e.cli, cfg.Image, b.Progress); perr != nil {
			return nil, nil, perr
		}
		ins, err = e.cli.ImageInspect(life, cfg.Image)
	}
	if err == nil && ins.ID != "" {
		bx.imageID, cfg.Image = ins.ID, ins.ID
	}
	// The run's /etc/passwd and /etc/group (etcMounts), once the image
	// is here: before the create, and again after a pull.
	addEtc := func() error {
		if bx.etc != (etcFiles{}) {
			return nil
		}
		imageID := bx.imageID
		if imageID == "" {
			if ins, err := e.cli.ImageInspect(life, cfg.Image); err == nil {
				imageID = ins.ID
			}
		}
		if imageID == "" {
			return nil
		}
		mounts, f, err := e.etcMounts(life, imageID, id, persona)
		if err != nil {
			return fmt.Errorf("docker: %w", err)
		}
		bx.etc = f
		hc.Mounts = append(hc.Mounts, mounts...)
		// The encodings package with the hook's loader, beside the run's
		// /etc files: a daemon that does not see this host's files
		// (f.dir "") runs -S interpreters without the hook, as before.
		if bx.startup != nil && f.dir != "" {
			for _, bind := range bx.startup.Binds() {
				src := filepath.Join(f.dir, path.Base(bind.Target))
				if err := os.WriteFile(src, bind.Data, 0o644); err != nil {
					break
				}
				hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: src, Target: bind.Target, ReadOnly: true})
			}
		}
		return nil
	}
	defer func() {
		if bx.id == "" { // no container: no close to remove it
			bx.etc.remove(life, e)
		}
	}()
	if vol != "" && !spec.NoReport {
		// An image not learnt yet (its site directory, its encodings
		// package with the hook's loader) is learnt first by runs of its
		// own (ctr.Learn), so that this run, the image's first too, has
		// the hook in every interpreter. A daemon that does not see this
		// host's files cannot bind the package: nothing to learn it for.
		if local, _ := e.onHost(life); local && bx.imageID != "" {
			ctr.Learn(ctx, "docker-"+e.id, bx.imageID, b.Run)
		}
		// The hook in a site directory of the image, where it has one
		// (learnt by an earlier run): a tmpfs there, no PYTHONPATH.
		bx.site = ctr.NewHookSite("docker-"+e.id, bx.imageID)
		if bx.site.Dir != "" {
			m := bx.site.Tmpfs()
			hc.Tmpfs[m.Path] = m.Options
			bx.startup = ctr.NewHookStartup("docker-"+e.id, bx.imageID, bx.site.Dir)
		}
	}
	if vol != "" {
		// Before the create, which would make an empty volume in use.
		prov := &ctr.Provisioner{Engine: "docker-" + e.id, Fill: func(v string) error { return e.fillInit(life, cfg.Image, v, b.Progress) }}
		if err := prov.Ensure(vol, stale); err != nil {
			if ni := (*errNoImage)(nil); errors.As(err, &ni) {
				return nil, nil, ni // the image is missing: that is the one line
			}
			return nil, nil, fmt.Errorf("docker: %w", err)
		}
	}
	if err := addEtc(); err != nil {
		return nil, nil, err
	}
	created, err := e.cli.ContainerCreate(life, cfg, hc, nil, nil, "moat-"+id)
	if err != nil && client.IsErrNotFound(err) && strings.Contains(strings.ToLower(err.Error()), "image") {
		if perr := pull(life, e.cli, cfg.Image, b.Progress); perr != nil {
			return nil, nil, perr
		}
		if err := addEtc(); err != nil {
			return nil, nil, err
		}
		created, err = e.cli.ContainerCreate(life, cfg, hc, nil, nil, "moat-"+id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("docker: create container: %w", err)
	}
	bx.id = created.ID
	bx.r = ctr.NewRun(func() {
		ctx, cancel := context.WithTimeout(context.Background(), ctr.StopGrace)
		defer cancel()
		_ = e.cli.ContainerKill(ctx, created.ID, "KILL")
	})
	// runc's container processes are the program's and the init's (moat's
	// Go init or bootstrap.py, each with its reserve): a memory breach
	// kills the program's alone (ctr.Run.KillProgram).
	bx.r.KillProgram = !sentry(b.runtimeName(e))
	waitCtx, cancelWait := context.WithCancel(life)
	bx.stopWait = cancelWait
	if bx.hj, err = e.cli.ContainerAttach(life, created.ID, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true}); err != nil {
		close(bx.exited)
		bx.close()
		return nil, nil, fmt.Errorf("docker: attach: %w", err)
	}
	waitC, waitErrC := e.cli.ContainerWait(waitCtx, created.ID, container.WaitConditionNextExit)
	go func() {
		select {
		case w := <-waitC:
			bx.exitCode = w.StatusCode
		case <-waitErrC:
		}
		close(bx.exited)
	}()
	if err := e.cli.ContainerStart(life, created.ID, container.StartOptions{}); err != nil {
		bx.close()
		if vol != "" && stale.IsZero() && ctr.InitMissing(err.Error()) {
			return nil, nil, errNoInit
		}
		res, err := startFailed(&moat.Result{Isolation: b.name(), Layers: bx.layers(spec, lim)}, bx.name, err)
		if res != nil {
			// What a run reports whatever happened: the events (none)
			// and findings.
			ctr.NewSession(spec, lim, persona, func(moat.Status) {}).Report(res)
		}
		return nil, res, err
	}
	go func() { bx.r.Resolved(cgroupOf(life, e.cli, created.ID)) }()
	return bx, nil, nil
}

// close removes the container, whatever it is doing, and waits until it
// is gone.
func (bx *box) close() {
	bx.closeOnce.Do(func() {
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if bx.hj.Conn != nil {
			bx.hj.Close()
		}
		if id := bx.sinkID.Load(); id != nil {
			// Removed as the sink stopped; again, in case it did not.
			_ = bx.e.cli.ContainerRemove(rctx, *id, container.RemoveOptions{Force: true})
		}
		_ = bx.e.cli.ContainerRemove(rctx, bx.id, container.RemoveOptions{Force: true})
		bx.stopWait()
		<-bx.exited
		bx.etc.remove(rctx, bx.e)
	})
}

// layers are a run's layers in this container.
func (bx *box) layers(spec *moat.Spec, lim moat.Limits) []moat.Layer {
	b, e := bx.b, bx.e
	img := bx.name
	if bx.imageID != "" {
		img += " (" + bx.imageID + ")"
	}
	rt := "runtime " + b.runtimeName(e)
	if sentry(b.runtimeName(e)) && spec.Network == moat.NetworkSinkhole {
		rt += " (gVisor with --network=host: the program's sockets are the host kernel's, in the container's network namespace only)"
	}
	layers := ctr.Layers(fmt.Sprintf("docker %s, API %s (negotiated)", e.version, e.cli.ClientVersion()),
		rt, img, bx.vol, spec, lim, bx.persona)
	for i := range layers {
		switch {
		case layers[i].Name == "network" && spec.Network == moat.NetworkSinkhole && sinkByHelper():
			layers[i].Detail = ctr.HelperNetworkLayer()
		case layers[i].Name == "limits" && sentry(b.runtimeName(e)):
			by := "moat's init counts the program's tasks, "
			if bx.vol == "" {
				by = ""
			}
			layers[i].Detail += fmt.Sprintf("; under runsc %sRLIMIT_NPROC %d in the Sentry, and the cgroup's pids %d with room for runsc's own threads",
				by, lim.Pids+nprocSlack, lim.Pids+ctr.InitPids+sentryPids+6*(lim.Pids+nprocSlack))
		}
	}
	return layers
}

// nprocSlack is RLIMIT_NPROC's room above the pids limit under runsc,
// for the tasks of the run's uid that are not the program's: the init's
// threads.
const nprocSlack = 32

// run hands spec over to the waiting init and supervises the run to its
// Result; the caller closes the box.
func (bx *box) run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	b, e, r, lim := bx.b, bx.e, bx.r, spec.Limits.WithDefaults()
	life := context.WithoutCancel(ctx)
	res := &moat.Result{Isolation: b.name(), Layers: bx.layers(spec, lim)}

	sess := ctr.NewSession(spec, lim, bx.persona, r.Stop)
	// The run's suspect bytecode is verified in a fresh container of
	// the run's image (by its ID: a tag moved meanwhile names another)
	// and runtime (never on the host).
	sess.Verify = func(ctx context.Context, s *moat.Spec) (*moat.Result, error) {
		s.Image = cmp.Or(bx.imageID, spec.Image)
		return b.Run(ctx, s)
	}
	if sentry(b.runtimeName(e)) {
		sess.OnSentry()
		// runsc answers the profile's clone3 ENOSYS with EPERM, on which
		// glibc starts no thread: the init's own filter answers ENOSYS.
		sess.Clone3ENOSYS = bx.vol != ""
		// The cgroup's count is mostly runsc's own threads (room for
		// them: sentryPids): moat's init counts the program's tasks and
		// ends the run at the limit, listing its daemons first, and the
		// Sentry's RLIMIT_NPROC (its tasks of the run's uid, the init's
		// threads too) bounds them between its counts, as in a gVisor
		// Pod (bootstrap.py sets the rlimit alone).
		sess.RlimitNproc = int64(lim.Pids + nprocSlack)
		if bx.vol != "" {
			sess.Pids = lim.Pids
		}
	}
	sess.OnExit = r.FinalStats
	sess.Daemons = r.Daemons
	sess.KillNote = r.KillNote
	sess.AfterProgram = ctr.AfterBound
	if bx.vol != "" {
		sess.Bytecode = ctr.NewHookBytecode("docker-"+e.id, func() string { return bx.imageID })
		sess.Site = bx.site
		sess.Startup = bx.startup
		sess.KernelExecs = true
	}
	sess.Guard = guarded(bx.vol, b.runtimeName(e))
	sess.Reserve = ctr.InitReserve
	defer sess.Report(res) // events and findings, whatever the outcome
	start := time.Now()
	if sess.Sinkhole() {
		// Before the header: the program starts only once it is read.
		err := errors.New("no pid")
		if sinkByHelper() {
			err = sess.StartSinkVia(func() (*ctr.SinkProc, error) { return bx.startSinkHelper(life) })
		} else if ins, ierr := e.cli.ContainerInspect(life, bx.id); ierr != nil {
			err = ierr
		} else if ins.State != nil && ins.State.Pid > 0 {
			err = sess.StartSink(ins.State.Pid)
		}
		if err != nil {
			r.Stop(moat.StatusError)
			r.End()
			return nil, fmt.Errorf("docker: %w", err)
		}
	}

	// The Sentry's trace is drained while the run goes (sentryTail),
	// from before the program starts.
	var tail *sentryTail
	sentryOff, sentryCwd, sentryListens := "", false, false
	if rt := b.runtimeName(e); sentry(rt) && sess.KernelExecs {
		var dir string
		if dir, sentryOff, sentryCwd, sentryListens = sentryLogDir(context.Background(), e, rt); sentryOff == "" {
			tail = startSentryTail(dir, bx.id, start, sentryCwd)
		}
	}

	hj := bx.hj
	framesR, framesW := io.Pipe()
	diag := capture.New(nil, 8<<10, func() {})
	go func() {
		_, err := stdcopy.StdCopy(framesW, diag, hj.Reader)
		framesW.CloseWithError(err)
	}()
	recvErr := make(chan error, 1)
	go func() {
		err := sess.Receive(framesR)
		_, _ = io.Copy(io.Discard, framesR)
		recvErr <- err
	}()
	sendErr := sess.Send(hj.Conn, func() { _ = hj.CloseWrite() })
	if sendErr != nil {
		r.Stop(moat.StatusError)
	}

	end := r.SuperviseProgram(ctx, lim.Timeout, ctr.AfterBound, sess.Started(), sess.Reaped(), sess.Exited())
	defer end()

	protoErr := <-recvErr
	if protoErr != nil {
		r.Stop(moat.StatusError)
	}
	// The stream ended: the container is exiting. Wait for it (and kill it
	// if it lingers), so that no process of the run is left when Run returns.
	select {
	case <-bx.exited:
	case <-time.After(ctr.StopGrace):
		r.Stop(moat.StatusError)
		select {
		case <-bx.exited:
		case <-time.After(ctr.StopGrace):
		}
	}
	exitCode := int64(-1)
	select {
	case <-bx.exited:
		exitCode = bx.exitCode
	default:
	}
	reason := r.End() // no stop after the end
	res.DurationMS = time.Since(start).Milliseconds()
	if rt := b.runtimeName(e); sentry(rt) && sess.KernelExecs {
		var evs []moat.Event
		dropped := 0
		if tail != nil {
			evs, dropped, sentryOff = tail.events()
			if !sentryCwd && sentryOff == "" {
				evs = append(evs, cwdUnfollowed(rt))
			}
			if !sentryListens && sentryOff == "" {
				evs = append(evs, listensUnseen(rt))
			}
		}
		sess.SentryTrace(evs, dropped, sentryOff, start)
	}
	if reason == "" && exitCode > 128 {
		sess.InitKilled(int(exitCode - 128))
	}

	stats := r.Stats()
	if !r.Cgroup().Found() && sess.ExitReport() == nil {
		// No cgroup to read (a remote daemon): ask the daemon.
		if ins, err := e.cli.ContainerInspect(life, bx.id); err == nil && ins.State != nil && ins.State.OOMKilled {
			stats.OOMKills = 1
		}
	}
	res.MaxRSSBytes = sess.ProgramPeak(stats.Peak)
	sess.Fill(res)
	d, _ := diag.Result()
	detail := ctr.Note("send", sendErr) + ctr.Note("", protoErr)
	if exitCode >= 0 {
		detail += fmt.Sprintf(" (container exit %d)", exitCode)
	}
	return sess.Finish(res, b.name(), reason, stats, d, detail, r.Cause(cmp.Or(sendErr, protoErr), ctr.AfterBound))
}

// Prepared is a container started ahead of its run for a warm pool (see
// moat.Preparer): created with the template's image, network, limits and
// report, hardened as a cold run's, its init waiting on its stdin for the
// program. Nothing of a run is in it until Run; each runs one Spec and is
// removed.
type Prepared struct {
	bx   *box
	used atomic.Bool
}

var (
	_ moat.Preparer = (*Backend)(nil)
	_ moat.Prepared = (*Prepared)(nil)
)

// Prepare creates and starts a container for runs like tmpl (its image,
// network, limits but the timeout and output cap, and whether the report
// is on): see Prepared. tmpl's program, files and streams are not used.
func (b *Backend) Prepare(ctx context.Context, tmpl *moat.Spec) (moat.Prepared, error) {
	t := *tmpl
	if len(t.Args) == 0 {
		t.Args = []string{"-c", "pass"} // Validate wants a program
	}
	t.Stdin, t.Stdout, t.Stderr, t.Files, t.Workspace, t.OutDir = nil, nil, nil, nil, "", ""
	if err := b.Supports(&t); err != nil {
		return nil, err
	}
	if err := ctr.ValidateSinkEnter(b.name(), &t, !b.PythonInit); err != nil {
		return nil, err
	}
	e, err := b.engine()
	if err != nil {
		return nil, err
	}
	e.info(context.WithoutCancel(ctx))
	var vol string
	if !b.PythonInit {
		if vol, err = ctr.InitFor(e.goos, e.arch); err != nil {
			return nil, fmt.Errorf("%s: %w", b.name(), err)
		}
	}
	if t.Network == moat.NetworkSinkhole {
		if why := b.sinkRefused(ctx, e, vol); why != "" {
			return nil, fmt.Errorf("%s: network mode sinkhole: %s: %w", b.name(), why, moat.ErrUnsupported)
		}
	}
	began := time.Now()
	bx, res, err := b.prepare(ctx, e, &t, vol, time.Time{})
	if errors.Is(err, errNoInit) {
		bx, res, err = b.prepare(ctx, e, &t, vol, began)
	}
	if bx == nil {
		if err == nil && res != nil {
			err = fmt.Errorf("%s: %s", b.name(), res.Error)
		}
		return nil, err
	}
	return &Prepared{bx: bx}, nil
}

// fits says why spec cannot run in the container (wrapping
// moat.ErrMismatch), or nil.
func (p *Prepared) fits(spec *moat.Spec) error {
	t := p.bx.tmpl
	var why []string
	if p.bx.b.image(spec) != p.bx.name {
		why = append(why, "image")
	}
	if spec.Network != t.Network {
		why = append(why, "network")
	}
	if spec.PersonaKey != t.PersonaKey {
		why = append(why, "persona") // drawn when the box was made
	}
	a, b := spec.Limits.WithDefaults(), p.bx.lim
	a.Timeout, a.OutputLimit, b.Timeout, b.OutputLimit = 0, 0, 0, 0 // the run's own
	if a != b {
		why = append(why, "limits")
	}
	if spec.NoReport != t.NoReport {
		why = append(why, "report")
	}
	if len(why) > 0 {
		return fmt.Errorf("%s: the prepared container differs in %s: %w", p.bx.b.name(), strings.Join(why, ", "), moat.ErrMismatch)
	}
	return nil
}

// Run runs spec in the prepared container and removes it: the same Result
// as Backend.Run. A Spec that does not fit gives moat.ErrMismatch (the
// container still unused); a container that died while it waited, or was
// used or closed, moat.ErrStale.
func (p *Prepared) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := p.bx.b.Supports(spec); err != nil {
		return nil, err
	}
	if err := ctr.ValidateSinkEnter(p.bx.b.name(), spec, !p.bx.b.PythonInit); err != nil {
		return nil, err
	}
	if err := p.fits(spec); err != nil {
		return nil, err
	}
	if !p.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("%s: prepared container already used: %w", p.bx.b.name(), moat.ErrStale)
	}
	// The container's removal is not the run's to wait for (its
	// processes are dead once run returns): Close waits for it.
	defer func() { go p.bx.close() }()
	select {
	case <-p.bx.exited:
		return nil, fmt.Errorf("%s: prepared container moat-%s died while waiting (exit %d): %w", p.bx.b.name(), p.bx.id[:12], p.bx.exitCode, moat.ErrStale)
	default:
	}
	return p.bx.run(ctx, spec)
}

// Done is closed once the container has exited: it died while waiting,
// ran, or was closed.
func (p *Prepared) Done() <-chan struct{} { return p.bx.exited }

// Close removes the container and waits until it is gone (after Run, the
// removal Run started); safe at any time.
func (p *Prepared) Close() error {
	p.used.Store(true)
	p.bx.close()
	return nil
}

// ID is the container's ID (for tests).
func (p *Prepared) ID() string { return p.bx.id }
