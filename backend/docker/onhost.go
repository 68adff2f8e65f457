package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	ctr "github.com/moat-sandbox/moat/backend/internal/container"
)

// onHost says whether the daemon sees this host's files as moat does, or
// why it is taken not to: the ground moat binds host paths into its
// containers on (the run's /etc), enters their network namespaces by the
// pid the daemon names (the sinkhole) and reads the runtime's logs.
//
// A Unix socket proves nothing: it may be an ssh -L or socat forward to a
// daemon on another machine, or a daemon of this host in another mount
// namespace (one in a VM, a rootless one's). So moat asks the daemon
// what is true: it makes a directory with a random 128-bit name in its
// own temporary directory and asks the daemon to create a container
// that binds it, of an image that cannot exist. The daemon checks a bind's
// source on its own host before it looks for the image (moby's
// verifyContainerSettings): "No such image" means it saw the directory,
// "bind source path does not exist" that it did not, and no daemon
// elsewhere has a directory of that name. Anything else (an error of
// another kind, a daemon that checks otherwise) is "not on this host":
// fail closed, a daemon elsewhere is served by the API alone (the /etc
// volume; no sinkhole, no Sentry log), which works with every daemon. A
// daemon reached other than on a Unix socket is elsewhere without a
// probe. The answer is kept for the engine once the daemon gave one.
func (e *engine) onHost(ctx context.Context) (bool, string) {
	host := e.cli.DaemonHost()
	if !strings.HasPrefix(host, "unix://") {
		return false, "the daemon at " + host + " is not on this host"
	}
	e.hostMu.Lock()
	defer e.hostMu.Unlock()
	if e.hostKnown {
		return e.hostSeen, e.hostWhy
	}
	seen, why, known := probeHost(ctx, e.cli)
	if known {
		e.hostKnown, e.hostSeen, e.hostWhy = true, seen, why
	}
	return seen, why
}

// probeHost is onHost's probe; known is false when the daemon gave no
// answer (a timeout, a dropped connection), which is not kept.
func probeHost(ctx context.Context, cli *client.Client) (seen bool, why string, known bool) {
	not := func(reason string) string {
		return "the daemon at " + cli.DaemonHost() + " does not see this host's files (" + reason + "), so it is taken to be elsewhere"
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	name := hex.EncodeToString(b[:])
	dir := filepath.Join(os.TempDir(), "tmp"+name[:8])
	if err := os.Mkdir(dir, 0o755); err != nil {
		d, err := os.MkdirTemp("", "tmp")
		if err != nil {
			return false, not("make the probe directory: " + err.Error()), false
		}
		dir = d
	}
	defer os.Remove(dir)
	// A name no registry serves and no daemon holds: a lower-case
	// repository of the random hex under a host that cannot resolve.
	image := "probe.invalid/" + name + ":x"
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := cli.ContainerCreate(ctx, &container.Config{Image: image, Entrypoint: []string{"/nonexistent"}, Labels: ctr.Labels("probe"), NetworkDisabled: true},
		&container.HostConfig{NetworkMode: "none", Mounts: []mount.Mount{{Type: mount.TypeBind, Source: dir, Target: "/probe", ReadOnly: true}}}, nil, nil, "")
	switch {
	case err == nil:
		// The image exists after all: the bind was made, so it was seen.
		_ = cli.ContainerRemove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true})
		return true, "", true
	case strings.Contains(err.Error(), "bind source path does not exist"):
		return false, not("a directory of this host's is not there for it"), true
	case errdefs.IsNotFound(err) || client.IsErrNotFound(err):
		return true, "", true
	case ctx.Err() != nil:
		return false, not(fmt.Sprintf("no answer to the probe: %v", err)), false
	}
	return false, not("the probe's answer says neither: " + err.Error()), true
}
