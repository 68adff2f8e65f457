// Package ssh runs the program on a separate machine reached over SSH:
// the seed's "dedicated testing device (laptop or virtual server)", wiped
// after the run. What is isolated is the device itself: moat's own host
// shares nothing with the program but the bytes of the workspace, the
// output and the copy-out, all bounded and untrusted.
//
// # The connection
//
// golang.org/x/crypto/ssh, with the host's key checked against a
// known_hosts file (knownhosts); an unknown key or one that changed ends
// the connection before anything is sent, and is never accepted. The login
// is by an unencrypted key file. Configuration: MOAT_SSH_* (Config), or
// the [ssh] table of a --policy file.
//
// # On the host
//
// The remote user's login shell (a POSIX sh) runs unshare (util-linux)
// with a user namespace where that user is root, a mount namespace, a UTS
// namespace, a PID namespace and, for network none, a network namespace; the namespaces'
// init is moat's container bootstrap (backend/internal/container's
// bootstrap.py, run by the host's python3 -I -S) after a prelude that
// mounts the run's tmpfs (its working directory, home and /tmp, bound
// over the host's /tmp, /dev/shm and the user's home, sized by the disk
// limit), remounts every other mount of the host read-only, brings up the
// loopback, and sets the rlimits. The bootstrap
// speaks the containers' protocol over the session's stdin and stdout
// (header, workspace, the program's output in tagged frames, the copy-out,
// the exit frame), and starts the program in a nested user namespace as
// the remote user's own uid, with no capability.
//
// The host must be Linux with unprivileged user namespaces, util-linux
// 2.38 or newer and python3; the login must not be root (the program
// could then change the whole device), unless the run allows degraded
// layers. Memory and process limits are rlimits (RLIMIT_AS, RLIMIT_NPROC,
// which counts all of the user's processes): no cgroup, so a run needs
// --allow-degraded, and Result.Degraded says so.
//
// # The behaviour report
//
// The containers' report, made by bootstrap.py on the host
// (ctr.NewHostSession): honeytokens planted in the run's home (its tmpfs,
// over the user's), the audit hook from a .pth line in an overlay of
// python3's site directory (upper layer on the run's tmpfs; PYTHONPATH
// where the probe found no overlay to be had) and, for -S, from a loader
// appended to its encodings package bound over the host's, the walk and diff of what
// the program wrote, its output searched for the planted secrets, the
// kernel's witness of reads of the planted files (their times; not a read
// with O_NOATIME, which the program may use there). No seccomp listener:
// a kernel-events-unavailable event says so (docs/ssh.md).
//
// # The wipe
//
// Whatever the end, moat kills unshare (the SSH session's signal, then its
// pid), which takes the PID namespace's init and so, by the kernel, every
// process of the run; checks that no process is left in that namespace
// (and kills any it finds), while it holds the namespace open (a freed
// namespace's number goes to the next one made); removes the run's directory (its tmpfs went
// with the namespace); and runs the reset command, if configured, on the
// machine that runs moat. What the program wrote outside its tmpfs (the
// host's /var/tmp, say, where the user may write) stays until that reset:
// a device that is not reset is not disposable.
package ssh

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
)

// Backend runs specs on a remote host.
type Backend struct {
	// Config, if its Host is set, is used instead of FromEnv.
	Config Config
}

var (
	_ moat.Backend   = (*Backend)(nil)
	_ moat.Checker   = (*Backend)(nil)
	_ moat.Describer = (*Backend)(nil)
	_ moat.Supporter = (*Backend)(nil)
)

func init() {
	moat.Register("ssh", func() moat.Backend { return &Backend{} })
}

func (b *Backend) config() (Config, error) {
	if b.Config.Host != "" {
		return b.Config, b.Config.validate()
	}
	return FromEnv()
}

// Supports refuses what no remote run can enforce: the sinkhole and allow
// modes (moat's network stack is on this machine), an image, a host
// interpreter (the remote host's python3 runs the program).
func (b *Backend) Supports(spec *moat.Spec) error {
	if spec.Network != moat.NetworkNone {
		return fmt.Errorf("ssh: network mode %q: a remote host can only be cut off (none): %w", spec.Network, moat.ErrUnsupported)
	}
	if spec.Image != "" {
		return fmt.Errorf("ssh: --image %q: the remote host runs its own python3, no image: %w", spec.Image, moat.ErrUnsupported)
	}
	if spec.Python != "" {
		return fmt.Errorf("ssh: --python %q names an interpreter of this machine; the remote host runs its own python3: %w", spec.Python, moat.ErrUnsupported)
	}
	return nil
}

