package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"
	"github.com/docker/docker/client"

	ctr "github.com/moat-sandbox/moat/backend/internal/container"
)

// etcMounts writes the run's /etc/passwd and /etc/group (the image's, with
// the persona's user and group for uid and gid 1000, the program's) into a
// fresh host directory and returns their read-only binds over the image's
// and the directory, which the box removes at its end. Docker has no
// --passwd-entry (podman's): without a line for its uid the program's
// getpwuid, getlogin, whoami and `id -un` fail, which no real machine
// does. The image's files are read once per image (ImageEtc), from a
// container created and never started. A daemon that is not on this host
// (its socket not a Unix one) cannot bind our files: none then, and
// dir "".
func (e *engine) etcMounts(ctx context.Context, imageID string, p ctr.Persona) (mounts []mount.Mount, dir string, err error) {
	if !strings.HasPrefix(e.cli.DaemonHost(), "unix://") || imageID == "" {
		return nil, "", nil
	}
	passwd, group, err := ctr.ImageEtc("docker-"+e.id, imageID, func() ([]byte, []byte, error) { return e.readEtc(ctx, imageID) })
	if err != nil {
		return nil, "", fmt.Errorf("read the image's /etc/passwd: %w", err)
	}
	passwd, group = p.WithEntries(passwd, group)
	// The directory's name is in the container's /proc/self/mountinfo
	// (a bind's root): of Python's tempfile shape (the persona's drawn
	// one), never moat's.
	dir = filepath.Join(os.TempDir(), filepath.Base(p.Scratch))
	if err = os.Mkdir(dir, 0o700); errors.Is(err, fs.ErrExist) {
		dir, err = os.MkdirTemp("", "tmp")
	}
	if err != nil {
		return nil, "", err
	}
	// The daemon reads the files (a rootless one as its own user).
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	for name, data := range map[string][]byte{"passwd": passwd, "group": group} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, "", err
		}
		mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: filepath.Join(dir, name), Target: "/etc/" + name, ReadOnly: true})
	}
	return mounts, dir, nil
}

// readEtc reads /etc/passwd and /etc/group of image (a regular file each,
// or nothing) from a container of it that never starts.
func (e *engine) readEtc(ctx context.Context, image string) (passwd, group []byte, err error) {
	c, err := e.cli.ContainerCreate(ctx, &container.Config{Image: image, Entrypoint: []string{"/nonexistent"}, Labels: map[string]string{ctr.Label: "etc"}, NetworkDisabled: true},
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
