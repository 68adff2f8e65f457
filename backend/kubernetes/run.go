package kubernetes

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	nodev1 "k8s.io/api/node/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
)

type rcInfo struct{ name, handler string }

func (c *cluster) runtimeClasses(ctx context.Context) ([]rcInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var list nodev1.RuntimeClassList
	if err := c.api.runtimeClasses().list(ctx, metav1.ListOptions{}, &list); err != nil {
		return nil, err
	}
	var out []rcInfo
	for _, rc := range list.Items {
		out = append(out, rcInfo{rc.Name, rc.Handler})
	}
	return out, nil
}

func isGVisor(rc rcInfo) bool {
	s := strings.ToLower(rc.name + " " + rc.handler)
	return strings.Contains(s, "runsc") || strings.Contains(s, "gvisor")
}

// runtimeClass resolves the RuntimeClass of the runs: the one asked for
// (Runc: none), else the cluster's gVisor one ("gvisor" by name first). It
// says whether it is gVisor's; "" and false: none found, runc.
func (b *Backend) runtimeClass(ctx context.Context, c *cluster) (string, bool, error) {
	if b.RuntimeClass == Runc {
		return "", false, nil
	}
	rcs, err := c.runtimeClasses(ctx)
	if err != nil {
		if b.RuntimeClass != "" {
			return b.RuntimeClass, false, nil // cannot list: believe it, the Pod's creation checks
		}
		return "", false, fmt.Errorf("kubernetes: list RuntimeClasses: %w", err)
	}
	if b.RuntimeClass != "" {
		for _, rc := range rcs {
			if rc.name == b.RuntimeClass {
				return rc.name, isGVisor(rc), nil
			}
		}
		return "", false, fmt.Errorf("kubernetes: the cluster has no RuntimeClass %q (%s=%s): %w", b.RuntimeClass, RuntimeClassEnv, b.RuntimeClass, moat.ErrUnavailable)
	}
	best := ""
	for _, rc := range rcs {
		if isGVisor(rc) && (best == "" || rc.name == "gvisor") {
			best = rc.name
		}
	}
	return best, best != "", nil
}

// Run runs spec in a new Pod; see the package doc.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	pr, err := b.prepare(ctx, spec, 0)
	if err != nil {
		if ctx.Err() != nil && !errors.Is(err, moat.ErrDegraded) && !errors.Is(err, moat.ErrUnsupported) && !errors.Is(err, moat.ErrInvalidSpec) {
			res := &moat.Result{Isolation: "kubernetes", Status: moat.StatusCanceled, Error: "canceled before the pod ran"}
			ctr.NewSession(spec, spec.Limits.WithDefaults(), ctr.NewPersona(spec.PersonaKey), func(moat.Status) {}).Report(res)
			return res, nil
		}
		return nil, err
	}
	return pr.Run(ctx, spec)
}

// PoolIdle is how long a Pod of [Backend.Prepare] may wait for its run:
// past it the Pod is stale (its activeDeadlineSeconds, which counts from
// its start, leaves the run its whole timeout only within it).
const PoolIdle = 10 * time.Minute

// Prepared is a Pod made ready for one run: scheduled, its image
// started, moat's init in it and waiting on its attach stream. A pool of
// them takes scheduling and the container start off a run's path (moat
// serve). Each is used once: Run it, or Close it.
type Prepared struct {
	p        *podRun
	w        watch.Interface
	image    string
	degraded []string
	// tmpl is the template of a Pod prepared for a pool (nil: for one
	// run, whose Spec it was made from); born is when it was ready.
	tmpl      *moat.Spec
	born      time.Time
	used      atomic.Bool
	stopWatch chan struct{} // ends the idle watch when the run begins
	done      chan struct{}
	doneOnce  sync.Once
	closeOnce sync.Once
}

var _ moat.Prepared = (*Prepared)(nil)

