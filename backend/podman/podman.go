// Package podman runs the program in a Podman container, rootless where
// it can, with the same hardening and the same container init as
// the docker backend (backend/internal/container).
//
// # Through the CLI
//
// moat drives the podman command (one `podman run` per run), not its
// Docker-compatible API: that API needs `podman system service` running,
// a daemon, which is what Podman's design (daemonless, rootless-native)
// avoids and what the docker backend already covers. The run's stdin and
// stdout are the CLI's own, so the init's protocol is the same byte for
// byte; `podman kill` and `podman rm` are used only when a run must be cut
// short (--rm removes a container that ends by itself).
//
// # Rootless or rootful
//
// As an ordinary user, podman runs rootless: the engine holds no privilege
// beyond the user's. When moat runs as root it runs podman rootful, and
// says so in the layers ("rootful (moat runs as root)"), unless User (or
// MOAT_PODMAN_USER) names an unprivileged user with subuid/subgid ranges:
// then podman runs as that user, rootless. Rootless podman can enforce
// memory, pids and CPU limits only with cgroup v2 and systemd delegation;
// on cgroup v1 (or without delegation) a rootless run refuses with
// ErrDegraded, unless the Spec allows degraded runs, when RLIMIT_AS and
// RLIMIT_NPROC stand in and Result.Degraded says so.
package podman

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
)

// DefaultImage is used when neither Spec.Image nor Backend.Image is set.
const DefaultImage = "python:3.12-slim"

// UserEnv names the unprivileged user a root moat runs podman as.
const UserEnv = "MOAT_PODMAN_USER"

// Backend runs specs in Podman containers.
type Backend struct {
	Image string // "" = DefaultImage; Spec.Image wins
	// User, when moat runs as root, is the unprivileged user to run
	// rootless podman as; "" = MOAT_PODMAN_USER, and if that is empty too,
	// rootful podman.
	User string
	// Podman is the podman binary; "" = podman on PATH.
	Podman string
	// PythonInit runs bootstrap.py as the container's init instead of
	// moat's own (as MOAT_CONTAINER_INIT=python does; see
	// backend/internal/container).
	PythonInit bool
}

var (
	_ moat.Backend   = (*Backend)(nil)
	_ moat.Checker   = (*Backend)(nil)
	_ moat.Describer = (*Backend)(nil)
)

func init() {
	moat.Register("podman", func() moat.Backend { return &Backend{} })
}

// New returns a Backend for image, run as user (see Backend.User).
func New(image, user string) *Backend { return &Backend{Image: image, User: user} }

// mode is how podman runs for this moat: as whom, and what that allows.
type mode struct {
	cred     *syscall.Credential // nil: as moat itself
	env      []string
	dir      string
	rootless bool
	who      string // for the layers
	engine   string // for the init volume's stamp: "podman-" and the user
	cgroups  bool   // limits can be enforced through cgroups
	why      string // why not
}

func (b *Backend) mode() (*mode, error) {
	name := b.User
	if name == "" {
		name = os.Getenv(UserEnv)
	}
	m := &mode{env: []string{"PATH=" + os.Getenv("PATH")}}
	switch {
	case os.Geteuid() != 0:
		m.rootless, m.who = true, "rootless (as "+currentUser()+")"
		m.env = os.Environ()
		m.engine = "podman-" + currentUser()
	case name == "" || name == "root":
		m.who, m.cgroups = "rootful (moat runs as root)", true
		m.engine = "podman-root"
		return m, nil
	default:
		u, err := user.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("podman: %s=%q: %w", UserEnv, name, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		m.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		m.dir = u.HomeDir
		m.rootless, m.who = true, "rootless (as "+name+", moat runs as root)"
		m.engine = "podman-" + name
		m.env = append(m.env, "HOME="+u.HomeDir, "USER="+name, "LOGNAME="+name)
		if fi, err := os.Stat(fmt.Sprintf("/run/user/%d", uid)); err == nil && fi.IsDir() {
			m.env = append(m.env, fmt.Sprintf("XDG_RUNTIME_DIR=/run/user/%d", uid))
		}
	}
	// Rootless limits need cgroup v2 with the controllers delegated.
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err != nil {
		m.why = "rootless podman cannot set limits on cgroup v1 (this host); run moat as root for rootful podman, or boot with cgroup v2 and systemd delegation"
	} else {
		m.cgroups = true
	}
	return m, nil
}

func currentUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

func (b *Backend) bin() string {
	if b.Podman != "" {
		return b.Podman
	}
	return "podman"
}

// command returns a podman command run in mode m.
func (b *Backend) command(m *mode, args ...string) *exec.Cmd {
	cmd := exec.Command(b.bin(), args...)
	cmd.Env = m.env
	cmd.Dir = m.dir
	if m.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: m.cred}
	}
	return cmd
}

// Check says whether podman can run here without starting it: the binary
// is on PATH and executable, and the user it would run as exists. Every
// podman process costs some 20 ms (a large binary and the runtime's own
// start), as much as the rest of moat's work on a run, so the first podman
// of a run is the run itself: a podman that is installed but broken fails
// there, with its own message, and `moat backends` (Describe) shows what
// `podman info` says.
func (b *Backend) Check(ctx context.Context) error {
	path, err := exec.LookPath(b.bin())
	if err != nil {
		return fmt.Errorf("podman: not installed (apt-get install podman uidmap fuse-overlayfs slirp4netns): %w", moat.ErrUnavailable)
	}
	m, err := b.mode()
	if err != nil {
		return fmt.Errorf("%w: %w", moat.ErrUnavailable, err)
	}
	if m.cred != nil {
		// Executable by the user podman runs as, not only by root.
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("podman: %s is not executable by others, so not as %s: %w", path, m.who, moat.ErrUnavailable)
		}
	}
	if p := m.devProblem(); p != "" {
		return fmt.Errorf("podman: %s: %w", p, moat.ErrUnavailable)
	}
	return nil
}

