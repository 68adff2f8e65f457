package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"google.golang.org/protobuf/encoding/protowire"

	ctr "github.com/moat-sandbox/moat/backend/internal/container"
)

// Docker (20.10) deletes its containerd record of a container (namespace
// moby) once, as it handles the container's exit; if that delete fails
// (the runtime's delete of the task failing under load, containerd
// restarting) `docker rm` still succeeds and containerd keeps the record,
// sometimes with a stopped task and its shim, which Docker's API cannot
// remove (docs/containers.md). Orphans finds such records of moat's
// containers, and GC removes them with containerd's own client, ctr.

// Orphan is a record of Docker's containerd that runs moat's init or
// bootstrap (ctr.IsEntrypoint) and whose container Docker no longer has.
type Orphan struct {
	ID      string
	Created time.Time
	Task    string // "pid 16513 STOPPED", or "" without a task
	// runtime is the record's OCI runtime (its shim's binary and state
	// root), where the record says: its delete of the task is the way out
	// when containerd's fails (runsc's kill of a stopped sandbox fails).
	runtime, runtimeRoot string
}

func (o Orphan) String() string {
	s := o.ID[:min(12, len(o.ID))] + " (created " + o.Created.Format(time.RFC3339) + ")"
	if o.Task != "" {
		s += ", task " + o.Task
	}
	return s
}

// orphanSettle is how long a record must stay orphaned to count: Docker
// deletes the record of a container that exits before it removes the
// container, or just after.
const orphanSettle = 5 * time.Second

