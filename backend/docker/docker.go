// Package docker runs the program in a Docker container, through the Docker
// Engine API (github.com/docker/docker/client, the API version negotiated
// with the daemon and reported in the layers).
//
// Every container is hardened the same way (see backend/internal/container): no
// network, a read-only root, size-limited tmpfs mounts for /work, /tmp and
// the home, every capability dropped, no-new-privileges, a seccomp profile
// stricter than Docker's default, /sys and sensitive /proc entries masked,
// pids, memory (no swap) and CPU limits, user 1000:1000, no host mounts and
// no logging driver (the output never lands on the host's disk). The
// container's init is moat itself, from a read-only volume (see
// backend/internal/container); the workspace goes in and out as a tar stream
// through it, over the one attach connection that also carries stdin,
// stdout and stderr.
//
// Containers are named moat-<id>, labelled moat.run=<id>, and removed when
// Run returns, whatever happened (timeout, limit, failure, cancellation).
// The init ends the program by itself shortly after its timeout if moat
// died; `moat gc` (GC) removes what a killed moat left.
//
// Runtime selects another OCI runtime registered with the daemon: "runsc"
// runs the same container under gVisor.
package docker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe/egress"
)

// DefaultImage is used when neither Spec.Image nor Backend.Image is set.
const DefaultImage = "python:3.12-slim"

// Backend runs specs in Docker containers. The zero value uses the daemon
// at DOCKER_HOST (or the default socket), its default runtime, and
// DefaultImage.
type Backend struct {
	Image   string // "" = DefaultImage; Spec.Image wins
	Runtime string // "" = the daemon's default; "runsc" for gVisor
	Host    string // "" = DOCKER_HOST or the default socket
	// Name is Result.Isolation; "" = "docker".
	Name string
	// Progress is where pulling a missing image shows its progress; nil
	// is os.Stderr (a progress bar when it is a terminal).
	Progress io.Writer
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
	moat.Register("docker", func() moat.Backend { return &Backend{} })
}

// New returns a Backend for image (or DefaultImage), runtime and host.
func New(image, runtime, host string) *Backend {
	return &Backend{Image: image, Runtime: runtime, Host: host}
}

func (b *Backend) name() string {
	if b.Name != "" {
		return b.Name
	}
	return "docker"
}

// engine is one daemon: its client (shared by every run, so the API
// version is negotiated once) and what it said about itself.
type engine struct {
	cli      *client.Client
	infoOnce sync.Once
	version  string // engine version
	runtime  string // default runtime
	cgroup   string // "v1 (cgroupfs)"
	id       string // the daemon's ID, for the init volume's stamp
	goos     string // the daemon's OS and architecture, as Go spells them
	arch     string

	// onHost's answer, once the daemon gave one
	hostMu              sync.Mutex
	hostKnown, hostSeen bool
	hostWhy             string
}

var (
	enginesMu sync.Mutex
	engines   = map[string]*engine{}
)

func (b *Backend) engine() (*engine, error) {
	enginesMu.Lock()
	defer enginesMu.Unlock()
	if e := engines[b.Host]; e != nil {
		return e, nil
	}
	opts := []client.Opt{client.FromEnv, client.WithAPIVersionNegotiation()}
	if b.Host != "" {
		opts = append(opts, client.WithHost(b.Host))
	}
	cli, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("docker: client: %w", err)
	}
	e := &engine{cli: cli}
	engines[b.Host] = e
	return e, nil
}

// info asks the daemon once for its version, default runtime and cgroups.
func (e *engine) info(ctx context.Context) {
	e.infoOnce.Do(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if v, err := e.cli.ServerVersion(ctx); err == nil {
			e.version = v.Version
		}
		if i, err := e.cli.Info(ctx); err == nil {
			e.runtime = i.DefaultRuntime
			e.cgroup = fmt.Sprintf("v%s (%s)", i.CgroupVersion, i.CgroupDriver)
			e.id = i.ID
			e.goos, e.arch = i.OSType, ctr.GoArch(i.Architecture)
		}
	})
}