// Prepare makes a Pod ready for runs like tmpl, for a warm pool (see
// moat.Preparer): tmpl's image, limits (but the timeout, which may be
// shorter, and the output cap) and AllowDegraded fix the Pod; the
// program, its files and workspace come with Run. The Pod waits up to
// PoolIdle.
func (b *Backend) Prepare(ctx context.Context, tmpl *moat.Spec) (moat.Prepared, error) {
	t := *tmpl
	if len(t.Args) == 0 {
		t.Args = []string{"-c", "pass"} // Validate wants a program
	}
	t.Stdin, t.Stdout, t.Stderr, t.Files = nil, nil, nil, nil
	pr, err := b.prepare(ctx, &t, PoolIdle)
	if err != nil {
		return nil, err
	}
	pr.tmpl, pr.born, pr.stopWatch = &t, time.Now(), make(chan struct{})
	w, err := pr.p.watch(context.Background(), "")
	if err != nil {
		pr.Close()
		return nil, err
	}
	go pr.watchIdle(w)
	return pr, nil
}

// watchIdle closes done when the waiting Pod dies (its container ends,
// the Pod is deleted, evicted or failed) or waits past PoolIdle, and
// returns when the run begins.
func (pr *Prepared) watchIdle(w watch.Interface) {
	defer w.Stop()
	idle := time.NewTimer(PoolIdle)
	defer idle.Stop()
	for {
		select {
		case <-pr.stopWatch:
			return
		case <-idle.C:
			pr.markDone()
			return
		case ev, ok := <-w.ResultChan():
			if !ok {
				// The API server ended the watch: watch again.
				if w2, err := pr.p.watch(context.Background(), ""); err == nil {
					w = w2
					continue
				}
				pr.markDone()
				return
			}
			pod, _ := ev.Object.(*corev1.Pod)
			if ev.Type == watch.Deleted || pod != nil && podDead(pod) {
				pr.markDone()
				return
			}
		}
	}
}

// podDead says whether a Pod can no longer run a program: failed,
// succeeded, lost, or its main container ended.
func podDead(pod *corev1.Pod) bool {
	if pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded || podLost(pod) != "" || pod.DeletionTimestamp != nil {
		return true
	}
	for _, cs := range pod.Status.ContainerStatuses {
		if cs.Name == mainName && cs.State.Terminated != nil {
			return true
		}
	}
	return false
}

func (pr *Prepared) markDone() { pr.doneOnce.Do(func() { close(pr.done) }) }

// Done is closed once the Pod is gone or can no longer run (see
// moat.Prepared).
func (pr *Prepared) Done() <-chan struct{} { return pr.done }

// prepare makes a Pod ready for a run of spec's image and limits (its
// program, files and workspace come with Run). idle is how long the Pod
// may wait for its run: the cluster's deadline for the Pod grows by it.
func (b *Backend) prepare(ctx context.Context, spec *moat.Spec, idle time.Duration) (*Prepared, error) {
	if err := ctr.Validate("kubernetes", spec); err != nil {
		return nil, err
	}
	c, err := b.cluster()
	if err != nil {
		return nil, err
	}
	goInit, err := b.goInit()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: %w", err)
	}
	life := context.WithoutCancel(ctx)
	c.info(life)
	rc, gvisor, err := b.runtimeClass(life, c)
	if err != nil {
		return nil, err
	}
	var degraded []string
	if !gvisor {
		what := "no gVisor RuntimeClass on the cluster: a plain runc Pod shares the node's kernel (medium), and its network is the cluster's (only a NetworkPolicy, where the network plugin enforces one, stands between it and the network)"
		if rc != "" {
			what = "RuntimeClass " + rc + " is not gVisor: the Pod shares the node's kernel (medium), and its network is the cluster's unless the runtime or a NetworkPolicy denies it"
		}
		if !spec.AllowDegraded {
			return nil, fmt.Errorf("kubernetes: %s; pass --allow-degraded to run it, or install gVisor as a RuntimeClass: %w", what, moat.ErrDegraded)
		}
		degraded = append(degraded, what)
	}
	prof, err := seccompProfile()
	if err != nil {
		return nil, fmt.Errorf("kubernetes: moat's seccomp profile: %w", err)
	}
	p := &podRun{b: b, c: c, lim: spec.Limits.WithDefaults(), id: ctr.RunID(), ns: b.namespace(c), rc: rc, gvisor: gvisor, goInit: goInit, persona: ctr.NewPersona(spec.PersonaKey), seccomp: prof}
	pr := &Prepared{p: p, image: b.image(spec), degraded: degraded, done: make(chan struct{})}
	if err := pr.prepare(ctx, idle); err != nil {
		pr.Close()
		return nil, err
	}
	return pr, nil
}