// Check connects to the host and asks what it can enforce: it is
// available when it can contain a run's processes (see the package doc).
func (b *Backend) Check(ctx context.Context) error {
	cfg, err := b.config()
	if err != nil {
		return fmt.Errorf("%w: %w", err, moat.ErrUnavailable)
	}
	c, err := dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	p, err := runProbe(ctx, c, "")
	if err != nil {
		return fmt.Errorf("ssh: %s: %w: %w", cfg.Host, err, moat.ErrUnavailable)
	}
	return usable(cfg, p)
}

// usable says whether the host can run anything at all.
func usable(cfg Config, p *probe) error {
	switch {
	case p.OS != "Linux":
		return fmt.Errorf("ssh: %s runs %q: moat contains a run on a Linux host only: %w", cfg.Host, termsafe.Line(p.OS, 40), moat.ErrUnavailable)
	case !p.Python:
		return fmt.Errorf("ssh: %s has no python3 on the login's PATH: %w", cfg.Host, moat.ErrUnavailable)
	case !p.NS:
		return fmt.Errorf("ssh: %s cannot contain a run's processes: unshare of user, mount and PID namespaces failed as %s (%s); it needs util-linux 2.38+ and unprivileged user namespaces: %w",
			cfg.Host, cfg.user(), termsafe.Line(p.NSWhy, 200), moat.ErrUnavailable)
	}
	return nil
}

// Describe says which host, and what it enforces.
func (b *Backend) Describe(ctx context.Context) []string {
	cfg, err := b.config()
	if err != nil || cfg.Host == "" {
		return nil
	}
	notes := []string{fmt.Sprintf("host %s@%s:%d (known_hosts %s)", cfg.user(), cfg.Host, cfg.port(), cfg.knownHosts())}
	c, err := dial(ctx, cfg)
	if err != nil {
		return notes
	}
	defer c.Close()
	notes = append(notes, "host key "+c.hostKey)
	if p, err := runProbe(ctx, c, ""); err == nil {
		notes = append(notes, layerNotes(p)...)
	}
	if cfg.Reset != "" {
		notes = append(notes, "reset after each run: "+termsafe.Line(cfg.Reset, 100))
	} else {
		notes = append(notes, "no reset command: what a run writes outside its tmpfs stays on the device")
	}
	return notes
}

func layerNotes(p *probe) []string {
	n := []string{"limits: rlimits (no cgroups: systemd-run --user " + map[bool]string{true: "works but is not used yet", false: "unavailable"}[p.Systemd] + ")"}
	if p.Net {
		n = append(n, "network none: a network namespace")
	} else {
		n = append(n, "network none cannot be enforced: "+termsafe.Line(p.NetWhy, 100))
	}
	if p.Site != "" {
		n = append(n, "audit hook: a .pth line in an overlay of "+p.Site)
	} else {
		n = append(n, "audit hook: on PYTHONPATH (no overlay of a site directory of python3 can be had there: -I and -E interpreters run without it)")
	}
	if p.UID == 0 {
		n = append(n, "the login is root: the program could change the whole device")
	}
	return n
}

// runProbe runs probeCommand in a session of its own.
func runProbe(ctx context.Context, c *conn, dir string) (*probe, error) {
	out, _, err := output(ctx, c, probeCommand(dir), 16<<10)
	if err != nil {
		return nil, fmt.Errorf("probe: %w", err)
	}
	return parseProbe(out)
}

// output runs cmd in a new session and returns its bounded stdout and
// stderr. A command that exits non-zero is no error here.
func output(ctx context.Context, c *conn, cmd string, max int64) (string, string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("new session: %w", err)
	}
	defer s.Close()
	stdout := capture.New(nil, max, func() {})
	stderr := capture.New(nil, 8<<10, func() {})
	s.Stdout, s.Stderr = stdout, stderr
	done := make(chan error, 1)
	if err := s.Start(cmd); err != nil {
		return "", "", fmt.Errorf("start: %w", err)
	}
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		return "", "", ctx.Err()
	}
	o, _ := stdout.Result()
	e, _ := stderr.Result()
	var ee *ssh.ExitError
	if err != nil && !errors.As(err, &ee) {
		return o, e, err
	}
	return o, e, nil
}

// wipeTimeout bounds the wipe; the reset command has its own.
const (
	wipeTimeout  = 30 * time.Second
	resetTimeout = 10 * time.Minute
)

