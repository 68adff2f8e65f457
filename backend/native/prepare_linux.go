package native

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
)

// Prepare starts a sandbox for runs like tmpl and returns it once it waits
// for its program: the init is in its namespaces and cgroup, the root is
// built and the network is up. Nothing of a run is in it yet; without a
// prestarted interpreter (below), the rest of the setup (the working
// directory's files, honeytokens and audit hook, the read-only root,
// capabilities, Landlock, seccomp, rlimits) happens when [Prepared.Run]
// hands it a program, in the same code and order as a sandbox started at
// once by [Backend.Run]. tmpl's Args, Env, Files,
// Stdin, Stdout, Stderr, Limits.Timeout and Limits.OutputLimit are the
// run's own and are ignored here; everything else fixes the sandbox.
//
// Where tmpl allows (prestartable), the interpreter is started too: the
// init does the whole setup with the template's environment and starts
// Python on a stub (nsinit.WarmStub) that reads the program from a
// descriptor; Run then only writes the files, argv and variables of its
// Spec, which must be `-c CODE` or a script of its files with no option
// and no variable Python reads at startup (warmFits; else
// moat.ErrMismatch). The stub runs it as __main__ with the same argv,
// globals, environment, traceback and exit status as a cold start, and
// the same /proc/self/cmdline and /proc/self/environ (PR_SET_MM_MAP); what
// differs is the call stack under the program (the stub's two frames),
// ctypes' library in its memory map (the stub loaded it for that call,
// and took it out of sys.modules) and the order of the variables in the C
// environment its children get.
//
// ctx is checked before the preparation, which is short and not canceled
// midway. A Prepared runs once; one that is not
// run must be closed.
func (b *Backend) Prepare(ctx context.Context, tmpl *moat.Spec) (moat.Prepared, error) {
	t := *tmpl
	if len(t.Args) == 0 {
		t.Args = []string{"-c", "pass"} // Validate wants a program
	}
	t.Stdin, t.Stdout, t.Stderr, t.Files = nil, nil, nil, nil
	r, err := newRunner(&t)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("native: prepare: %w", err)
	}
	if err := r.prepare(true); err != nil {
		return nil, err
	}
	return &Prepared{r: r, tmpl: &t, tidied: make(chan struct{})}, nil
}

// Prepared is a sandbox waiting for its one program; see [Backend.Prepare].
type Prepared struct {
	r    *runner
	tmpl *moat.Spec
	once sync.Once
	// tidied is closed once the sandbox is gone and cleaned up (its
	// cgroup removed, its pipes closed): after the Result of a run, in
	// the background, or by Close.
	tidied chan struct{}
}

var _ moat.Prepared = (*Prepared)(nil)

// Done is closed when the sandbox has died: once run, or killed while it
// waited.
func (p *Prepared) Done() <-chan struct{} { return p.r.exited }

// Run runs spec in the prepared sandbox, as [Backend.Run] would in a new
// one. spec must fit the template (the error then wraps
// moat.ErrMismatch and the sandbox is still unused); a sandbox that died
// while it waited gives an error wrapping moat.ErrStale. Either way the
// caller may run spec elsewhere. A Prepared runs at most once.
func (p *Prepared) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("native: %w", err)
	}
	if err := p.fits(spec); err != nil {
		return nil, err
	}
	var run bool
	p.once.Do(func() { run = true })
	if !run {
		return nil, fmt.Errorf("native: prepared sandbox already used: %w", moat.ErrStale)
	}
	if !p.alive() {
		_ = p.r.lost(nil)
		close(p.r.done)
		p.r.notifyWG.Wait()
		p.r.cleanup()
		close(p.tidied)
		return nil, fmt.Errorf("native: prepared sandbox died while waiting: %w", moat.ErrStale)
	}
	s := *spec
	// The Result is final once the init is reaped and the streams are
	// drained: the cgroup's removal and the rest of the cleanup are
	// not the caller's to wait for (Close is).
	res, err := p.r.startRun(ctx, &s)
	go func() {
		<-p.r.exited // startRun may not have waited (early)
		p.r.cleanup()
		close(p.tidied)
	}()
	return p.r.finishReport(res, err)
}

// Close destroys the sandbox if it was not run, and returns once it is
// gone and cleaned up. It is safe to call at any time, also after Run.
func (p *Prepared) Close() error {
	p.once.Do(func() {
		_ = p.r.cmd.Process.Kill() // pid 1: the namespace dies with it
		<-p.r.exited
		close(p.r.done)
		p.r.notifyWG.Wait()
		p.r.cleanup()
		close(p.tidied)
	})
	<-p.tidied
	return nil
}