// Close deletes the Pod and its policy, and waits until the Pod is gone.
func (pr *Prepared) Close() error {
	pr.closeOnce.Do(func() {
		p := pr.p
		if pr.w != nil {
			pr.w.Stop()
		}
		dctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if p.name != "" {
			_ = deletePod(dctx, p.c, p.ns, p.name)
			p.waitGone(dctx)
		}
		// A context of its own: a Pod slow to go (a loaded node) can use
		// up dctx, and the policy would be left on the cluster (two were,
		// at load 60).
		pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = p.c.api.policies(p.ns).delete(pctx, "moat-"+p.id, metav1.DeleteOptions{})
		pcancel()
		setLive(p.id, false)
		pr.markDone()
	})
	return nil
}

func (pr *Prepared) prepare(ctx context.Context, idle time.Duration) error {
	p := pr.p
	life := context.WithoutCancel(ctx)
	pod, err := podSpec(p.id, pr.image, p.rc, p.lim, p.goInit, idle, p.persona)
	if err != nil {
		return fmt.Errorf("kubernetes: %w", err)
	}
	// The policy first, so the Pod never runs without it; both go when
	// the run is over (Close), whatever happened.
	setLive(p.id, true)
	if err := p.c.api.policies(p.ns).create(life, policy(p.id), &networkingv1.NetworkPolicy{}); err != nil {
		return fmt.Errorf("kubernetes: create network policy in namespace %s: %w", p.ns, err)
	}
	created := &corev1.Pod{}
	if err := p.pods().create(life, pod, created); err != nil {
		return fmt.Errorf("kubernetes: create pod in namespace %s: %w", p.ns, err)
	}
	p.name = created.Name
	if pr.w, err = p.watch(life, created.ResourceVersion); err != nil {
		return err
	}
	if p.goInit {
		st, err := p.waitContainer(ctx, pr.w, initName, true)
		if err != nil {
			return p.notStarted(err)
		}
		if st.Running != nil {
			if err := p.sendBinary(life); err != nil {
				return err
			}
		}
	}
	st, err := p.waitContainer(ctx, pr.w, mainName, false)
	if err != nil {
		return p.notStarted(err)
	}
	if st.Terminated != nil {
		return fmt.Errorf("kubernetes: the container ended before moat attached: %s", describeTerminated(st.Terminated))
	}
	return nil
}

// fits says whether spec can run in a Pod prepared for the template: the
// same image, limits (a timeout no longer than the template's; the output
// cap is the run's own) and AllowDegraded.
func (pr *Prepared) fits(spec *moat.Spec) error {
	t := pr.tmpl
	a, b := spec.Limits.WithDefaults(), t.Limits.WithDefaults()
	var why []string
	if spec.PersonaKey != t.PersonaKey {
		why = append(why, "persona") // drawn when the pod was planned
	}
	if a.Timeout > b.Timeout {
		why = append(why, "a longer timeout")
	}
	a.Timeout, a.OutputLimit, b.Timeout, b.OutputLimit = 0, 0, 0, 0
	if a != b {
		why = append(why, "limits")
	}
	if pr.p.b.image(spec) != pr.image {
		why = append(why, "image")
	}
	if spec.AllowDegraded != t.AllowDegraded {
		why = append(why, "options")
	}
	if len(why) > 0 {
		return fmt.Errorf("kubernetes: the prepared pod differs in %s: %w", strings.Join(why, ", "), moat.ErrMismatch)
	}
	return nil
}