func (b *Backend) output(ctx context.Context, m *mode, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := b.command(m, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err.Error(), err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return strings.TrimSpace(out.String()), err
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return "timed out", ctx.Err()
	}
}

// Describe says which podman, how it runs, and with which runtime.
func (b *Backend) Describe(ctx context.Context) []string {
	m, err := b.mode()
	if err != nil {
		return nil
	}
	out, err := b.output(ctx, m, "info", "--format", "{{.Version.Version}} {{.Host.OCIRuntime.Name}} {{.Host.CgroupsVersion}} {{.Store.GraphDriverName}}")
	if p := m.devProblem(); p != "" {
		return []string{m.who, p}
	}
	if err != nil {
		return []string{m.who, "`podman info` failed, so runs will too: " + termsafe.Line(out, 0)}
	}
	f := strings.Fields(out)
	for len(f) < 4 {
		f = append(f, "?")
	}
	notes := []string{"podman " + f[0] + ", " + m.who, "runtime " + f[1], "cgroup " + f[2], "storage " + f[3],
		ctr.DescribeInit(b.PythonInit, "", "")}
	if !m.cgroups {
		notes = append(notes, "limits: "+m.why)
	}
	img := b.image(&moat.Spec{})
	if _, err := b.output(ctx, m, "image", "exists", img); err != nil {
		notes = append(notes, "image "+img+" missing: pulled on first use, or build with .ci/images.sh")
	} else {
		notes = append(notes, "image "+img)
	}
	return notes
}

func (b *Backend) image(spec *moat.Spec) string { return cmp.Or(spec.Image, b.Image, DefaultImage) }

// DefaultImage is the image of a run whose Spec names none.
func (b *Backend) DefaultImage() string { return cmp.Or(b.Image, DefaultImage) }

// Supports refuses what a container cannot enforce: see ctr.SupportsSink.
func (b *Backend) Supports(spec *moat.Spec) error {
	return ctr.SupportsSinkEnter("podman", spec, sinkHelper())
}

// sinkHelper says whether a run's sinkhole is served by moat's helper in
// rootless podman's user namespace (`podman unshare`): when moat is not
// root, and so runs rootless podman as itself.
func sinkHelper() bool { return os.Geteuid() != 0 }

// Collect removes what killed runs left; see [GC].
func (b *Backend) Collect(ctx context.Context) ([]string, error) { return GC(ctx) }

// nofile and nproc are the rlimits every container gets. Podman's defaults
// are above what moat itself may have (root without CAP_SYS_RESOURCE), and
// runc then fails to start; these are ordinary values. RLIMIT_NPROC is
// only a backstop above the pids cgroup, which is the limit.
const nofile = 4096

func nproc(pids int) int { return max(4096, pids+64) }

// Without cgroups RLIMIT_NPROC stands in for the pids limit. It counts
// every process of the host uid the container's user maps to, and
// rootless containers of one user share that uid: the program's limit
// (set by the init's exec shim) has sideSlack for runs side by side, and
// the container's, which binds the init, initSlack more, so that a
// program that forks to its limit leaves the init room for the threads
// Go's runtime makes (the init died of a failed thread creation there).
const sideSlack, initSlack = 32, 32

func programNproc(pids int) int { return pids + ctr.InitPids + sideSlack }

// containerName names a run's container. Podman writes the name into the
// container's /etc/hosts, so it says nothing of moat (the label does).
func containerName(id string) string { return "build-" + id }

