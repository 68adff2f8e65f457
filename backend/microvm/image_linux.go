package microvm

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// `--image`: the guest's root is a container image's file system instead
// of the host's interpreter. moat asks Docker for the image's id (its
// content hash), and the first time exports a container of it
// (`docker create`, `docker export`) through treecopy (no special files,
// no set-uid bits, links kept as links, nothing written outside the
// staging directory), adds its own mount points (the run's user, host
// name and home are the agent's, per run: personaEtc), and makes a
// squashfs of it, cached by that id beside the other images.
// The interpreter is the image's python3.

// imageInfo is what the host needs of a staged image.
type imageInfo struct {
	Command    string `json:"command"`    // the python3 to run, in the guest
	Executable string `json:"executable"` // it, links resolved in the image
	SHA256     string `json:"sha256"`
}

// Bounds on an image's export.
const (
	maxImageBytes = 4 << 30
	maxImageFiles = 1 << 20
)

// imageRuntime returns the squashfs of image ref, what runs in it, the
// interpreter's hash, and the image's ID ("sha256:…", which still names
// it once the tag has moved).
func imageRuntime(ctx context.Context, dir, ref string) (string, *pyrt.Runtime, string, string, error) {
	if strings.HasPrefix(ref, "-") {
		return "", nil, "", "", fmt.Errorf("image %q: %w", ref, moat.ErrInvalidSpec)
	}
	id, err := docker(ctx, "image", "inspect", "--format", "{{.Id}}", ref)
	if err != nil {
		return "", nil, "", "", fmt.Errorf("image %s: %w: %w", ref, err, moat.ErrUnavailable)
	}
	id = strings.TrimPrefix(strings.TrimSpace(id), "sha256:")
	if len(id) < 24 || strings.ContainsAny(id, "/.") {
		return "", nil, "", "", fmt.Errorf("image %s: odd id %q: %w", ref, id, moat.ErrUnavailable)
	}
	d, err := cached(dir, "image", fmt.Sprintf("%d-%s", imageFormat, id[:32]), "", func(out string) error {
		return stageImage(ctx, ref, out)
	})
	if err != nil {
		return "", nil, "", "", err
	}
	b, err := os.ReadFile(filepath.Join(d, "info.json"))
	if err != nil {
		return "", nil, "", "", err
	}
	var info imageInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return "", nil, "", "", err
	}
	rt := &pyrt.Runtime{Command: info.Command, Executable: info.Executable}
	return filepath.Join(d, "root.squashfs"), rt, info.SHA256, "sha256:" + id, nil
}

// docker runs the docker client and returns its output.
func docker(ctx context.Context, args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w: %s", args[0], err, clean(strings.TrimSpace(errb.String()[:min(errb.Len(), 300)])))
	}
	return out.String(), nil
}

// stageImage exports ref into the directory out: root.squashfs and
// info.json.
func stageImage(ctx context.Context, ref, out string) error {
	if err := os.Mkdir(out, 0o700); err != nil {
		return err
	}
	root := filepath.Join(out, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return err
	}
	defer os.RemoveAll(root)
	cid, err := docker(ctx, "create", "--network", "none", ref, "/nonexistent")
	if err != nil {
		return err
	}
	cid = strings.TrimSpace(cid)
	defer func() { _, _ = docker(context.Background(), "rm", "-f", cid) }()
	cmd := exec.CommandContext(ctx, "docker", "export", cid)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		return err
	}
	_, uerr := treecopy.Unpack(stdout, root, treecopy.Limits{Bytes: maxImageBytes, Files: maxImageFiles}, treecopy.Options{KeepLinks: true, AnyNames: true})
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("docker export: %w: %s", err, clean(errb.String()[:min(errb.Len(), 300)]))
	}
	if uerr != nil && !errors.Is(uerr, treecopy.ErrIncomplete) {
		return fmt.Errorf("export: %w", uerr)
	}
	// Docker's mark of a container, in every export, not in the image.
	if err := os.Remove(filepath.Join(root, ".dockerenv")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("image: /.dockerenv: %w", err)
	}
	for _, d := range []string{"dev", "proc", "sys", "etc", "run", "work", "tmp", guestHomes[1:], guestScratch[1:]} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return fmt.Errorf("image: /%s: %w", d, err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return err
	}
	var info imageInfo
	for _, c := range []string{"/usr/local/bin/python3", "/usr/bin/python3"} {
		if real, ok := inRoot(root, c); ok {
			info = imageInfo{Command: c, Executable: real, SHA256: fileSHA256(filepath.Join(root, real))}
			break
		}
	}
	if info.Command == "" {
		return fmt.Errorf("image %s has no python3 in /usr/local/bin or /usr/bin: %w", ref, moat.ErrInvalidSpec)
	}
	cmd = exec.CommandContext(ctx, "mksquashfs", root, filepath.Join(out, "root.squashfs"), "-noappend", "-all-root", "-no-xattrs", "-noI", "-noD", "-noF", "-noX", "-quiet", "-no-progress")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mksquashfs: %w: %s", err, strings.TrimSpace(string(b[:min(len(b), 500)])))
	}
	b, _ := json.Marshal(info)
	return os.WriteFile(filepath.Join(out, "info.json"), b, 0o600)
}

// inRoot resolves p in the image staged at root, every link inside the
// image (RESOLVE_IN_ROOT), and reports whether it ends at a regular,
// executable file, and which.
func inRoot(root, p string) (string, bool) {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer unix.Close(rfd)
	fd, err := unix.Openat2(rfd, p, &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return "", false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return "", false
	}
	real, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
	rel, ok := strings.CutPrefix(real, root+"/")
	if err != nil || !ok {
		return "", false
	}
	return "/" + rel, true
}