// Run runs spec in the prepared Pod and deletes the Pod. A Pod prepared
// for one run must be of spec's image and limits; one of Prepare must fit
// its template (else moat.ErrMismatch, the Pod still unused), and one
// that died or waited too long gives moat.ErrStale.
func (pr *Prepared) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if pr.tmpl == nil {
		defer pr.Close()
	}
	if err := ctr.Validate("kubernetes", spec); err != nil {
		return nil, err
	}
	p := pr.p
	if pr.tmpl == nil {
		if l := spec.Limits.WithDefaults(); l != p.lim || p.b.image(spec) != pr.image {
			return nil, fmt.Errorf("kubernetes: the prepared pod is for image %s and other limits: %w", pr.image, moat.ErrInvalidSpec)
		}
	} else if pr.used.Load() {
		return nil, fmt.Errorf("kubernetes: prepared pod already used: %w", moat.ErrStale)
	} else if err := pr.fits(spec); err != nil {
		return nil, err
	}
	if !pr.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("kubernetes: prepared pod already used: %w", moat.ErrStale)
	}
	defer pr.Close()
	if pr.tmpl != nil {
		close(pr.stopWatch)
		select {
		case <-pr.done:
			return nil, fmt.Errorf("kubernetes: prepared pod %s died while waiting: %w", p.name, moat.ErrStale)
		default:
		}
		if time.Since(pr.born) > PoolIdle {
			return nil, fmt.Errorf("kubernetes: prepared pod %s waited past %s: %w", p.name, PoolIdle, moat.ErrStale)
		}
		p.lim = spec.Limits.WithDefaults()
	}
	p.spec = spec
	res, err := p.run(ctx, pr.w, pr.image)
	if res != nil {
		res.Degraded = append(slices.Clone(pr.degraded), res.Degraded...)
	}
	return res, err
}

// nprocSlack is RLIMIT_NPROC's room above the pids limit under gVisor,
// for the tasks of the Pod's uid that are not the program's: the init's
// threads.
const nprocSlack = 32

// pidsPoll is how often moat's init counts the program's tasks
// (ctrinit's own).
const pidsPoll = "20ms"

// podRun is one run's Pod.
type podRun struct {
	b          *Backend
	c          *cluster
	spec       *moat.Spec
	lim        moat.Limits
	id, ns, rc string
	gvisor     bool
	goInit     bool
	persona    ctr.Persona
	name       string
	seccomp    string // the Localhost profile
}

func (p *podRun) pods() objects { return p.c.api.pods(p.ns) }

// getPod reads the run's Pod.
func (p *podRun) getPod(ctx context.Context) (*corev1.Pod, error) {
	pod := &corev1.Pod{}
	if err := p.pods().get(ctx, p.name, pod); err != nil {
		return nil, err
	}
	return pod, nil
}