// args returns `podman run` arguments for spec.
// initVol is the init volume, or "" to run bootstrap.py (ctr.UseGoInit);
// site, if set with a directory, gets a tmpfs for the hook; binds are
// (host file, container path) pairs bound read-only.
func (b *Backend) args(m *mode, spec *moat.Spec, lim moat.Limits, id, seccompFile, initVol string, p ctr.Persona, site *ctr.HookSite, binds [][2]string) (args []string, degraded []string) {
	mounts, shm := ctr.Tmpfs(lim.Disk, p.Home)
	if site != nil && site.Dir != "" {
		mounts = append(mounts, site.Tmpfs())
	}
	if spec.Network == moat.NetworkSinkhole {
		// The resolver: podman's resolv.conf names the host's, whose
		// port 53 the sink answers as any other address's.
		mounts = append(mounts, ctr.TrustMount())
	}
	args = []string{"run", "--rm", "-i", "--pull", "never",
		"--name", containerName(id), "--label", ctr.Label + "=" + id,
		"--network", "none", "--read-only", "--read-only-tmpfs=false",
		"--cap-drop", "all", "--security-opt", "no-new-privileges",
		"--security-opt", "seccomp=" + seccompFile,
		"--security-opt", "mask=" + strings.Join(ctr.MaskedPaths, ":"),
		"--user", ctr.User, "--hostname", p.Host, "--workdir", ctr.WorkDir,
		"--passwd-entry", p.PasswdEntry(),
		"--ipc", "private", "--shm-size", strconv.FormatInt(shm, 10),
		"--log-driver", "none", "--init=false",
		"--ulimit", fmt.Sprintf("nofile=%d:%d", nofile, nofile),
		"--env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	entry := ctr.Entrypoint(initVol != "", p)
	args = append(args, "--entrypoint", entry[0])
	if initVol != "" {
		// nocopy: if the volume is gone, podman makes an empty one, never
		// a copy of what the image holds at that path.
		args = append(args, "--volume", initVol+":"+p.Tools+":ro,nocopy")
	}
	for _, mt := range mounts {
		// Podman spells the owner U (chown to the container user), and
		// by default copies what the image holds at the path into the
		// tmpfs first; notmpcopyup: they start empty, as with docker.
		args = append(args, "--tmpfs", fmt.Sprintf("%s:rw,nosuid,nodev,size=%d,U,notmpcopyup,mode=%s", mt.Path, mt.Size, modeOf(mt.Options)))
	}
	if m.cgroups {
		// The init's reserve beyond the program's limit (ctr.InitReserve).
		mem := lim.Memory + ctr.InitReserve
		args = append(args, "--memory", strconv.FormatInt(mem, 10), "--memory-swap", strconv.FormatInt(mem, 10),
			"--pids-limit", strconv.Itoa(lim.Pids+ctr.InitPids),
			"--ulimit", fmt.Sprintf("nproc=%d:%d", nproc(lim.Pids), nproc(lim.Pids)))
		if lim.CPUs > 0 {
			args = append(args, "--cpus", strconv.FormatFloat(lim.CPUs, 'f', -1, 64))
		}
	} else {
		// Degraded: rlimits stand in for the cgroup (per user for
		// processes; RLIMIT_AS per process, set by the init).
		// RLIMIT_NPROC counts every process of the host uid the
		// container's user maps to, and rootless containers of one user
		// share that uid: slack for runc's init and for runs side by
		// side, or one run's exec fails for another's processes.
		n := programNproc(lim.Pids) + initSlack
		args = append(args, "--ulimit", fmt.Sprintf("nproc=%d:%d", n, n))
		// A memfd's pages belong to no process and to no tmpfs of a
		// size: without a memory cgroup only RLIMIT_FSIZE bounds one
		// (session 22: one took 3 GiB of the host's memory unchecked,
		// and limit-hides-memfd's 30 s fill cut its run's report).
		args = append(args, "--ulimit", fmt.Sprintf("fsize=%d:%d", lim.Disk, lim.Disk))
		degraded = append(degraded, "cgroups: "+m.why+"; rlimits stand in, and bound less: "+degradedBounds(lim))
	}
	for _, bd := range binds {
		args = append(args, "--mount", "type=bind,src="+bd[0]+",dst="+bd[1]+",ro")
	}
	args = append(args, b.image(spec))
	args = append(args, entry[1:]...)
	return args, degraded
}

// startupBinds writes the files of the hook for -S interpreters
// (ctr.HookStartup) to a fresh directory of Python's tempfile shape (its
// name shows in the container's mountinfo), readable by the user podman
// runs as, and returns them as (source, target) binds with what removes
// the directory; none when there is nothing to bind or it fails (then
// -S interpreters run without the hook, as before).
func startupBinds(st *ctr.HookStartup) (binds [][2]string, remove func()) {
	files := st.Binds()
	if len(files) == 0 {
		return nil, func() {}
	}
	dir, err := os.MkdirTemp("", "tmp")
	if err != nil {
		return nil, func() {}
	}
	remove = func() { _ = os.RemoveAll(dir) }
	if err := os.Chmod(dir, 0o755); err != nil {
		remove()
		return nil, func() {}
	}
	for _, f := range files {
		src := filepath.Join(dir, path.Base(f.Target))
		if strings.ContainsAny(f.Target, ",=") || os.WriteFile(src, f.Data, 0o644) != nil {
			remove()
			return nil, func() {}
		}
		binds = append(binds, [2]string{src, f.Target})
	}
	return binds, remove
}

// degradedBounds says plainly what the rlimits of a run without cgroups
// bound, and what they do not.
func degradedBounds(lim moat.Limits) string {
	cpu := ""
	if lim.CPUs > 0 {
		cpu = fmt.Sprintf("; cpus %g is not enforced", lim.CPUs)
	}
	return fmt.Sprintf("memory %d bytes is RLIMIT_AS, the address space of each process, not the memory of all together "+
		"(n processes may hold n times that; no memory status, the program sees MemoryError or a failed mmap); "+
		"pids %d is RLIMIT_NPROC %d, counted over every process of the host uid the container user maps to, "+
		"with slack of %d for runs side by side; files and memfds are each RLIMIT_FSIZE %d bytes at most, "+
		"but a memfd's pages are in no limit of all together (a program may hold up to 1,024 of them)%s",
		lim.Memory, lim.Pids, programNproc(lim.Pids), sideSlack+ctr.InitPids, lim.Disk, cpu)
}

func modeOf(opts string) string {
	for _, o := range strings.Split(opts, ",") {
		if v, ok := strings.CutPrefix(o, "mode="); ok {
			return v
		}
	}
	return "0700"
}

// run is one Run's container (or a Prepare's), started once, or again
// when the image had to be pulled first or the init volume filled again.
type run struct {
	b      *Backend
	m      *mode
	id     string
	tr     *ctr.Trace
	goInit bool
	guard  bool // under ctr.GuardedProfile: the init must guard

	persona ctr.Persona
	// imageID is the image's ID when the report is on ("" unknown), and
	// site where its python3 runs the hook from.
	imageID string
	site    *ctr.HookSite
	// startup is the hook for its -S interpreters (ctr.HookStartup).
	startup *ctr.HookStartup

	tmpl     *moat.Spec // what the container is made for: image, network, limits, report
	lim      moat.Limits
	args     []string
	degraded []string
	vol      string
	prov     *ctr.Provisioner
	profile  string // the seccomp profile's file, removed by cleanup
}

// setup does what a run's container needs before podman starts it, for
// runs like spec; cleanup removes the seccomp profile's file once no
// container will start with it.
func (b *Backend) setup(ctx context.Context, spec *moat.Spec, tr *ctr.Trace) (r *run, cleanup func(), err error) {
	if err := ctr.ValidateSinkEnter("podman", spec, sinkHelper()); err != nil {
		return nil, nil, err
	}
	if spec.Network == moat.NetworkSinkhole && b.PythonInit {
		return nil, nil, fmt.Errorf("podman: network mode sinkhole: the sinkhole needs moat's own init in the container (not bootstrap.py): %w", moat.ErrUnsupported)
	}
	m, err := b.mode()
	if err != nil {
		return nil, nil, err
	}
	if p := m.devProblem(); p != "" {
		return nil, nil, fmt.Errorf("podman: %s: %w", p, moat.ErrUnavailable)
	}
	if !m.cgroups && !spec.AllowDegraded {
		return nil, nil, fmt.Errorf("podman: %s (pass --allow-degraded to run with rlimits only): %w", m.why, moat.ErrDegraded)
	}
	r = &run{b: b, m: m, id: ctr.RunID(), tr: tr, tmpl: spec, lim: spec.Limits.WithDefaults()}
	r.prov = &ctr.Provisioner{Engine: m.engine, Fill: func(v string) error { return b.fillInit(m, v) }}
	if !b.PythonInit {
		if r.vol, err = ctr.InitFor("", ""); err != nil {
			return nil, nil, fmt.Errorf("podman: %w", err)
		}
	}
	r.goInit = r.vol != ""

	// With moat's own init, which guards the calls the profile lets
	// through (ctr.GuardedProfile).
	getProfile := ctr.SeccompProfile
	if r.guard = r.vol != "" && ctr.Guardable(); r.guard {
		getProfile = ctr.GuardedProfile
	}
	prof, err := getProfile()
	if err != nil {
		return nil, nil, fmt.Errorf("podman: seccomp profile: %w", err)
	}
	// Podman reads the profile from a file; it must be readable by the
	// user podman runs as, and is removed with the run.
	f, err := os.CreateTemp("", "moat-seccomp-*.json")
	if err != nil {
		return nil, nil, fmt.Errorf("podman: seccomp profile: %w", err)
	}
	r.profile = f.Name()
	cleanup = func() { _ = os.Remove(f.Name()) }
	_, werr := f.Write(prof)
	if cerr := f.Close(); werr != nil || cerr != nil {
		cleanup()
		return nil, nil, fmt.Errorf("podman: seccomp profile: %w", errors.Join(werr, cerr))
	}
	_ = os.Chmod(f.Name(), 0o644)
	tr.Step("seccomp profile written")
	if r.vol != "" {
		if err := r.prov.Ensure(r.vol, time.Time{}); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("podman: %w", err)
		}
		tr.Step("init volume ready")
	}
	r.persona = ctr.NewPersona(spec.PersonaKey)
	if r.vol != "" && !spec.NoReport {
		// A podman process (some 20 ms and more) before the run: the
		// hook's site directory, learnt per image ID, is a mount.
		out, err := b.output(ctx, m, "image", "inspect", "--format", "{{.Id}}", b.image(spec))
		if err != nil && strings.Contains(out, "image not known") {
			// A missing image is pulled now, not after its start fails:
			// its ID is needed to learn it (ctr.Learn below).
			if perr := b.pull(ctx, m, b.image(spec)); perr != nil {
				cleanup()
				return nil, nil, perr
			}
			out, err = b.output(ctx, m, "image", "inspect", "--format", "{{.Id}}", b.image(spec))
		}
		if r.imageID = strings.TrimSpace(out); err != nil || len(r.imageID) != 64 || strings.Trim(r.imageID, "0123456789abcdef") != "" {
			r.imageID = ""
		}
		// An image not learnt yet is learnt first by runs of its own
		// (ctr.Learn): this run, the image's first too, has the hook in
		// every interpreter.
		if r.imageID != "" {
			ctr.Learn(ctx, m.engine, r.imageID, b.Run)
		}
		r.site = ctr.NewHookSite(m.engine, r.imageID)
		if r.site.Dir != "" {
			r.startup = ctr.NewHookStartup(m.engine, r.imageID, r.site.Dir)
		}
	}
	binds, removeBinds := startupBinds(r.startup)
	if len(binds) > 0 {
		profileCleanup := cleanup
		cleanup = func() { profileCleanup(); removeBinds() }
	}
	r.args, r.degraded = b.args(m, spec, r.lim, r.id, r.profile, r.vol, r.persona, r.site, binds)
	return r, cleanup, nil
}