// Check pings the daemon and, for a Runtime, checks the daemon has it.
func (b *Backend) Check(ctx context.Context) error {
	e, err := b.engine()
	if err != nil {
		return fmt.Errorf("%w: %w", moat.ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := e.cli.Ping(ctx); err != nil {
		hint := "start it with `sudo systemctl start docker` (or `dockerd &`)"
		if os.Getenv("DOCKER_HOST") != "" || b.Host != "" {
			hint = "check DOCKER_HOST and that the daemon runs there"
		}
		return fmt.Errorf("docker: daemon not reachable at %s: %s: %w", e.cli.DaemonHost(), hint, moat.ErrUnavailable)
	}
	if b.Runtime != "" {
		i, err := e.cli.Info(ctx)
		if err != nil {
			return fmt.Errorf("docker: info: %v: %w", err, moat.ErrUnavailable)
		}
		if _, ok := i.Runtimes[b.Runtime]; !ok && b.Runtime == HostinetRuntime {
			return fmt.Errorf("docker: the daemon has no runtime %q (gVisor's sinkhole): register it in /etc/docker/daemon.json (\"runtimes\": {%q: {\"path\": \"/usr/bin/runsc\", \"runtimeArgs\": [\"--network=host\", \"--oci-seccomp\"]}}) and reload dockerd (SIGHUP): %w",
				b.Runtime, b.Runtime, moat.ErrUnavailable)
		} else if !ok {
			return fmt.Errorf("docker: the daemon has no runtime %q: register it in /etc/docker/daemon.json (\"runtimes\": {%q: {\"path\": \"/usr/bin/%s\"}}) and restart dockerd: %w",
				b.Runtime, b.Runtime, b.Runtime, moat.ErrUnavailable)
		}
	}
	return nil
}

// Describe says which daemon, API version, runtime and image a run uses.
func (b *Backend) Describe(ctx context.Context) []string {
	e, err := b.engine()
	if err != nil {
		return nil
	}
	e.info(ctx)
	if e.version == "" {
		return []string{"daemon at " + e.cli.DaemonHost()}
	}
	img := b.image(&moat.Spec{})
	have := "present"
	if _, err := e.cli.ImageInspect(ctx, img); err != nil {
		have = "missing: pulled on first use, or build with .ci/images.sh"
	}
	return []string{
		fmt.Sprintf("docker %s, API %s (negotiated)", e.version, e.cli.ClientVersion()),
		"runtime " + b.runtimeName(e),
		"cgroup " + e.cgroup,
		fmt.Sprintf("image %s (%s)", img, have),
		ctr.DescribeInit(b.PythonInit, e.goos, e.arch),
		"seccomp stricter than the default, cap-drop ALL, read-only rootfs, user " + ctr.User,
	}
}

func (b *Backend) image(spec *moat.Spec) string { return cmp.Or(spec.Image, b.Image, DefaultImage) }

// OnRuntime returns a copy of b that runs its containers on the OCI
// runtime registered with the daemon under runtime, and names itself name
// in results (gVisor's image mode: "gvisor", "runsc").
func (b *Backend) OnRuntime(name, runtime string) moat.Backend {
	c := *b
	c.Name, c.Runtime = name, runtime
	return &c
}

// DefaultImage is the image of a run whose Spec names none.
func (b *Backend) DefaultImage() string { return cmp.Or(b.Image, DefaultImage) }

// Supports refuses what a container cannot enforce: see ctr.SupportsSink.
// A moat that is not root serves the sinkhole through a helper container
// (sink.go), which needs moat's own init (not bootstrap.py). Under gVisor
// (Runtime runsc) the sinkhole needs the runtime registered with
// --network=host, which Run checks at the daemon (sinkRefused).
func (b *Backend) Supports(spec *moat.Spec) error {
	return ctr.SupportsSinkEnter(b.name(), spec, !b.PythonInit)
}

// sinkRefused says why this daemon's containers get no sinkhole ("" if
// they do): moat enters the container's network namespace on this host.
// Under gVisor that namespace holds the program's flows only when the
// runtime is registered with --network=host (hostinet: the Sentry's
// sockets are the host kernel's, in the container's namespace); with its
// own network stack (--network=none or sandbox) they never reach it.
func (b *Backend) sinkRefused(ctx context.Context, e *engine, initVol string) string {
	rt := b.runtimeName(e)
	local, notLocal := e.onHost(ctx)
	switch {
	case sentry(rt) && !hostinet(ctx, e, rt):
		return "the runtime " + rt + " (gVisor) has a network stack of its own, not a namespace moat can serve: register runsc with --network=host as " +
			HostinetRuntime + " in /etc/docker/daemon.json (docs/gvisor.md)"
	case !local:
		return notLocal + ", so its containers' network namespaces are not on this host either"
	case initVol == "" && sinkByHelper():
		return "without root the sinkhole is served by moat's binary in a helper container, which needs moat's own init (not bootstrap.py): run moat as root, or on an engine of this OS and architecture"
	case initVol == "":
		return "the sinkhole needs moat's own init in the container (not bootstrap.py)"
	}
	return ""
}

// Collect removes what killed runs left at this daemon; see [GC].
func (b *Backend) Collect(ctx context.Context) ([]string, error) { return GC(ctx, b.Host) }

// HostinetRuntime is the name under which gVisor's image mode expects
// runsc registered with --network=host, for the sinkhole.
const HostinetRuntime = "runsc-hostinet"

// hostinet says whether the daemon runs runtime with --network=host as
// the last word on runsc's network (gVisor's hostinet).
func hostinet(ctx context.Context, e *engine, runtime string) bool {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	i, err := e.cli.Info(ctx)
	if err != nil {
		return false
	}
	r, ok := i.Runtimes[runtime]
	if !ok {
		return false
	}
	host := false
	for _, a := range r.Args {
		if v, ok := strings.CutPrefix(a, "--network="); ok {
			host = v == "host"
		}
	}
	return host
}

// sentry says whether the OCI runtime named runtime is gVisor's runsc.
// sentryPids is the room above the program's pids limit for runsc's own
// tasks in the container's cgroup.
const sentryPids = 160

func sentry(runtime string) bool {
	r := strings.ToLower(runtime)
	return strings.Contains(r, "runsc") || strings.Contains(r, "gvisor")
}

// guarded says whether a run is under ctr.GuardedProfile, its init
// guarding the calls the profile lets through: with moat's own init
// (initVol) and a runtime with seccomp user notification (not gVisor's
// Sentry).
func guarded(initVol, runtime string) bool {
	return initVol != "" && !sentry(runtime) && ctr.Guardable()
}

func (b *Backend) runtimeName(e *engine) string {
	if b.Runtime != "" {
		return b.Runtime
	}
	if e.runtime != "" {
		return e.runtime
	}
	return "default"
}

// config returns the container's configuration for spec.
// initVol is the init volume, or "" to run bootstrap.py.
// runtime is the OCI runtime's name at the daemon.
func (b *Backend) config(spec *moat.Spec, lim moat.Limits, id, initVol string, p ctr.Persona, runtime string) (*container.Config, *container.HostConfig, error) {
	getProfile := ctr.SeccompProfile
	if guarded(initVol, runtime) {
		getProfile = ctr.GuardedProfile
	}
	prof, err := getProfile()
	if err != nil {
		return nil, nil, fmt.Errorf("docker: seccomp profile: %w", err)
	}
	mounts, shm := ctr.Tmpfs(lim.Disk, p.Home)
	tmpfs := map[string]string{}
	for _, m := range mounts {
		tmpfs[m.Path] = m.Options
	}
	// Network mode none either way, never "disabled": a disabled
	// network also leaves /etc/hosts empty, so localhost (and the
	// persona's host name) did not resolve, which test suites need and
	// native has. With no network the resolver is the container's own
	// loopback, where nothing answers (as native, which has no
	// resolv.conf), not the host's, which Docker would copy.
	dns := []string{"127.0.0.1"}
	if spec.Network == moat.NetworkSinkhole {
		m := ctr.TrustMount()
		tmpfs[m.Path] = m.Options
		// Docker leaves a network-disabled container's resolv.conf
		// empty (libc then asks 127.0.0.1): the sink's resolver.
		dns = []string{egress.ResolverAddr.String()}
	}
	if sentry(runtime) {
		// gVisor's Sentry makes /dev/fuse and /dev/net/tun whatever it
		// is asked, and both open for anyone (as in backend/gvisor):
		// empty read-only tmpfs cover them, fuse's of mode 0. Under
		// runc neither exists, and the mounts would make them.
		tmpfs["/dev/net"] = "ro,size=0"
		tmpfs["/dev/fuse"] = "ro,size=0,mode=000"
	}
	cfg := &container.Config{
		Image:        b.image(spec),
		Entrypoint:   ctr.Entrypoint(initVol != "", p),
		Cmd:          []string{},
		User:         ctr.User,
		WorkingDir:   ctr.WorkDir,
		Hostname:     p.Host,
		Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Labels:       ctr.Labels(id),
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		OpenStdin:    true,
		StdinOnce:    true,
	}
	pids := int64(lim.Pids + ctr.InitPids)
	if sentry(runtime) {
		// The Sentry's, the gofer's and the platform's own threads are
		// this cgroup's tasks too (89 under a sleeping python3 here, and
		// about five more for each of the program's processes under
		// ptrace): room for them, and moat's init holds the program's
		// own limit (box.run: Session.Pids, RLIMIT_NPROC inside the
		// Sentry); the cgroup's stays the backstop.
		pids += int64(sentryPids + 6*(lim.Pids+nprocSlack))
	}
	no := false
	hc := &container.HostConfig{
		NetworkMode:    "none",
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges:true", "seccomp=" + string(prof)},
		Tmpfs:          tmpfs,
		ShmSize:        shm,
		IpcMode:        "private",
		DNS:            dns,
		// The persona's host name resolves, as native's /etc/hosts has
		// it (Docker adds it only with a network of its own).
		ExtraHosts:    []string{p.Host + ":127.0.1.1"},
		MaskedPaths:   ctr.MaskedPaths,
		ReadonlyPaths: ctr.ReadonlyPaths,
		Runtime:       b.Runtime,
		Init:          &no,
		LogConfig:     container.LogConfig{Type: "none"},
		Resources: container.Resources{
			Memory:     lim.Memory + ctr.InitReserve,
			MemorySwap: lim.Memory + ctr.InitReserve,
			PidsLimit:  &pids,
			NanoCPUs:   int64(lim.CPUs * 1e9),
		},
	}
	if !sentry(runtime) {
		// Docker turns IPv6 off in a container whose network is not
		// disabled and has no IPv6 network (mode none): ::1 could not
		// be bound, which test suites use and which native has. On
		// again, on loopback: the namespace has no other interface
		// (the sink refuses one), so IPv6 reaches nothing beyond the
		// container. Not under gVisor, whose Sentry keeps its own
		// sysctls.
		hc.Sysctls = map[string]string{"net.ipv6.conf.all.disable_ipv6": "0", "net.ipv6.conf.lo.disable_ipv6": "0"}
	}
	if initVol != "" {
		hc.Mounts = []mount.Mount{{Type: mount.TypeVolume, Source: initVol, Target: p.Tools, ReadOnly: true,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}
	}
	return cfg, hc, nil
}

// Run runs spec in a new container; see the package doc.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := b.Supports(spec); err != nil {
		return nil, err
	}
	if err := ctr.ValidateSinkEnter("docker", spec, !b.PythonInit); err != nil {
		return nil, err
	}
	e, err := b.engine()
	if err != nil {
		return nil, err
	}
	// The container's life does not follow ctx: a canceled run must still
	// be killed and removed. ctx only decides when to stop.
	e.info(context.WithoutCancel(ctx))
	var vol string
	if !b.PythonInit {
		if vol, err = ctr.InitFor(e.goos, e.arch); err != nil {
			return nil, fmt.Errorf("docker: %w", err)
		}
	}
	if spec.Network == moat.NetworkSinkhole {
		if why := b.sinkRefused(ctx, e, vol); why != "" {
			return nil, fmt.Errorf("%s: network mode sinkhole: %s: %w", b.name(), why, moat.ErrUnsupported)
		}
	}
	began := time.Now()
	res, err := b.run(ctx, e, spec, vol, time.Time{})
	if errors.Is(err, errNoInit) {
		// The stamp outlived the volume: fill it again, and run again.
		res, err = b.run(ctx, e, spec, vol, began)
	}
	return res, err
}

var errNoInit = errors.New("init volume empty")

// run is one attempt of Run; stale is when an earlier attempt found the
// init volume empty (zero: believe its stamp). It is a prepared container
// (prepare) that runs spec at once.
func (b *Backend) run(ctx context.Context, e *engine, spec *moat.Spec, vol string, stale time.Time) (*moat.Result, error) {
	bx, res, err := b.prepare(ctx, e, spec, vol, stale)
	if bx == nil {
		return res, err
	}
	defer bx.close()
	return bx.run(ctx, spec)
}

// cgroupOf finds the container's cgroup from its init's host pid; the
// zero Cgroup if it cannot.
func cgroupOf(ctx context.Context, cli *client.Client, id string) ctr.Cgroup {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ins, err := cli.ContainerInspect(ctx, id)
	if err != nil || ins.State == nil || ins.State.Pid == 0 {
		return ctr.Cgroup{}
	}
	cg, err := ctr.CgroupOf(ins.State.Pid)
	if err != nil {
		return ctr.Cgroup{}
	}
	return cg
}

// startFailed maps a refused start: an image without python3 is exit 127,
// as for a missing interpreter elsewhere.
func startFailed(res *moat.Result, img string, err error) (*moat.Result, error) {
	msg := err.Error()
	if strings.Contains(msg, "executable file not found") || strings.Contains(msg, "no such file or directory") {
		res.Status, res.ExitCode = moat.StatusError, 127
		res.Error = fmt.Sprintf("image %s has no python3 on PATH", img)
		return res, nil
	}
	return nil, fmt.Errorf("docker: start container: %w", err)
}

// fillInit (re)creates the init volume v with this binary in it, through a
// container of img that never starts (the engine copies into a volume of a
// created container); img is pulled if missing, with progress on w.
func (e *engine) fillInit(ctx context.Context, img, v string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if err := e.cli.VolumeRemove(ctx, v, false); errdefs.IsConflict(err) {
		return nil // in use: a run started with it, so it is filled
	}
	if _, err := e.cli.VolumeCreate(ctx, volume.CreateOptions{Name: v, Labels: map[string]string{ctr.InitLabel: strings.TrimPrefix(v, ctr.InitVolumePrefix)}}); err != nil {
		return err
	}
	cfg := &container.Config{Image: img, Entrypoint: []string{ctrinit.Path}, Labels: ctr.Labels("init"), NetworkDisabled: true}
	// NoCopy: the volume starts empty; without it Docker copies what the
	// image holds at /.moat into it, for every later run of any image.
	hc := &container.HostConfig{NetworkMode: "none", Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: v, Target: ctrinit.Dir,
		VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}}
	c, err := e.cli.ContainerCreate(ctx, cfg, hc, nil, nil, "")
	if err != nil && client.IsErrNotFound(err) && strings.Contains(strings.ToLower(err.Error()), "image") {
		if perr := pull(ctx, e.cli, img, w); perr != nil {
			return perr
		}
		c, err = e.cli.ContainerCreate(ctx, cfg, hc, nil, nil, "")
	}
	if err != nil {
		return err
	}
	defer func() {
		_ = e.cli.ContainerRemove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true})
	}()
	content, err := ctr.InitTar()
	if err != nil {
		return err
	}
	if err := e.cli.CopyToContainer(ctx, c.ID, ctrinit.Dir, content, container.CopyToContainerOptions{}); err != nil {
		return err
	}
	rc, _, err := e.cli.CopyFromContainer(ctx, c.ID, ctrinit.Dir)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := ctr.CheckInitTar(rc); err != nil {
		_ = e.cli.VolumeRemove(ctx, v, true)
		return err
	}
	return nil
}