// run speaks the protocol with the Pod's init over its attach stream.
func (p *podRun) run(ctx context.Context, w watch.Interface, image string) (*moat.Result, error) {
	life := context.WithoutCancel(ctx)
	r := ctr.NewRun(func() {
		dctx, cancel := context.WithTimeout(context.Background(), ctr.StopGrace)
		defer cancel()
		_ = deletePod(dctx, p.c, p.ns, p.name)
	})
	r.Resolved(ctr.Cgroup{}) // the node's cgroups are not moat's to read
	res := &moat.Result{Isolation: "kubernetes"}
	res.Layers = p.layers(image)
	sess := ctr.NewSession(p.spec, p.lim, p.persona, r.Stop)
	// The run's suspect bytecode is verified in a fresh Pod of the run's
	// image and RuntimeClass (never on the host), as degraded as the run
	// was allowed to be and no more.
	allow := p.spec.AllowDegraded
	sess.Verify = func(ctx context.Context, s *moat.Spec) (*moat.Result, error) {
		s.Image, s.AllowDegraded = image, allow
		return p.b.Run(ctx, s)
	}
	if p.gvisor {
		sess.OnSentry() // the witness cannot see reads through mmap there
	}
	sess.OnExit = r.FinalStats
	// moat's init watches every execve and connect with a seccomp
	// listener of its own (docs/report.md), as docker's does: had under
	// runc, refused by gVisor's Sentry, when a kernel-events-unavailable
	// event says so. bootstrap.py has no listener to offer.
	sess.KernelExecs = p.goInit
	// No cgroup of the run's own holds its pids limit (a Pod has only the
	// node's podPidsLimit): moat's init ends the run when the program's
	// tasks reach it, and under gVisor RLIMIT_NPROC bounds them between
	// its counts (the Sentry counts the tasks of the Pod's uid; under runc
	// the kernel counts those of the node's uid, other Pods' too).
	sess.Pids = p.lim.Pids
	sess.AfterProgram = afterProgram
	sess.Expect = p.expect()
	if p.gvisor {
		sess.RlimitNproc = int64(p.lim.Pids + nprocSlack)
		// runsc answers the profile's clone3 ENOSYS with EPERM, and
		// glibc then starts no thread: moat's init restores the ENOSYS.
		sess.Clone3ENOSYS = true
	}
	defer sess.Report(res)
	start := time.Now()
	stdinR, stdinW := io.Pipe()
	framesR, framesW := io.Pipe()
	diag := capture.New(nil, 8<<10, func() {})
	streamErr := make(chan error, 1)
	go func() {
		err := p.attach(life, mainName, stdinR, framesW, diag)
		framesW.CloseWithError(err)
		stdinR.CloseWithError(io.ErrClosedPipe)
		streamErr <- err
	}()
	recvErr := make(chan error, 1)
	go func() {
		err := sess.Receive(framesR)
		_, _ = io.Copy(io.Discard, framesR)
		recvErr <- err
	}()
	sendErr := sess.Send(stdinW, func() { _ = stdinW.Close() })
	if sendErr != nil {
		r.Stop(moat.StatusError)
	}
	// The timeout is the program's: the walks and the copy-out after it
	// have their own bound (through a Sentry's gofer, 10,000 entries of
	// /work take a minute on a loaded node).
	end := r.SuperviseProgram(ctx, p.lim.Timeout, afterProgram, sess.Started(), sess.Reaped(), sess.Exited())
	defer end()
	protoErr := <-recvErr
	if protoErr != nil {
		r.Stop(moat.StatusError)
	}
	sErr := <-streamErr
	// The stream ended: the container is ending. Its state says how.
	term := p.waitTerminated(w, r, sess.ExitReport() != nil)
	reason := r.End()
	res.DurationMS = time.Since(start).Milliseconds()

	var stats ctr.Stats
	detail := ctr.Note("send", sendErr) + ctr.Note("", protoErr)
	if sErr != nil && reason == "" && sess.ExitReport() == nil {
		detail += ctr.Note("attach", sErr)
	}
	if term != nil {
		if term.Reason == "OOMKilled" {
			stats.OOMKills = 1
		}
		if reason == "" && term.ExitCode > 128 && term.Reason != "OOMKilled" {
			sess.InitKilled(int(term.ExitCode - 128))
		}
		detail += " (" + describeTerminated(term) + ")"
	}
	if pod, err := p.getPod(life); err == nil {
		if lost := podLost(pod); lost != "" {
			detail += " (" + lost + ")"
		}
	}
	sess.Fill(res)
	d, _ := diag.Result()
	if d == "" && term != nil && term.Message != "" {
		d = term.Message
	}
	cause := r.Cause(cmp.Or(sendErr, protoErr), afterProgram)
	return sess.Finish(res, "kubernetes", reason, stats, d, detail, cause)
}