// Run runs spec on the host; see the package doc.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (res *moat.Result, err error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	if err := b.Supports(spec); err != nil {
		return nil, err
	}
	cfg, err := b.config()
	if err != nil {
		return nil, err
	}
	lim := spec.Limits.WithDefaults()
	c, err := dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	dir := cfg.dir() + "/moat-ssh-" + hex.EncodeToString(idb[:])
	p, err := runProbe(ctx, c, dir)
	if err != nil {
		return nil, fmt.Errorf("ssh: %s: %w: %w", cfg.Host, err, moat.ErrSandbox)
	}
	if !p.Made {
		return nil, fmt.Errorf("ssh: %s: could not create the run directory %s in %s: %w", cfg.Host, dir, cfg.dir(), moat.ErrSandbox)
	}
	w := &wiper{c: c, cfg: cfg, dir: dir}
	defer func() {
		if werr := w.wipe(); werr != nil {
			if res != nil && res.Status != moat.StatusError {
				res.Status, res.Error = moat.StatusError, werr.Error()
			}
			err = join(err, werr)
		}
	}()
	if err := usable(cfg, p); err != nil {
		return nil, err
	}
	if !safePath(p.Home) {
		p.Home = "" // not bound over: the run's HOME is its own directory
	}
	res = &moat.Result{Isolation: "ssh"}
	res.Layers, res.Degraded = layers(cfg, c, p, spec, lim, dir)
	if len(res.Degraded) > 0 && !spec.AllowDegraded {
		return nil, fmt.Errorf("ssh: %s cannot enforce: %s (pass --allow-degraded to run with what it has): %w",
			cfg.Host, strings.Join(res.Degraded, "; "), moat.ErrDegraded)
	}
	return b.run(ctx, c, p, spec, lim, dir, w, res)
}

// noKernel is why a run on the host has no kernel witness: the report's
// kernel-events-unavailable event, and its findings rest on the hook.
const noKernel = "a remote host has no seccomp listener of moat's (its init there is bootstrap.py, run by the host's python3, which has none, and no seccomp profile is applied)"

// reportLayer describes the report of a run on the host.
func reportLayer(off bool, site string) moat.Layer {
	if off {
		return moat.Layer{Name: "behaviour-report", Detail: "off (Spec.NoReport: --no-report)"}
	}
	hook := "Python audit hook on PYTHONPATH (the host's python3; no overlay of its site directory could be had: an interpreter started with -I, -E or -S runs without it, unseen), "
	if site != "" {
		hook = "Python audit hook from a .pth line in an overlay of the host's site directory " + site + " (on the run's tmpfs), and for -S from a loader at the end of the encodings package bound read-only over the host's (an interpreter given a standard library of its own runs without it, unseen), "
	}
	return moat.Layer{Name: "behaviour-report", Detail: hook +
		"its channel in a directory of the run's /tmp named anew each run, both the remote user's (its events are the program's claims; any change to them is an evasion finding); " +
		"honeytokens planted in the run's home (its tmpfs, over the user's); diff of the working directory, the home, /tmp and /dev/shm by bootstrap.py; " +
		"the host kernel's witness of reads of the planted files (their access and change times, read by bootstrap.py; not reads with O_NOATIME); " +
		"no other kernel side (no seccomp listener): execs and connects rest on the hook"}
}