// errNoImage is the one-line error for a missing image without a registry.
type errNoImage struct{ msg string }

func (e *errNoImage) Error() string { return e.msg }
func (e *errNoImage) Unwrap() error { return moat.ErrNotFound }

// pull fetches img with a progress display on w (nil: stderr).
func pull(ctx context.Context, cli *client.Client, img string, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	unreachable := &errNoImage{fmt.Sprintf("docker: image %s not found and no registry reachable; build one with .ci/images.sh or pass --image", img)}
	rc, err := cli.ImagePull(ctx, img, image.PullOptions{})
	if err != nil {
		if registryDown(err) {
			return unreachable
		}
		return &errNoImage{fmt.Sprintf("docker: image %s not found and the pull failed: %s; build one with .ci/images.sh or pass --image", img, termsafe.Line(err.Error(), 0))}
	}
	defer rc.Close()
	if w == nil {
		w = os.Stderr
	}
	var fd uintptr
	term := false
	if f, ok := w.(*os.File); ok {
		fd = f.Fd()
		term = isTerminal(fd)
	}
	if err := jsonmessage.DisplayJSONMessagesStream(rc, w, fd, term, nil); err != nil {
		if registryDown(err) {
			return unreachable
		}
		return &errNoImage{fmt.Sprintf("docker: image %s not found and the pull failed: %s; build one with .ci/images.sh or pass --image", img, termsafe.Line(err.Error(), 0))}
	}
	return nil
}