// expect is what moat's init checks before the program starts, as the
// Pod asked for it: a runtime may leave any of it out without failing the
// Pod (gVisor's containerd shim as released puts an unsized tmpfs of its
// own at /dev/shm; a runtime's network gives the Pod interfaces). One not
// in effect refuses the run unless the Spec allows a degraded one.
func (p *podRun) expect() *ctrinit.Expect {
	mounts, shm := ctr.Tmpfs(p.lim.Disk, p.persona.Home)
	sized := map[string]int64{"/dev/shm": shm + sizeSlack}
	for _, m := range mounts {
		sized[m.Path] = m.Size + sizeSlack
	}
	return &ctrinit.Expect{Sized: sized, LoopbackOnly: true, NonRoot: true, NoCapabilities: true, ReadOnlyRoot: true}
}

// checkedNote ends the detail of a layer that moat's init found in effect
// (see expect).
const checkedNote = "in effect before the program started (moat's init checked it)"

// sizeSlack is how much larger than asked a volume may be (the kubelet
// rounds its size to pages).
const sizeSlack = 64 << 10

// watch watches the run's Pod from resourceVersion on.
func (p *podRun) watch(ctx context.Context, rv string) (watch.Interface, error) {
	w, err := p.pods().watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", p.name).String(), ResourceVersion: rv})
	if err != nil {
		return nil, fmt.Errorf("kubernetes: watch pod %s: %w", p.name, err)
	}
	return w, nil
}

// errNotStarted says why the Pod never ran the program.
type errNotStarted struct{ why string }

func (e *errNotStarted) Error() string { return e.why }

// waitContainer waits until the named container (an init container if
// init) runs or has ended, and returns its state. A Pod that cannot start
// it (an image that cannot be pulled, a Pod that failed) is an
// *errNotStarted.
func (p *podRun) waitContainer(ctx context.Context, w watch.Interface, name string, init bool) (*corev1.ContainerState, error) {
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil, fmt.Errorf("kubernetes: the watch of pod %s ended", p.name)
			}
			if ev.Type == watch.Deleted {
				return nil, &errNotStarted{"the pod was deleted before it ran"}
			}
			pod, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			if lost := podLost(pod); lost != "" {
				return nil, &errNotStarted{lost}
			}
			if pod.Status.Phase == corev1.PodFailed {
				return nil, &errNotStarted{"the pod failed: " + cmp.Or(pod.Status.Message, pod.Status.Reason, "no reason given")}
			}
			for _, cond := range pod.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionFalse && cond.Reason == corev1.PodReasonUnschedulable {
					// Unschedulable now may schedule later: wait, but a
					// message that names no resource of a node is final.
					if strings.Contains(cond.Message, "RuntimeClass") {
						return nil, &errNotStarted{"unschedulable: " + cond.Message}
					}
				}
			}
			statuses := pod.Status.ContainerStatuses
			if init {
				statuses = pod.Status.InitContainerStatuses
			}
			for _, cs := range statuses {
				if cs.Name != name {
					continue
				}
				if cs.State.Running != nil || cs.State.Terminated != nil {
					return &cs.State, nil
				}
				if wt := cs.State.Waiting; wt != nil {
					switch wt.Reason {
					case "ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull", "CreateContainerConfigError", "CreateContainerError", "RunContainerError":
						return nil, &errNotStarted{fmt.Sprintf("container %s: %s: %s", name, wt.Reason, wt.Message)}
					}
				}
			}
		}
	}
}