// layers lists what is in effect on the host, and what is missing.
func layers(cfg Config, c *conn, p *probe, spec *moat.Spec, lim moat.Limits, dir string) (l []moat.Layer, degraded []string) {
	l = []moat.Layer{
		{Name: "dedicated-host", Detail: fmt.Sprintf("%s@%s:%d: a separate machine; the device is what is isolated", cfg.user(), cfg.Host, cfg.port())},
		{Name: "host-key", Detail: c.hostKey + " as in " + cfg.knownHosts()},
		{Name: "user-namespace", Detail: fmt.Sprintf("the program runs as uid %d with no capability, in a user namespace nested in the run's", p.UID)},
		{Name: "pid-namespace", Detail: "the run's own; its init is moat's bootstrap: when it ends, the kernel kills every process left"},
		{Name: "mount-namespace", Detail: "private, with its own /proc and an empty read-only /run (the host's Unix sockets)"},
		{Name: "uts-namespace", Detail: "host name sandbox"},
		{Name: "ipc-namespace", Detail: "the run's own System V IPC and POSIX message queues, gone with it"},
		{Name: "read-only-host", Detail: "every mount of the host read-only in the run's mount namespace (those the user can reach), but the run's tmpfs"},
		{Name: "disk", Detail: fmt.Sprintf("tmpfs of %d bytes at %s for the working directory, and bound over the user's home, /tmp and /dev/shm; RLIMIT_FSIZE %d", lim.Disk, dir, lim.Disk)},
		{Name: "rlimits", Detail: fmt.Sprintf("RLIMIT_AS %d, RLIMIT_NPROC %d (all of the user's processes), RLIMIT_CORE 0", lim.Memory, lim.Pids)},
		{Name: "timeout", Detail: "moat's, on this machine; the bootstrap's as a backstop"},
		{Name: "output-limit", Detail: "counted on this machine"},
		{Name: "wipe", Detail: "processes killed and checked gone, run directory removed" + map[bool]string{true: ", then the reset command", false: ""}[cfg.Reset != ""]},
		reportLayer(spec.NoReport, p.Site),
	}
	if p.Net {
		l = append(l, moat.Layer{Name: "network-none", Detail: "a network namespace with only a loopback"})
	} else {
		degraded = append(degraded, "network none: the host cannot make a network namespace ("+termsafe.Line(p.NetWhy, 120)+"): the program has the host's network")
	}
	why := "systemd-run --user is unavailable there"
	if p.Systemd {
		why = "moat does not use systemd-run yet"
	}
	degraded = append(degraded, "memory and process limits without cgroups ("+why+"): RLIMIT_AS and RLIMIT_NPROC of the user stand in")
	if lim.CPUs > 0 {
		degraded = append(degraded, "cpus: no CPU bandwidth control without cgroups")
	}
	if p.UID == 0 {
		degraded = append(degraded, "the login is root: the program could change the whole device (log in as an ordinary user)")
	}
	if p.Home == "" {
		degraded = append(degraded, "the user's home could not be hidden: the program may write there")
	}
	return l, degraded
}