// Run runs spec in a new container; see the package doc.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	r, cleanup, err := b.setup(ctx, spec, ctr.NewTrace("podman"))
	if err != nil {
		return nil, err
	}
	defer cleanup()
	return r.retry(ctx, func(bx *box) (*moat.Result, error) {
		defer bx.close()
		return bx.run(ctx, spec)
	})
}

// retry starts the container and calls use with it; once more after a
// pull when the image was missing, and after filling the init volume
// again when it was found empty (its stamp outlived it).
func (r *run) retry(ctx context.Context, use func(*box) (*moat.Result, error)) (*moat.Result, error) {
	pulled, refilled := false, false
	for {
		began := time.Now()
		bx, err := r.start(ctx)
		if err != nil {
			return nil, err
		}
		out, err := use(bx)
		switch {
		case errors.Is(err, errNoImage) && !pulled:
			pulled = true
			if perr := r.b.pull(ctx, r.m, r.b.image(r.tmpl)); perr != nil {
				return nil, perr
			}
			continue
		case errors.Is(err, errNoInit) && !refilled:
			refilled = true
			if perr := r.prov.Ensure(r.vol, began); perr != nil {
				return nil, fmt.Errorf("podman: %w", perr)
			}
			continue
		}
		return out, err
	}
}

// result is a run's Result before the run: its layers and what is
// degraded.
func (r *run) result(spec *moat.Spec, lim moat.Limits) *moat.Result {
	res := &moat.Result{Isolation: "podman", Degraded: slices.Clone(r.degraded)}
	res.Layers = ctr.Layers("podman CLI, "+r.m.who, "runtime: podman's configured OCI runtime", r.b.image(spec), r.vol, spec, lim, r.persona)
	if !r.m.cgroups {
		for i, l := range res.Layers {
			if l.Name == "limits" {
				res.Layers[i].Detail = "rlimits only (no cgroup): " + degradedBounds(lim)
			}
		}
	}
	return res
}

var (
	errNoImage = errors.New("image not known")
	errNoInit  = errors.New("init volume empty")
)