// Orphans lists the orphaned records of moat's containers of the Docker
// at cli, found twice orphanSettle apart. It reads containerd with ctr at
// sock (ContainerdSocket).
func Orphans(ctx context.Context, cli *client.Client, sock string) ([]Orphan, error) {
	candidates := func() ([]string, error) {
		out, err := ctrRun(ctx, sock, "containers", "ls", "-q")
		if err != nil {
			return nil, err
		}
		list, err := cli.ContainerList(ctx, container.ListOptions{All: true})
		if err != nil {
			return nil, fmt.Errorf("docker: list containers: %w", err)
		}
		var known []string
		for _, c := range list {
			known = append(known, c.ID)
		}
		var ids []string
		for _, id := range strings.Fields(string(out)) {
			if !slices.Contains(known, id) {
				ids = append(ids, id)
			}
		}
		return ids, nil
	}
	first, err := candidates()
	if err != nil || len(first) == 0 {
		return nil, err
	}
	select {
	case <-time.After(orphanSettle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	again, err := candidates()
	if err != nil {
		return nil, err
	}
	tasks, err := ctrRun(ctx, sock, "tasks", "ls")
	if err != nil {
		return nil, err
	}
	var orphans []Orphan
	for _, id := range first {
		if !slices.Contains(again, id) {
			continue
		}
		out, err := ctrRun(ctx, sock, "containers", "info", id)
		if err != nil {
			continue // gone meanwhile
		}
		var info struct {
			CreatedAt time.Time
			Runtime   struct {
				Options struct {
					TypeURL string `json:"type_url"`
					Value   []byte `json:"value"`
				}
			}
			Spec struct {
				Process struct{ Args []string }
			}
		}
		if err := json.Unmarshal(out, &info); err != nil {
			return nil, fmt.Errorf("ctr containers info %s: %w", id, err)
		}
		if !ctr.IsEntrypoint(info.Spec.Process.Args) {
			continue
		}
		o := Orphan{ID: id, Created: info.CreatedAt}
		if info.Runtime.Options.TypeURL == "containerd.runc.v1.Options" {
			o.runtime, o.runtimeRoot = runcOptions(info.Runtime.Options.Value)
		}
		for _, l := range strings.Split(string(tasks), "\n") {
			if f := strings.Fields(l); len(f) == 3 && f[0] == id {
				o.Task = "pid " + f[1] + " " + f[2]
			}
		}
		orphans = append(orphans, o)
	}
	return orphans, nil
}

// removeOrphans deletes each orphan's task (killed if it still runs) and
// record, and names what it removed ("containerd record ID").
func removeOrphans(ctx context.Context, sock string, orphans []Orphan) ([]string, error) {
	var removed []string
	var errs []error
	for _, o := range orphans {
		if o.Task != "" {
			if err := deleteTask(ctx, sock, o); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if _, err := ctrRun(ctx, sock, "containers", "rm", o.ID); err != nil && !strings.Contains(err.Error(), "not found") {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, "containerd record "+o.ID[:min(12, len(o.ID))])
	}
	return removed, errors.Join(errs...)
}

// deleteTask deletes o's task with ctr; where that fails and the record
// names its runtime, after the runtime's own forced delete of the
// container: the runc shim's delete kills the task first, and runsc's
// kill of a sandbox that is no longer running fails, so the task of a
// gVisor container whose sandbox died stays until its state goes.
func deleteTask(ctx context.Context, sock string, o Orphan) error {
	_, err := ctrRun(ctx, sock, "tasks", "delete", "--force", o.ID)
	if err == nil || strings.Contains(err.Error(), "not found") || o.runtime == "" {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second) // a runtime that hangs does not hold gc
	defer cancel()
	rt := exec.CommandContext(rctx, o.runtime, "--root", filepath.Join(o.runtimeRoot, "moby"), "delete", "--force", o.ID)
	if out, rerr := rt.CombinedOutput(); rerr != nil {
		return fmt.Errorf("%w; %s delete --force: %v: %s", err, o.runtime, rerr, bytes.TrimSpace(out))
	}
	if _, err := ctrRun(ctx, sock, "tasks", "delete", "--force", o.ID); err != nil && !strings.Contains(err.Error(), "not found") {
		return err
	}
	return nil
}

// runcOptions reads the binary and the state root from a record's
// containerd.runc.v1.Options (fields binary_name = 6 and root = 7); ""
// where they are not set or the message does not parse.
func runcOptions(msg []byte) (binary, root string) {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return "", ""
		}
		msg = msg[n:]
		if typ == protowire.BytesType && (num == 6 || num == 7) {
			v, m := protowire.ConsumeBytes(msg)
			if m < 0 {
				return "", ""
			}
			if num == 6 {
				binary = string(v)
			} else {
				root = string(v)
			}
			msg = msg[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, msg)
		if m < 0 {
			return "", ""
		}
		msg = msg[m:]
	}
	if root == "" {
		binary = "" // the shim's default root is not the record's to say
	}
	return binary, root
}

// gcOrphans is GC's removal of orphaned records: only of the local
// daemon's containerd, as root, with ctr installed; else nothing.
func gcOrphans(ctx context.Context, cli *client.Client, host string) ([]string, error) {
	if host != "" || os.Geteuid() != 0 {
		return nil, nil
	}
	sock, err := ContainerdSocket()
	if err != nil {
		return nil, nil // no ctr or no containerd of Docker's: nothing to read
	}
	orphans, err := Orphans(ctx, cli, sock)
	if err != nil || len(orphans) == 0 {
		return nil, err
	}
	return removeOrphans(ctx, sock, orphans)
}

func ctrRun(ctx context.Context, sock string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ctr", append([]string{"-a", sock, "-n", "moby"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("ctr %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// ContainerdSocket is the address of Docker's containerd: its own (a
// daemon that starts containerd itself) or the system's. It needs ctr
// (containerd's client, in the containerd package).
func ContainerdSocket() (string, error) {
	if _, err := exec.LookPath("ctr"); err != nil {
		return "", errors.New("ctr (containerd's client, in the containerd package) not found: cannot see Docker's containerd")
	}
	for _, s := range []string{"/run/docker/containerd/containerd.sock", "/run/containerd/containerd.sock"} {
		if fi, err := os.Stat(s); err == nil && fi.Mode()&os.ModeSocket != 0 {
			return s, nil
		}
	}
	return "", errors.New("no containerd socket of Docker's (/run/docker/containerd, /run/containerd)")
}