// notStarted maps a Pod that never ran the program: an image that cannot
// be had is ErrNotFound, with one clear line.
func (p *podRun) notStarted(err error) error {
	var ns *errNotStarted
	if errors.As(err, &ns) {
		msg := termsafe.Line(ns.why, 400)
		if strings.Contains(ns.why, "seccomp profile") && strings.Contains(ns.why, p.seccomp) {
			return fmt.Errorf("kubernetes: pod %s could not start: the node has no moat seccomp profile %s (install it on every node with `moat kube-seccomp`): %s: %w", p.name, p.seccomp, msg, moat.ErrUnavailable)
		}
		if strings.Contains(ns.why, "Image") || strings.Contains(ns.why, "image") {
			return fmt.Errorf("kubernetes: pod %s could not start: %s: %w", p.name, msg, moat.ErrNotFound)
		}
		return fmt.Errorf("kubernetes: pod %s could not start: %s: %w", p.name, msg, moat.ErrSandbox)
	}
	return err
}

// podLost says why the Pod ended without the program's doing: evicted, or
// past its deadline; "" otherwise.
func podLost(pod *corev1.Pod) string {
	switch pod.Status.Reason {
	case "Evicted":
		return "the pod was evicted: " + pod.Status.Message
	case "DeadlineExceeded":
		return "the pod passed its activeDeadlineSeconds"
	}
	return ""
}

func describeTerminated(t *corev1.ContainerStateTerminated) string {
	s := fmt.Sprintf("container exit %d", t.ExitCode)
	if t.Signal != 0 {
		s += fmt.Sprintf(", signal %d", t.Signal)
	}
	if t.Reason != "" {
		s += ", " + t.Reason
	}
	return termsafe.Line(s, 200)
}

// waitTerminated waits for the main container's end (killing the Pod if
// it lingers) and returns its state; nil if it was not seen. reported
// says the init sent its exit frame: then the run is over whatever the
// Pod does, and a Pod whose end the kubelet is slow to report (a loaded
// node) is deleted without making the run a sandbox error.
func (p *podRun) waitTerminated(w watch.Interface, r *ctr.Run, reported bool) *corev1.ContainerStateTerminated {
	check := func(pod *corev1.Pod) *corev1.ContainerStateTerminated {
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.Name == mainName && cs.State.Terminated != nil {
				return cs.State.Terminated
			}
		}
		return nil
	}
	if pod, err := p.getPod(context.Background()); err == nil {
		if t := check(pod); t != nil {
			return t
		}
	}
	timer := time.NewTimer(ctr.StopGrace)
	defer timer.Stop()
	killed := false
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return nil
			}
			if pod, ok := ev.Object.(*corev1.Pod); ok {
				if t := check(pod); t != nil {
					return t
				}
			}
			if ev.Type == watch.Deleted {
				return nil
			}
		case <-timer.C:
			if killed {
				return nil
			}
			killed = true
			if reported {
				go func() {
					dctx, cancel := context.WithTimeout(context.Background(), ctr.StopGrace)
					defer cancel()
					_ = deletePod(dctx, p.c, p.ns, p.name)
				}()
			} else {
				r.Stop(moat.StatusError)
			}
			timer.Reset(ctr.StopGrace)
		}
	}
}

// waitGone waits until the Pod is gone from the API: the kubelet has
// killed its containers and torn its sandbox down.
func (p *podRun) waitGone(ctx context.Context) {
	for {
		_, err := p.getPod(ctx)
		if apierrors.IsNotFound(err) || ctx.Err() != nil {
			return
		}
		w, err := p.watch(ctx, "")
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Deleted {
				w.Stop()
				return
			}
		}
		w.Stop()
	}
}