// run runs the bootstrap in the run's namespaces and speaks the
// protocol with it.
func (b *Backend) run(ctx context.Context, c *conn, p *probe, spec *moat.Spec, lim moat.Limits, dir string, w *wiper, res *moat.Result) (*moat.Result, error) {
	s, err := c.NewSession()
	if err != nil {
		return nil, fmt.Errorf("ssh: new session: %w: %w", err, moat.ErrSandbox)
	}
	defer s.Close()
	stdin, err := s.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ssh: %w", err)
	}
	diag := &diagWriter{Stream: capture.New(nil, 8<<10, func() {})}
	s.Stderr = diag
	life := ctr.NewRun(func() {
		_ = s.Signal(ssh.SIGKILL)
		pid, start := diag.unshare()
		if pid > 0 && start > 0 {
			kctx, cancel := context.WithTimeout(context.Background(), wipeTimeout)
			defer cancel()
			_, _, _ = output(kctx, c, killUnshareCommand(pid, start), 1024)
		}
	})
	// The run's persona is the host's own user, in the run's home (the
	// tmpfs bound over the user's home, or the run directory's): the
	// honeytokens are planted there, never in the user's real files.
	// HOME, USER, LOGNAME, TMPDIR come from it (ctr.Env); the spec's
	// variables win.
	home := p.Home
	if home == "" {
		home = dir + "/home"
	}
	pers := ctr.NewPersona(spec.PersonaKey)
	pers.Home, pers.User, pers.Host = home, c.User(), "sandbox"
	host := &ctr.HostInit{Work: dir + "/work", Launcher: launcher(p.UID, p.GID), NoKernel: noKernel}
	sess := ctr.NewHostSession(spec, lim, pers, host, life.Stop)
	defer sess.Report(res)
	sess.RlimitAS = lim.Memory
	if p.Site != "" {
		// The hook in a site directory (an overlay of the host's):
		// interpreters started with -I and -E run it too.
		sess.Site = &ctr.HookSite{Dir: p.Site}
	}
	cmd := runCommand(runParams{Dir: dir, Home: p.Home, Net: p.Net, Disk: lim.Disk, Fsize: lim.Disk, Nproc: lim.Pids, Site: p.Site, Program: ctr.BootstrapSource()})
	start := time.Now()
	if err := s.Start(cmd); err != nil {
		return nil, fmt.Errorf("ssh: start: %w: %w", err, moat.ErrSandbox)
	}
	recvDone := make(chan struct{})
	go func() {
		defer close(recvDone)
		if err := sess.Receive(stdout); err != nil {
			life.Stop(moat.StatusError)
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	waitErr := make(chan error, 1)
	go func() {
		<-recvDone
		waitErr <- s.Wait()
	}()
	sendErr := sess.Send(stdin, func() { _ = stdin.Close() })
	if sendErr != nil {
		life.Stop(moat.StatusError)
	}
	end := life.SuperviseProgram(ctx, lim.Timeout, ctr.AfterBound, sess.Started(), sess.Reaped(), sess.Exited())
	defer end()
	var werr error
	select {
	case werr = <-waitErr:
	case <-time.After(ctr.StartBound + lim.Timeout + ctr.StopSlack + ctr.AfterBound + 2*ctr.StopGrace):
		life.Stop(moat.StatusError)
		select {
		case werr = <-waitErr:
		case <-time.After(ctr.StopGrace):
			s.Close() // the host does not answer: the wipe says what is left
			werr = <-waitErr
		}
	}
	reason := life.End()
	res.DurationMS = time.Since(start).Milliseconds()
	w.pid, w.start = diag.unshare()
	w.ns = diag.value("moat-ns")
	sess.Fill(res)
	var ee *ssh.ExitError
	if errors.As(werr, &ee) || errors.Is(werr, io.EOF) {
		werr = nil
	}
	d, _ := diag.Result()
	return sess.Finish(res, "ssh", reason, ctr.Stats{}, stripMarks(d), ctr.Note("ssh", werr)+ctr.Note("send", sendErr), life.Cause(sendErr, ctr.AfterBound))
}

// diagWriter is the session's stderr: the shell's and the prelude's
// marks (moat-start=, moat-pid=, moat-ns=), then whatever the bootstrap says on
// failure. The program has no descriptor of it.
type diagWriter struct{ *capture.Stream }

// value returns the value of the first line key=value, "" if none.
func (d *diagWriter) value(key string) string {
	s, _ := d.Result()
	for _, line := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	return ""
}

// unshare returns the pid of the run's unshare and its start time, 0 for
// what the shell did not say.
func (d *diagWriter) unshare() (pid int, start uint64) {
	pid, _ = strconv.Atoi(d.value("moat-pid"))
	start, _ = strconv.ParseUint(d.value("moat-start"), 10, 64)
	return pid, start
}

func stripMarks(s string) string {
	var keep []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(line, "moat-pid=") && !strings.HasPrefix(line, "moat-ns=") && !strings.HasPrefix(line, "moat-start=") && line != "" {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "; ")
}

// wiper ends a run on the host and resets it.
type wiper struct {
	c     *conn
	cfg   Config
	dir   string
	pid   int
	start uint64 // unshare's start time: the pid is the run's only then
	ns    string
}

// wipe runs wipeCommand, checks that nothing is left, then the reset
// command. It runs whatever happened before, with a context of its own.
func (w *wiper) wipe() error {
	ctx, cancel := context.WithTimeout(context.Background(), wipeTimeout)
	defer cancel()
	ns := w.ns
	if !strings.HasPrefix(ns, "pid:[") || strings.Trim(ns[5:len(ns)-1], "0123456789") != "" || !strings.HasSuffix(ns, "]") {
		ns = ""
	}
	out, _, err := output(ctx, w.c, wipeCommand(w.dir, w.pid, w.start, ns), 1024)
	var errs []error
	switch left := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "left=")); {
	case err != nil:
		errs = append(errs, fmt.Errorf("ssh: wipe on %s: %w: %w", w.cfg.Host, err, moat.ErrSandbox))
	case left != "0":
		errs = append(errs, fmt.Errorf("ssh: wipe on %s: %s processes of the run still there after being killed: %w", w.cfg.Host, termsafe.Line(left, 20), moat.ErrSandbox))
	}
	if w.cfg.Reset != "" {
		if err := reset(w.cfg); err != nil {
			errs = append(errs, err)
		}
	}
	var all error
	for _, e := range errs {
		all = join(all, e)
	}
	return all
}

// join is both errors on one line.
func join(a, b error) error {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return fmt.Errorf("%w; %w", a, b)
}

// reset runs the configured reset command on this machine.
func reset(cfg Config) error {
	ctx, cancel := context.WithTimeout(context.Background(), resetTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", cfg.Reset)
	cmd.Env = append(os.Environ(), EnvHost+"="+cfg.Host)
	out := capture.New(nil, 4<<10, func() {})
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		o, _ := out.Result()
		return fmt.Errorf("ssh: reset command for %s failed (%s): %s: %w", cfg.Host, err, termsafe.Line(o, 200), moat.ErrSandbox)
	}
	return nil
}