// fits says whether spec can run in the sandbox prepared for the
// template: the same interpreter, network, limits (but the timeout and
// the output cap, which are the parent's), report, userland, no
// workspace or out directory, and no variable the report planted a
// honeytoken in.
func (p *Prepared) fits(spec *moat.Spec) error {
	t := p.tmpl
	why := sandboxDiffers(spec, t)
	if spec.PersonaKey != t.PersonaKey {
		why = append(why, "persona") // drawn when the sandbox was made
	}
	if spec.Workspace != t.Workspace || spec.OutDir != t.OutDir || spec.OutLinks != t.OutLinks {
		why = append(why, "workspace")
	}
	if p.r.warm {
		if err := warmFits(spec); err != "" {
			why = append(why, err)
		}
	}
	if spec.AllowDegraded != t.AllowDegraded || spec.Userland != t.Userland || spec.NoReport != t.NoReport || spec.Launcher != t.Launcher {
		why = append(why, "options")
	}
	for _, kv := range spec.Env {
		k, _, _ := strings.Cut(kv, "=")
		if slices.ContainsFunc(p.r.planEnv, func(pe string) bool { return strings.HasPrefix(pe, k+"=") }) {
			why = append(why, "environment "+k)
			break
		}
	}
	if len(why) > 0 {
		return fmt.Errorf("native: the prepared sandbox differs in %s: %w", strings.Join(why, ", "), moat.ErrMismatch)
	}
	return nil
}

// sandboxDiffers names what of spec a sandbox made for t cannot give:
// other limits (but the timeout and the output cap, which are the
// parent's), another interpreter or another network.
func sandboxDiffers(spec, t *moat.Spec) []string {
	a, b := spec.Limits.WithDefaults(), t.Limits.WithDefaults()
	a.Timeout, a.OutputLimit, b.Timeout, b.OutputLimit = 0, 0, 0, 0
	var why []string
	if a != b {
		why = append(why, "limits")
	}
	if spec.Python != t.Python || spec.Image != t.Image {
		why = append(why, "interpreter")
	}
	if spec.Network != t.Network {
		why = append(why, "network")
	}
	return why
}

// prestartable says whether sandboxes prepared for tmpl start their
// interpreter ahead (nsinit.Prestart): not for moat's launcher, nor for
// a template with a workspace (its tree goes in before the program),
// variables of its own or a program that could not be handed over
// (warmFits).
func prestartable(tmpl *moat.Spec) bool {
	return !tmpl.Launcher && tmpl.Workspace == "" && len(tmpl.Env) == 0 && warmFits(tmpl) == ""
}

// warmFits says why spec cannot be handed to an interpreter started
// ahead, or "": its arguments must be `-c CODE [ARG...]` or
// `SCRIPT [ARG...]` with the script one of its files (no interpreter
// option: they are fixed at the start), and its environment must leave
// alone what Python, the dynamic loader and libc read while it starts.
func warmFits(spec *moat.Spec) string {
	a := spec.Args
	switch {
	case len(a) >= 2 && a[0] == "-c":
	case len(a) >= 1 && a[0] != "" && a[0][0] != '-' && hasFile(spec, a[0]):
	default:
		return "arguments (interpreter options, or a program neither -c nor a script of its files)"
	}
	seen := make(map[string]bool, len(spec.Env))
	for _, kv := range spec.Env {
		k, _, _ := strings.Cut(kv, "=")
		if seen[k] || strings.HasPrefix(k, "PYTHON") || strings.HasPrefix(k, "LC_") || k == "LANG" || k == "LANGUAGE" || k == "HOME" ||
			strings.HasPrefix(k, "LD_") || strings.HasPrefix(k, "MALLOC_") || k == "GLIBC_TUNABLES" { // the loader's and libc's, read at exec
			return "environment " + k
		}
		seen[k] = true
	}
	return ""
}

func hasFile(spec *moat.Spec, name string) bool {
	_, ok := spec.Files[name]
	return ok
}

// Prestarted reports whether the sandbox's interpreter is started and
// waits for its program (nsinit.Prestart); see [Backend.Prepare].
func (p *Prepared) Prestarted() bool { return p.r.warm }

// Pid is the host pid of the sandbox's init (pid 1 inside), for watching
// it from outside.
func (p *Prepared) Pid() int { return p.r.cmd.Process.Pid }

// alive reports whether the init has not exited (a zombie not yet reaped
// counts as exited: its pidfd polls readable).
func (p *Prepared) alive() bool {
	select {
	case <-p.r.exited:
		return false
	default:
	}
	fd, err := unix.PidfdOpen(p.r.cmd.Process.Pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	n, err := unix.Poll(pfd, 0)
	return err == nil && n == 0
}