// inUse says whether podman refused to remove a volume that a container
// uses.
func inUse(out string) bool {
	return strings.Contains(out, "in use") || strings.Contains(out, "being used")
}

// fillInit (re)creates the init volume v with this binary in it.
func (b *Backend) fillInit(m *mode, v string) error {
	// Not --force, which would remove the containers using it.
	if out, err := b.output(context.Background(), m, "volume", "rm", v); err != nil && inUse(out) {
		return nil
	}
	if out, err := b.output(context.Background(), m, "volume", "create", "--label", ctr.InitLabel+"="+strings.TrimPrefix(v, ctr.InitVolumePrefix), v); err != nil {
		return fmt.Errorf("podman volume create: %s", termsafe.Line(out, 0))
	}
	content, err := ctr.InitTar()
	if err != nil {
		return err
	}
	cmd := b.command(m, "volume", "import", v, "-")
	cmd.Stdin = content
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("podman volume import: %s", termsafe.Line(string(out), 0))
	}
	// podman opens its output by name (/dev/stdout is root's pipe, not
	// the user's): a file in a directory of the user's.
	dir, err := os.MkdirTemp("", "moat-podman-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if m.cred != nil {
		_ = os.Chown(dir, int(m.cred.Uid), int(m.cred.Gid))
	}
	tarPath := filepath.Join(dir, "init.tar")
	if out, err := b.output(context.Background(), m, "volume", "export", "--output", tarPath, v); err != nil {
		return fmt.Errorf("podman volume export: %s", termsafe.Line(out, 0))
	}
	f, err := os.Open(tarPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := ctr.CheckInitTar(f); err != nil {
		_, _ = b.output(context.Background(), m, "volume", "rm", v)
		return err
	}
	return nil
}

func (b *Backend) pull(ctx context.Context, m *mode, img string) error {
	cmd := b.command(m, "pull", img)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		cmd.Stderr = io.MultiWriter(os.Stderr, &errb) // podman's progress bars
	}
	if err := cmd.Run(); err != nil {
		s := strings.ToLower(errb.String())
		for _, k := range []string{"dial tcp", "lookup ", "no such host", "timeout", "connection refused", "network is unreachable"} {
			if strings.Contains(s, k) {
				return &noImage{fmt.Sprintf("podman: image %s not found and no registry reachable; build one with .ci/images.sh or pass --image", img)}
			}
		}
		return &noImage{fmt.Sprintf("podman: image %s not found and the pull failed; build one with .ci/images.sh or pass --image", img)}
	}
	return nil
}

type noImage struct{ msg string }

func (e *noImage) Error() string { return e.msg }
func (e *noImage) Unwrap() error { return moat.ErrNotFound }

// box is a container that podman started, with moat's init (or
// bootstrap.py) waiting for the header on its control pipe: everything of
// a run that depends on no program. Its run hands the program over; close
// removes it.
type box struct {
	r                *run
	dir              string // the run's own directory: the cidfile, the pidfile, conmon's "oom"
	cidFile, pidFile string
	t                *transport
	diag             *capture.Stream
	life             *ctr.Run
	cgDone           context.CancelFunc

	framesRead chan struct{} // closed by run once the frames are read (bootstrap.py's stdout)
	exited     chan struct{} // closed once podman has exited
	werr       error         // podman's exit, once exited is closed

	closeOnce sync.Once
}

// start starts the container.
func (r *run) start(ctx context.Context) (*box, error) {
	// A directory of the run's own, removed after it, for podman to write
	// the cidfile in (as the user it runs as) and to work in: conmon, which
	// it starts in its working directory, leaves a file "oom" there after
	// a memory kill (conmon 2.1), which would otherwise land in the
	// caller's directory or the user's home.
	dir, err := os.MkdirTemp("", "moat-podman-")
	if err != nil {
		return nil, fmt.Errorf("podman: %w", err)
	}
	if r.m.cred != nil {
		if err := os.Chown(dir, int(r.m.cred.Uid), int(r.m.cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("podman: %w", err)
		}
	}
	bx := &box{r: r, dir: dir, cidFile: filepath.Join(dir, "cid"), pidFile: filepath.Join(dir, "pid"),
		framesRead: make(chan struct{}), exited: make(chan struct{})}
	args := append([]string{r.args[0], "--cidfile", bx.cidFile, "--pidfile", bx.pidFile}, r.args[1:]...)
	cmd := r.b.command(r.m, args...)
	cmd.Dir = dir
	bx.diag = capture.New(nil, 8<<10, func() {})
	if bx.t, err = r.transport(cmd, bx.diag); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("podman: %w", err)
	}
	bx.life = ctr.NewRun(func() { _, _ = r.b.output(context.Background(), r.m, "kill", "--signal", "KILL", containerName(r.id)) })
	// A memory breach kills the program's processes alone: the init
	// (moat's Go init or bootstrap.py, each with its reserve) sends its
	// report (ctr.Run.KillProgram).
	bx.life.KillProgram = true
	if err := cmd.Start(); err != nil {
		bx.t.closeAll()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("podman: start: %w", err)
	}
	bx.t.started()
	r.tr.Step("podman started")
	go func() {
		if !r.goInit {
			// Wait only after the output is read (exec.Cmd's rule for
			// pipes): bootstrap.py's frames are podman's stdout.
			<-bx.framesRead
		}
		bx.werr = cmd.Wait()
		close(bx.exited)
	}()
	// Looking for the cgroup stops when the box is closed.
	cgCtx, cgDone := context.WithCancel(context.WithoutCancel(ctx))
	bx.cgDone = cgDone
	go func() {
		cg := r.cgroupOf(cgCtx, bx.cidFile)
		r.tr.Step("cgroup resolved")
		bx.life.Resolved(cg)
	}()
	return bx, nil
}

