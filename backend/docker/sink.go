package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/pkg/stdcopy"

	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"

	"github.com/moat-sandbox/moat/internal/transfer/capture"
)

// The sinkhole without root. moat serves a run's sinkhole in the
// container's network namespace; entering it from the host takes
// CAP_SYS_ADMIN, which a moat run by a user of the docker group does not
// have (ctr.SinkSupported). Such a moat has the daemon start the sink
// helper instead: moat's own binary, from the run's init volume, as pid 1
// of a container of its own (moat-<id>-sink) that joins the run's network
// namespace (network mode container:<the run's container>) and holds
// CAP_NET_ADMIN and CAP_NET_BIND_SERVICE, nothing else. There it brings up
// the same stack (ctr.SinkHelperHere), sends moat the CA over its attached
// stdout, and, when moat ends its stdin, its events. The program's
// container is unchanged: no capability, moat's seccomp profile, a
// read-only root; it shares only the network namespace, which still has
// a loopback only. The helper refuses a namespace with any other
// interface, and a run whose helper does not come up is refused: never
// run with a network the sink does not serve.
//
// The helper's container is labelled with the run's id as the run's is
// (moat gc collects a killed moat's), removed when the sink stops, and
// again with the run's container; it ends by itself when its stdin
// closes, which a killed moat's attach connection does.

// sinkByHelper says whether the runs of this moat get their sinkhole from
// a helper container: moat cannot enter the container's namespace.
func sinkByHelper() bool { return os.Geteuid() != 0 }

// Bounds of the helper's container: its sink holds at most a run's
// records (egress bounds them), and Go's threads are processes.
const (
	sinkMemory = 256 << 20
	sinkPids   = 128
)

// sinkCaps are the helper's capabilities: NET_ADMIN for the route, the
// nftables rules and IP_TRANSPARENT; NET_BIND_SERVICE for the resolver's
// port 53 and the sink's. A variable only for the test that takes them
// away (export_test.go).
var sinkCaps = []string{"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"}

// sinkName is the helper's container name for the run's container name.
func sinkName(run string) string { return run + "-sink" }

// startSinkHelper starts the sink helper's container on the box's network
// namespace; see above.
func (bx *box) startSinkHelper(ctx context.Context) (*ctr.SinkProc, error) {
	cli := bx.e.cli
	img := bx.imageID
	if img == "" {
		img = bx.name
	}
	cfg := &container.Config{
		Image:        img,
		Entrypoint:   []string{ctrinit.Path, ctr.SinkHelperArg, ctr.SinkHelperHere},
		Cmd:          []string{},
		User:         "0:0",
		WorkingDir:   "/",
		Env:          []string{},
		Labels:       ctr.Labels(bx.runID),
		AttachStdin:  true,
		AttachStdout: true,
		AttachStderr: true,
		OpenStdin:    true,
		StdinOnce:    true,
	}
	pids := int64(sinkPids)
	no := false
	hc := &container.HostConfig{
		// The run's namespace: its loopback, and nothing else.
		NetworkMode:    container.NetworkMode("container:" + bx.id),
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		CapAdd:         sinkCaps,
		SecurityOpt:    []string{"no-new-privileges:true"},
		IpcMode:        "private",
		Init:           &no,
		LogConfig:      container.LogConfig{Type: "none"},
		Resources: container.Resources{
			Memory:     sinkMemory,
			MemorySwap: sinkMemory,
			PidsLimit:  &pids,
		},
		Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: bx.vol, Target: ctrinit.Dir, ReadOnly: true,
			VolumeOptions: &mount.VolumeOptions{NoCopy: true}}},
	}
	if sentry(bx.b.runtimeName(bx.e)) {
		// The helper's rules are the host kernel's: never gVisor's.
		hc.Runtime = "runc"
	}
	name := sinkName("moat-" + bx.runID)
	created, err := cli.ContainerCreate(ctx, cfg, hc, nil, nil, name)
	if err != nil {
		return nil, fmt.Errorf("create its container: %w", err)
	}
	bx.sinkID.Store(&created.ID)
	remove := func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = cli.ContainerRemove(rctx, created.ID, container.RemoveOptions{Force: true})
	}
	hj, err := cli.ContainerAttach(ctx, created.ID, container.AttachOptions{Stream: true, Stdin: true, Stdout: true, Stderr: true})
	if err != nil {
		remove()
		return nil, fmt.Errorf("attach its container: %w", err)
	}
	outR, outW := io.Pipe()
	var stderr strings.Builder
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_, err := stdcopy.StdCopy(outW, &capture.Head{W: &stderr, N: 4096}, hj.Reader)
		outW.CloseWithError(err)
	}()
	end := func(bool) {
		// Whether it is done or not: after its last message there is
		// nothing of it to wait for.
		hj.Close()
		remove()
		<-copied
	}
	if err := cli.ContainerStart(ctx, created.ID, container.StartOptions{}); err != nil {
		end(true)
		return nil, fmt.Errorf("start its container: %w", err)
	}
	return &ctr.SinkProc{
		Stdin:  closeWriter{hj.Conn, hj.CloseWrite},
		Stdout: outR,
		Stderr: func() string { <-copied; return stderr.String() },
		End:    end,
	}, nil
}

// closeWriter is a hijacked connection whose Close ends the write side
// only (the container's stdin), so its output still comes.
type closeWriter struct {
	io.Writer
	closeWrite func() error
}

func (c closeWriter) Close() error { return c.closeWrite() }