// sendBinary streams this binary to the init container's loader.
func (p *podRun) sendBinary(ctx context.Context) error {
	b, err := self()
	if err != nil {
		return fmt.Errorf("kubernetes: init binary: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	var out bytes.Buffer
	errOut := capture.New(nil, 4<<10, func() {})
	if err := p.attach(ctx, initName, bytes.NewReader(b), &out, errOut); err != nil {
		e, _ := errOut.Result()
		return fmt.Errorf("kubernetes: copy moat's init into the pod: %w%s", err, ctr.Note("", errorsNew(e)))
	}
	return nil
}

func errorsNew(s string) error {
	if s = strings.TrimSpace(s); s == "" {
		return nil
	}
	return errors.New(termsafe.Line(s, 300))
}

// attach streams stdin to the container and its stdout and stderr back,
// until it ends.
func (p *podRun) attach(ctx context.Context, container string, stdin io.Reader, stdout, stderr io.Writer) error {
	u := p.c.api.attachURL(p.ns, p.name, container)
	ws, err := remotecommand.NewWebSocketExecutor(p.c.cfg, "GET", u.String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(p.c.cfg, "POST", u)
	if err != nil {
		return err
	}
	ex, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
}

// layers lists what the run has in effect.
func (p *podRun) layers(image string) []moat.Layer {
	rt := "RuntimeClass " + p.rc
	switch {
	case p.gvisor:
		rt += " (gVisor: the program runs on a user-space kernel)"
	case p.rc == "":
		rt = "no RuntimeClass: the node's default runtime (runc, shared kernel)"
	}
	init := "moat's init (" + "this moat binary, copied in by an init container over its attach stream, SHA-256 checked, mounted read-only)"
	if !p.goInit {
		init = "bootstrap.py run by the image's python3"
	}
	net := "network none: no interface but loopback; the Pod's NetworkPolicy denies all ingress and egress (where the network plugin enforces it); no DNS resolver"
	checked := ctr.ExpectedLayers(p.expect())
	var out []moat.Layer
	for _, l := range ctr.Layers(fmt.Sprintf("kubernetes %s at %s, namespace %s", cmp.Or(p.c.version, "(version unknown)"), p.c.server, p.ns), rt, image, "", p.spec, p.lim, p.persona) {
		switch l.Name {
		case "init":
			l.Detail = init
		case "seccomp":
			l.Detail = "seccomp: moat's profile as the node's Localhost profile " + p.seccomp + " (" + strings.TrimPrefix(l.Detail, "seccomp: ") + "); moat's init checks it is in effect"
		case "network":
			l.Detail = net
		case "masked-paths":
			l.Detail = "the runtime's default masked and read-only /proc paths"
		case "disk":
			l.Detail = "memory-backed emptyDirs with sizeLimit: " + strings.TrimPrefix(l.Detail, "tmpfs (nosuid,nodev): ")
		case "limits":
			pids := fmt.Sprintf("pids %d: moat's init ends the run when the program's tasks reach it (counted every %s)", p.lim.Pids, pidsPoll)
			if p.gvisor {
				pids += fmt.Sprintf(", RLIMIT_NPROC %d (the tasks of the Pod's uid, the init's included)", p.lim.Pids+nprocSlack)
			}
			if !p.goInit {
				pids = "pids: bootstrap.py does not count them (RLIMIT_NPROC only, under gVisor)"
			}
			l.Detail = fmt.Sprintf("memory %d bytes (Pod limit), cpus %g; %s; the node's podPidsLimit for the Pod", p.lim.Memory, p.lim.CPUs, pids)
		case "timeout":
			l.Detail += fmt.Sprintf(" of the program's run; what moat's init sends after it (the report's walks, the copy-out) has %s of its own", afterProgram)
		case "no-host-mounts":
			l.Detail = "no host path mounted; workspace and results over the attach stream"
		}
		if slices.Contains(checked, l.Name) {
			l.Detail += "; " + checkedNote
		}
		out = append(out, l)
	}
	out = append(out,
		moat.Layer{Name: "service-account", Detail: "no service account token, no service links"},
		moat.Layer{Name: "pod-deadline", Detail: fmt.Sprintf("activeDeadlineSeconds %d: the cluster ends the Pod if moat is gone", int64(p.lim.Timeout.Seconds())+deadlineSlack)})
	return out
}

func notFound(err error) bool { return apierrors.IsNotFound(err) }

func isUnreachable(err error) bool {
	s := strings.ToLower(err.Error())
	for _, k := range []string{"connection refused", "no such host", "i/o timeout", "dial tcp", "network is unreachable"} {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}