// close removes the container, whatever it does, and what the run left
// on the host.
func (bx *box) close() {
	bx.closeOnce.Do(func() {
		select {
		case <-bx.exited:
		default:
			_, _ = bx.r.b.output(context.Background(), bx.r.m, "rm", "--force", "--time", "0", "--ignore", containerName(bx.r.id))
		}
		bx.t.closeAll()
		select {
		case <-bx.exited:
		case <-time.After(2 * ctr.StopGrace):
			// podman did not end: nothing of it is waited for any more.
		}
		bx.cgDone()
		os.RemoveAll(bx.dir)
	})
}

// refused says why podman ended before the container ran: errNoImage,
// errNoInit, or what podman said. Call it once exited is closed.
func (bx *box) refused() error {
	d, _ := bx.diag.Result()
	switch {
	case strings.Contains(d, "image not known"):
		return errNoImage
	case ctr.InitMissing(d):
		return errNoInit
	}
	return fmt.Errorf("podman: the container ended before it ran its program%s", ctr.Note("podman", errors.New(cmp.Or(termsafe.Line(d, 300), fmt.Sprint(bx.werr)))))
}

// run hands spec over to the waiting init and supervises the run to its
// Result; the caller closes the box.
func (bx *box) run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	r, life, t := bx.r, bx.life, bx.t
	lim := spec.Limits.WithDefaults()
	res := r.result(spec, lim)
	sess := ctr.NewSession(spec, lim, r.persona, life.Stop)
	sess.Daemons = life.Daemons
	sess.KillNote = life.KillNote
	// The run's suspect bytecode is verified in a fresh container of
	// the run's image, by its ID (a tag moved meanwhile names another;
	// never on the host).
	sess.Verify = func(ctx context.Context, s *moat.Spec) (*moat.Result, error) {
		s.Image = cmp.Or(r.imageID, spec.Image)
		return r.b.Run(ctx, s)
	}
	defer func() {
		sess.Report(res) // events and findings, whatever the outcome
		r.tr.Step("report done")
	}()
	if !r.m.cgroups {
		sess.RlimitAS = lim.Memory
		sess.RlimitNproc = int64(programNproc(lim.Pids))
	}
	sess.OnExit = life.FinalStats
	sess.AfterProgram = ctr.AfterBound
	sess.Trace = r.tr
	if r.goInit {
		// The header goes on the control pipe, there before the init is:
		// in the environment it would pass through podman's database and
		// the runtime's config.
		// The caches are keyed by the image's ID, asked for before the
		// run (the hook's site directory is a mount of the container).
		sess.Bytecode = ctr.NewHookBytecode(r.m.engine, func() string { return r.imageID })
		sess.Site = r.site
		sess.Startup = r.startup
		sess.KernelExecs = true
	}
	sess.Guard = r.guard
	if r.m.cgroups {
		sess.Reserve = ctr.InitReserve // in the container's limit (create)
	}
	if sinkHelper() {
		sess.SinkEnter = func(args ...string) *exec.Cmd { return r.b.command(r.m, append([]string{"unshare"}, args...)...) }
	}
	start := time.Now()
	recvDone := sessDone(sess, t.frames, life)
	go func() {
		<-recvDone
		close(bx.framesRead)
	}()
	var sendErr error
	if sess.Sinkhole() {
		// Before the header: the program starts only once it is read.
		sendErr = bx.startSink(sess)
	}
	if sendErr == nil {
		sendErr = t.send(sess)
		r.tr.Step("header sent")
	}
	if sendErr != nil {
		life.Stop(moat.StatusError)
	}
	end := life.SuperviseProgram(ctx, lim.Timeout, ctr.AfterBound, sess.Started(), sess.Reaped(), sess.Exited())
	defer end()

	select {
	case <-bx.exited:
	case <-time.After(ctr.StartBound + lim.Timeout + ctr.StopSlack + ctr.AfterBound + 2*ctr.StopGrace):
		life.Stop(moat.StatusError)
		<-bx.exited
	}
	<-recvDone // podman is gone: the frames end
	werr := bx.werr
	reason := life.End()
	r.tr.Step("podman exited")
	res.DurationMS = time.Since(start).Milliseconds()
	if reason != "" || sess.ExitReport() == nil {
		// Cut short: make sure the container is gone (--rm may not have
		// run when the CLI saw the kill first).
		_, _ = r.b.output(context.Background(), r.m, "rm", "--force", "--time", "0", "--ignore", containerName(r.id))
	}
	stats := life.Stats()
	if stats.OOMKills == 0 && r.m.cgroups {
		// conmon writes "oom" in its working directory when the kernel
		// killed in the container's memory cgroup: a witness that does not
		// depend on moat having found the cgroup before --rm removed it (a
		// container that breaches its limit at once, on a loaded host).
		if _, err := os.Stat(filepath.Join(bx.dir, "oom")); err == nil {
			stats.OOMKills = 1
		}
	}
	res.MaxRSSBytes = sess.ProgramPeak(stats.Peak)
	sess.Fill(res)
	d, _ := bx.diag.Result()
	// podman refused before the container started: moat's own send may
	// have failed on the closed pipe first (StatusError), which is no
	// reason of the run's.
	refused := sess.ExitReport() == nil && (reason == "" || reason == moat.StatusError)
	if refused && strings.Contains(d, "image not known") {
		return nil, errNoImage
	}
	if refused && ctr.InitMissing(d) {
		return nil, errNoInit
	}
	detail := ctr.Note("podman", werr) + ctr.Note("send", sendErr)
	defer r.tr.Step("done")
	return sess.Finish(res, "podman", reason, stats, d, detail, life.Cause(sendErr, ctr.AfterBound))
}

// startSink waits for podman's pidfile (the container's init, as this
// host sees it, written once the container runs) and brings the run's
// sinkhole up in its network namespace. It gives up when podman exits
// first or after 30 s.
func (bx *box) startSink(sess *ctr.Session) error {
	pid, err := bx.waitPid(30 * time.Second)
	if err != nil {
		return fmt.Errorf("sinkhole: %w", err)
	}
	return sess.StartSink(pid)
}

