package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"

	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/internal/observe"
)

// etcFiles is where a run's /etc/passwd and /etc/group come from, which
// the box removes at its end: a host directory bound (a daemon on this
// host) or a volume (one elsewhere). The zero value is none.
type etcFiles struct {
	dir string // the host directory of the two files bound
	vol string // the volume with the run's /etc
}

// remove removes what f names (the volume once no container uses it).
func (f etcFiles) remove(ctx context.Context, e *engine) {
	if f.dir != "" {
		_ = os.RemoveAll(f.dir)
	}
	if f.vol != "" {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = e.cli.VolumeRemove(ctx, f.vol, true)
	}
}

// etcMounts makes the run's /etc/passwd and /etc/group (the image's, with
// the persona's user and group for uid and gid 1000, the program's) and
// returns the read-only mounts that put them in place, and what to remove
// at the box's end. Docker has no --passwd-entry (podman's): without a
// line for its uid the program's getpwuid, getlogin, whoami and `id -un`
// fail, which no real machine does. The image's files are read once per
// image (ImageEtc), from a container created and never started.
//
// A daemon that sees this host's files (onHost: a probe, not the socket's
// scheme) gets the two files written to a fresh host directory and bound
// over the image's. Any other (tcp://, a Unix socket forwarded to another
// machine, a daemon in another mount namespace) cannot see our files:
// etcVolume copies them in through the API.
func (e *engine) etcMounts(ctx context.Context, imageID, runID string, p ctr.Persona) (mounts []mount.Mount, f etcFiles, err error) {
	if imageID == "" {
		return nil, etcFiles{}, nil
	}
	passwd, group, err := ctr.ImageEtc("docker-"+e.id, imageID, func() ([]byte, []byte, error) { return e.readEtc(ctx, imageID) })
	if err != nil {
		return nil, etcFiles{}, fmt.Errorf("read the image's /etc/passwd: %w", err)
	}
	passwd, group = p.WithEntries(passwd, group)
	if local, _ := e.onHost(ctx); !local {
		return e.etcVolume(ctx, imageID, runID, passwd, group)
	}
	// The directory's name is in the container's /proc/self/mountinfo
	// (a bind's root): of Python's tempfile shape (the persona's drawn
	// one), never moat's.
	dir := filepath.Join(os.TempDir(), filepath.Base(p.Scratch))
	if err = os.Mkdir(dir, 0o700); errors.Is(err, fs.ErrExist) {
		dir, err = os.MkdirTemp("", "tmp")
	}
	if err != nil {
		return nil, etcFiles{}, err
	}
	// The daemon reads the files (a rootless one as its own user).
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, etcFiles{}, err
	}
	// The image's files were written at its build (a container's host
	// may have booted after or before it), not at the run's start.
	installed := observe.Installed(0)
	for name, data := range map[string][]byte{"passwd": passwd, "group": group} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, etcFiles{}, err
		}
		if err := os.Chtimes(filepath.Join(dir, name), installed, installed); err != nil {
			os.RemoveAll(dir)
			return nil, etcFiles{}, err
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: filepath.Join(dir, name), Target: "/etc/" + name, ReadOnly: true})
	}
	return mounts, etcFiles{dir: dir}, nil
}

// etcVolume gives a daemon that is not on this host the run's /etc: a
// fresh volume mounted by a container of the image that never starts,
// which Docker fills with the image's /etc at the create (a volume's copy
// of what the image has at its mount point), then passwd and group copied
// over the image's through the API (CopyToContainer into a volume). The
// run's container mounts it read-only at /etc (and Docker its own hosts,
// hostname and resolv.conf over it, as always). The volume's name is
// random hex, as an anonymous volume's (it shows in the container's
// mountinfo), labelled with the run for gc.
func (e *engine) etcVolume(ctx context.Context, imageID, runID string, passwd, group []byte) (mounts []mount.Mount, f etcFiles, err error) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	name := hex.EncodeToString(b[:])
	if _, err := e.cli.VolumeCreate(ctx, volume.CreateOptions{Name: name, Labels: ctr.Labels(runID)}); err != nil {
		return nil, etcFiles{}, fmt.Errorf("create the volume of /etc: %w", err)
	}
	f = etcFiles{vol: name}
	defer func() {
		if err != nil {
			f.remove(ctx, e)
			f = etcFiles{}
		}
	}()
	c, err := e.cli.ContainerCreate(ctx, &container.Config{Image: imageID, Entrypoint: []string{"/nonexistent"}, Labels: ctr.Labels("etc"), NetworkDisabled: true},
		&container.HostConfig{NetworkMode: "none", Mounts: []mount.Mount{{Type: mount.TypeVolume, Source: name, Target: "/etc"}}}, nil, nil, "")
	if err != nil {
		return nil, f, fmt.Errorf("fill the volume of /etc: %w", err)
	}
	defer func() {
		_ = e.cli.ContainerRemove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true})
	}()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	installed := observe.Installed(0) // the image's build, as etcMounts's
	for _, file := range []struct {
		name string
		data []byte
	}{{"passwd", passwd}, {"group", group}} {
		if err := tw.WriteHeader(&tar.Header{Name: file.name, Mode: 0o644, Size: int64(len(file.data)), Typeflag: tar.TypeReg, ModTime: installed}); err != nil {
			return nil, f, err
		}
		if _, err := tw.Write(file.data); err != nil {
			return nil, f, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, f, err
	}
	if err := e.cli.CopyToContainer(ctx, c.ID, "/etc", &buf, container.CopyToContainerOptions{}); err != nil {
		return nil, f, fmt.Errorf("copy passwd and group into the volume of /etc: %w", err)
	}
	return []mount.Mount{{Type: mount.TypeVolume, Source: name, Target: "/etc", ReadOnly: true, VolumeOptions: &mount.VolumeOptions{NoCopy: true}}}, f, nil
}

// readEtc reads /etc/passwd and /etc/group of image (a regular file each,
// or nothing) from a container of it that never starts.
func (e *engine) readEtc(ctx context.Context, image string) (passwd, group []byte, err error) {
	c, err := e.cli.ContainerCreate(ctx, &container.Config{Image: image, Entrypoint: []string{"/nonexistent"}, Labels: ctr.Labels("etc"), NetworkDisabled: true},
		&container.HostConfig{NetworkMode: "none"}, nil, nil, "")
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		_ = e.cli.ContainerRemove(context.WithoutCancel(ctx), c.ID, container.RemoveOptions{Force: true})
	}()
	read := func(path string) ([]byte, error) {
		rc, _, err := e.cli.CopyFromContainer(ctx, c.ID, path)
		if err != nil {
			if client.IsErrNotFound(err) {
				return nil, nil
			}
			return nil, err
		}
		defer rc.Close()
		tr := tar.NewReader(rc)
		h, err := tr.Next()
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			return nil, nil // a link: not followed, the image has none of its own
		}
		return io.ReadAll(io.LimitReader(tr, ctr.EtcMax))
	}
	if passwd, err = read("/etc/passwd"); err != nil {
		return nil, nil, err
	}
	if group, err = read("/etc/group"); err != nil {
		return nil, nil, err
	}
	if len(passwd) == 0 {
		passwd = []byte("root:x:0:0:root:/root:/bin/sh\n")
	}
	if len(group) == 0 {
		group = []byte("root:x:0:\n")
	}
	return passwd, group, nil
}