func registryDown(err error) bool {
	s := strings.ToLower(err.Error())
	for _, k := range []string{"dial tcp", "lookup ", "no such host", "timeout", "connection refused", "network is unreachable", "i/o timeout", "tls handshake"} {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

func isTerminal(fd uintptr) bool {
	fi, err := os.Stderr.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// GC removes every container labelled by moat (left by a moat that was
// killed) from the daemon at host ("" = the default), the init volumes of
// other builds of moat that no container uses, the volumes of runs' /etc
// that none uses (a killed moat's, on a daemon elsewhere) and, on the
// local daemon as root, the records of moat's containers that Docker left
// in its containerd (Orphans), and lists them ("container NAME", "volume
// NAME", "containerd record ID"). What a live moat of this host
// owns (ctr.OwnerLabel names it, alive) is spared: a run's /etc volume
// is unused while the run starts, before its container mounts it, and
// its containers are a live run's. What has no owner gc can judge (an
// older moat's, another host's or boot's) is spared for ctr.OwnerGrace
// after its making (spare).
func GC(ctx context.Context, host string) ([]string, error) {
	e, err := (&Backend{Host: host}).engine()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := e.cli.Ping(ctx); err != nil {
		return nil, nil // no daemon, nothing to collect
	}
	list, err := e.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: filters.NewArgs(filters.Arg("label", ctr.Label))})
	if err != nil {
		return nil, fmt.Errorf("docker: list containers: %w", err)
	}
	var removed []string
	var errs []error
	for _, c := range list {
		if alive, _ := ctr.OwnerAlive(c.Labels[ctr.OwnerLabel]); alive {
			continue
		}
		if err := e.cli.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true}); err != nil && !errdefsNotFound(err) {
			errs = append(errs, err)
			continue
		}
		name := c.ID[:12]
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		removed = append(removed, "container "+name)
	}
	vols, err := e.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", ctr.InitLabel))})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("docker: list volumes: %w", err))...)
	}
	keep, _ := ctr.InitFor("", "")
	for _, v := range vols.Volumes {
		if v.Name == keep {
			continue
		}
		if err := e.cli.VolumeRemove(ctx, v.Name, false); err != nil {
			if !errdefs.IsConflict(err) && !errdefsNotFound(err) { // in use: a moat of that build runs
				errs = append(errs, err)
			}
			continue
		}
		removed = append(removed, "volume "+v.Name)
	}
	// A run's /etc on a daemon elsewhere (etcVolume), left by a moat
	// that was killed; one in use belongs to a run.
	runVols, err := e.cli.VolumeList(ctx, volume.ListOptions{Filters: filters.NewArgs(filters.Arg("label", ctr.Label))})
	if err != nil {
		return removed, errors.Join(append(errs, fmt.Errorf("docker: list volumes: %w", err))...)
	}
	for _, v := range runVols.Volumes {
		if spare(v.Labels[ctr.OwnerLabel], v.CreatedAt) {
			continue
		}
		if err := e.cli.VolumeRemove(ctx, v.Name, false); err != nil {
			if !errdefs.IsConflict(err) && !errdefsNotFound(err) {
				errs = append(errs, err)
			}
			continue
		}
		removed = append(removed, "volume "+v.Name)
	}
	// Records Docker left in its containerd (orphans.go).
	gone, err := gcOrphans(ctx, e.cli, host)
	removed = append(removed, gone...)
	if err != nil {
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

func errdefsNotFound(err error) bool { return client.IsErrNotFound(err) }

// spare says whether gc leaves a run's volume of owner (its OwnerLabel)
// made at created (the daemon's RFC 3339 time): its owner lives, or it
// has none gc can judge and is younger than ctr.OwnerGrace (or its age
// cannot be read).
func spare(owner, created string) bool {
	alive, known := ctr.OwnerAlive(owner)
	if known {
		return alive
	}
	t, err := time.Parse(time.RFC3339Nano, created)
	return err != nil || time.Since(t) < ctr.OwnerGrace
}