// waitPid waits for podman's pidfile: the container's init as this host
// sees it, written once the container runs. It gives up when podman exits
// first or after d.
func (bx *box) waitPid(d time.Duration) (int, error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(bx.pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 1 {
				return pid, nil
			}
		}
		select {
		case <-bx.exited:
			return 0, errors.New("podman exited before the container ran")
		case <-time.After(5 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("podman wrote no pidfile within %s", d)
}

// transport is how the protocol reaches the init. With moat's init, on
// pipes of its own that podman passes into the container (--preserve-fds;
// see ctrinit.FDsEnv): one for control, one for frames, one for the
// program's stdin, while podman's stdin is /dev/null and its stdout and
// stderr are only diagnostics. Podman's attach of stdin (-i) costs some
// 3 ms a run, and each frame would pass through conmon and podman. With
// bootstrap.py, on podman's stdin (-i) and stdout.
type transport struct {
	frames io.Reader
	send   func(*ctr.Session) error
	theirs []*os.File // the container's ends: closed here once podman has them
	ours   []*os.File
}

func (r *run) transport(cmd *exec.Cmd, diag io.Writer) (*transport, error) {
	if !r.goInit {
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return nil, err
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		cmd.Stderr = diag
		return &transport{frames: stdout, send: func(s *ctr.Session) error { return s.Send(stdin, func() { _ = stdin.Close() }) }}, nil
	}
	t := &transport{}
	var p [3][2]*os.File
	for i := range p {
		r, w, err := os.Pipe()
		if err != nil {
			t.closeAll()
			return nil, err
		}
		p[i] = [2]*os.File{r, w}
		t.ours = append(t.ours, r, w)
	}
	ctl, frames, stdin := p[0], p[1], p[2]
	cmd.ExtraFiles = []*os.File{ctl[0], frames[1], stdin[0]} // fds 3, 4, 5: ctrinit.FDControl, FDFrames, FDStdin
	t.theirs = cmd.ExtraFiles
	cmd.Stdout, cmd.Stderr = diag, diag
	cmd.Env = append(cmd.Env, ctrinit.FDsEnv+"=1")
	rest := slices.DeleteFunc(slices.Clone(cmd.Args[2:]), func(a string) bool { return a == "-i" })
	cmd.Args = slices.Concat(cmd.Args[:2], []string{"--preserve-fds", "3", "--env", ctrinit.FDsEnv}, rest)
	t.frames = frames[0]
	t.send = func(s *ctr.Session) error {
		return s.SendSplit(ctl[1], func() { _ = ctl[1].Close() }, stdin[1], func() { _ = stdin[1].Close() })
	}
	return t, nil
}

// started closes the container's ends here: podman holds them now.
func (t *transport) started() {
	for _, f := range t.theirs {
		_ = f.Close()
	}
}

func (t *transport) closeAll() {
	for _, f := range t.ours {
		_ = f.Close()
	}
}

// sessDone reads the frames and returns a channel closed at EOF; a
// protocol violation kills the container.
func sessDone(sess *ctr.Session, stdout io.Reader, life *ctr.Run) <-chan struct{} {
	ch := make(chan struct{})
	go func() {
		defer close(ch)
		if err := sess.Receive(stdout); err != nil {
			life.Stop(moat.StatusError)
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	return ch
}

// cgroupOf waits for the cidfile and finds the container's cgroup
// (rootful podman with cgroupfs: libpod_parent/libpod-ID; with systemd:
// machine.slice/libpod-ID.scope), until ctx is done; the zero Cgroup if
// it cannot.
// findCgroup is false only in tests, to play a container that died
// before its cgroup was found.
var findCgroup = true

func (r *run) cgroupOf(ctx context.Context, cidFile string) ctr.Cgroup {
	if !r.m.cgroups || r.m.rootless || !findCgroup {
		return ctr.Cgroup{} // a rootless user's cgroups are not ours to read here
	}
	deadline := time.Now().Add(10 * time.Second)
	var cid string
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(cidFile); err == nil && len(bytes.TrimSpace(b)) == 64 {
			cid = string(bytes.TrimSpace(b))
			break
		}
		select {
		case <-ctx.Done():
			return ctr.Cgroup{}
		case <-time.After(5 * time.Millisecond):
		}
	}
	if cid == "" {
		return ctr.Cgroup{}
	}
	for time.Now().Before(deadline) {
		for _, root := range []string{"/sys/fs/cgroup/pids", "/sys/fs/cgroup"} {
			m, _ := filepath.Glob(filepath.Join(root, "*", "libpod-"+cid+"*"))
			if len(m) == 0 {
				m, _ = filepath.Glob(filepath.Join(root, "libpod-"+cid+"*"))
			}
			if len(m) == 0 {
				continue
			}
			cg := ctr.Cgroup{Pids: m[0]}
			if root == "/sys/fs/cgroup" {
				cg = ctr.Cgroup{Pids: m[0], Memory: m[0], V2: true}
			} else {
				cg.Memory = filepath.Join("/sys/fs/cgroup/memory", strings.TrimPrefix(m[0], root))
			}
			return cg
		}
		select {
		case <-ctx.Done():
			return ctr.Cgroup{}
		case <-time.After(5 * time.Millisecond):
		}
	}
	return ctr.Cgroup{}
}

// GC removes every container labelled by moat from podman as root (and,
// as root, from the rootless store of MOAT_PODMAN_USER), and the init
// volumes of other builds of moat that no container uses, and lists them
// ("container NAME", "volume NAME").
func GC(ctx context.Context) ([]string, error) {
	if _, err := exec.LookPath("podman"); err != nil {
		return nil, nil
	}
	b := &Backend{}
	var removed []string
	var errs []error
	modes := []*mode{}
	if m, err := (&Backend{User: "root"}).mode(); err == nil {
		modes = append(modes, m)
	}
	if os.Geteuid() == 0 && os.Getenv(UserEnv) != "" {
		if m, err := b.mode(); err == nil {
			modes = append(modes, m)
		}
	}
	for _, m := range modes {
		out, err := b.output(ctx, m, "ps", "--all", "--filter", "label="+ctr.Label, "--format", "{{.Names}}")
		if err != nil {
			errs = append(errs, fmt.Errorf("podman ps (%s): %s", m.who, out))
			continue
		}
		for _, name := range strings.Fields(out) {
			if o, err := b.output(ctx, m, "rm", "--force", "--time", "0", "--ignore", name); err != nil {
				errs = append(errs, fmt.Errorf("podman rm %s: %s", name, o))
				continue
			}
			removed = append(removed, "container "+name)
		}
		out, err = b.output(ctx, m, "volume", "ls", "--filter", "label="+ctr.InitLabel, "--format", "{{.Name}}")
		if err != nil {
			errs = append(errs, fmt.Errorf("podman volume ls (%s): %s", m.who, out))
			continue
		}
		keep, _ := ctr.InitFor("", "")
		for _, name := range strings.Fields(out) {
			if name == keep {
				continue
			}
			if o, err := b.output(ctx, m, "volume", "rm", name); err != nil {
				if !inUse(o) { // a moat of that build runs
					errs = append(errs, fmt.Errorf("podman volume rm %s: %s", name, o))
				}
				continue
			}
			removed = append(removed, "volume "+name)
		}
	}
	return removed, errors.Join(errs...)
}

// Prepared is a container that podman started ahead of its run for a
// warm pool (see moat.Preparer): made with the template's image, network,
// limits and report, hardened as a cold run's, moat's init waiting on
// its control pipe for the program. Nothing of a run is in it until Run;
// each runs one Spec and is removed.
type Prepared struct {
	bx   *box
	used atomic.Bool
}

var (
	_ moat.Preparer = (*Backend)(nil)
	_ moat.Prepared = (*Prepared)(nil)
)

// prepareWait bounds the wait for a prepared container to run.
const prepareWait = 2 * time.Minute

// Prepare starts a container for runs like tmpl (its image, network,
// limits but the timeout and output cap, and its options) and returns
// once it runs: see Prepared. tmpl's program, files and streams are not
// used. With bootstrap.py as the init (PythonInit) nothing is prepared.
func (b *Backend) Prepare(ctx context.Context, tmpl *moat.Spec) (moat.Prepared, error) {
	if b.PythonInit {
		return nil, fmt.Errorf("podman: a container is prepared ahead only with moat's own init, not bootstrap.py: %w", moat.ErrUnsupported)
	}
	t := *tmpl
	if len(t.Args) == 0 {
		t.Args = []string{"-c", "pass"} // Validate wants a program
	}
	t.Stdin, t.Stdout, t.Stderr, t.Files, t.Workspace, t.OutDir = nil, nil, nil, nil, "", ""
	r, cleanup, err := b.setup(ctx, &t, ctr.NewTrace("podman"))
	if err != nil {
		return nil, err
	}
	// podman has read the profile once the container runs.
	defer cleanup()
	var ready *box
	_, err = r.retry(ctx, func(bx *box) (*moat.Result, error) {
		if _, err := bx.waitPid(prepareWait); err != nil {
			bx.close()
			select {
			case <-bx.exited:
				return nil, bx.refused()
			default:
				return nil, fmt.Errorf("podman: %w", err)
			}
		}
		ready = bx
		return nil, nil
	})
	if err != nil {
		return nil, err
	}
	return &Prepared{bx: ready}, nil
}

// fits says why spec cannot run in the container (wrapping
// moat.ErrMismatch), or nil.
func (p *Prepared) fits(spec *moat.Spec) error {
	r := p.bx.r
	var why []string
	if r.b.image(spec) != r.b.image(r.tmpl) {
		why = append(why, "image")
	}
	if spec.Network != r.tmpl.Network {
		why = append(why, "network")
	}
	if spec.PersonaKey != r.tmpl.PersonaKey {
		why = append(why, "persona") // drawn when the box was made
	}
	a, b := spec.Limits.WithDefaults(), r.lim
	a.Timeout, a.OutputLimit, b.Timeout, b.OutputLimit = 0, 0, 0, 0 // the run's own
	if a != b {
		why = append(why, "limits")
	}
	if spec.NoReport != r.tmpl.NoReport || spec.AllowDegraded != r.tmpl.AllowDegraded {
		why = append(why, "options")
	}
	if len(why) > 0 {
		return fmt.Errorf("podman: the prepared container differs in %s: %w", strings.Join(why, ", "), moat.ErrMismatch)
	}
	return nil
}

// Run runs spec in the prepared container and removes it: the same Result
// as Backend.Run. A Spec that does not fit gives moat.ErrMismatch (the
// container still unused); a container that died while it waited, or was
// used or closed, moat.ErrStale.
func (p *Prepared) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := ctr.ValidateSinkEnter("podman", spec, sinkHelper()); err != nil {
		return nil, err
	}
	if err := p.fits(spec); err != nil {
		return nil, err
	}
	if !p.used.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("podman: prepared container already used: %w", moat.ErrStale)
	}
	defer p.bx.close()
	select {
	case <-p.bx.exited:
		return nil, fmt.Errorf("podman: prepared container %s died while waiting: %w", containerName(p.bx.r.id), moat.ErrStale)
	default:
	}
	return p.bx.run(ctx, spec)
}

// Done is closed once podman has exited: the container died while
// waiting, ran, or was closed.
func (p *Prepared) Done() <-chan struct{} { return p.bx.exited }

// Close removes the container and waits until it is gone; safe at any
// time.
func (p *Prepared) Close() error {
	p.used.Store(true)
	p.bx.close()
	return nil
}

// Name is the container's name (for tests).
func (p *Prepared) Name() string { return containerName(p.bx.r.id) }
