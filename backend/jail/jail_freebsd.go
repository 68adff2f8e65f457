//go:build freebsd

package jail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/outdir"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"github.com/moat-sandbox/moat/internal/transfer/capture"
	"github.com/moat-sandbox/moat/internal/transfer/treecopy"
)

// nobody is the uid and gid the program runs as (jexec -u nobody).
const nobody = 65534

// racct says whether RCTL limits can be set (kern.racct.enable=1).
func racct() bool {
	out, err := exec.Command("/sbin/sysctl", "-n", "kern.racct.enable").Output()
	return err == nil && strings.TrimSpace(string(out)) == "1"
}

// python is the host's python3 that the jail runs (from /usr/local).
func python() (string, error) {
	for _, p := range []string{"/usr/local/bin/python3"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("jail: no /usr/local/bin/python3 (pkg install python3): %w", moat.ErrUnavailable)
}

// Check: root, jail(8), python3.
func (b *Backend) Check(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("jail: making jails needs root: %w", moat.ErrUnavailable)
	}
	if _, err := os.Stat("/usr/sbin/jail"); err != nil {
		return fmt.Errorf("jail: no /usr/sbin/jail: %w", moat.ErrUnavailable)
	}
	_, err := python()
	return err
}

// Describe says whether RCTL limits are on, and that the backend is
// unverified.
func (b *Backend) Describe(ctx context.Context) []string {
	n := []string{Unverified}
	if racct() {
		return append(n, "limits: RCTL")
	}
	return append(n, "no RCTL (kern.racct.enable=0): limits need --allow-degraded")
}

func run(cmd []string) error {
	out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", filepath.Base(cmd[0]), err, termsafe.Line(string(out), 200))
	}
	return nil
}

// Run runs spec in a fresh jail; see the package doc.
func (b *Backend) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	if err := spec.Validate(); err != nil {
		return nil, fmt.Errorf("jail: %w", err)
	}
	if err := b.Supports(spec); err != nil {
		return nil, err
	}
	if err := b.Check(ctx); err != nil {
		return nil, err
	}
	py := spec.Python
	if py == "" {
		var err error
		if py, err = python(); err != nil {
			return nil, err
		}
	}
	lim := spec.Limits.WithDefaults()
	res := &moat.Result{Isolation: "jail"}
	rctl := racct()
	if !rctl {
		res.Degraded = append(res.Degraded, "limits: racct is off (kern.racct.enable=0 at boot), so no RCTL memory, process or CPU limit")
		if !spec.AllowDegraded {
			return nil, fmt.Errorf("jail: %s (pass --allow-degraded to run without): %w", res.Degraded[0], moat.ErrDegraded)
		}
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	p := Plan{Name: "moat-" + hex.EncodeToString(id[:]), Limits: lim, RCTL: rctl}
	root, err := os.MkdirTemp("", "moat-jail-")
	if err != nil {
		return nil, fmt.Errorf("jail: %w", err)
	}
	p.Root = root
	cleanup := func() {
		_ = run(RemoveCommand(p.Name))
		if rctl {
			_ = run(RCTLRemove(p.Name))
		}
		for _, c := range UnmountCommands(p) {
			_ = run(c)
		}
		_ = os.Remove(root)
	}
	defer cleanup()
	mounts := MountCommands(p)
	if err := run(mounts[0]); err != nil {
		return nil, fmt.Errorf("jail: root: %w", err)
	}
	for _, d := range append([]string{"/dev", "/work", "/tmp", "/home/sandbox"}, RuntimeDirs...) {
		if err := os.MkdirAll(root+d, 0o755); err != nil {
			return nil, fmt.Errorf("jail: %w", err)
		}
	}
	for _, d := range []string{"/work", "/tmp", "/home/sandbox"} {
		mode := os.FileMode(0o700)
		if d == "/tmp" {
			mode = 0o1777
		}
		if err := os.Chown(root+d, nobody, nobody); err != nil {
			return nil, fmt.Errorf("jail: %w", err)
		}
		_ = os.Chmod(root+d, mode)
	}
	for _, c := range mounts[1:] {
		if err := run(c); err != nil {
			return nil, fmt.Errorf("jail: runtime: %w", err)
		}
	}
	if err := stage(spec, lim, root+"/work"); err != nil {
		return nil, fmt.Errorf("jail: workspace: %w", err)
	}
	if err := run(CreateCommand(p)); err != nil {
		return nil, fmt.Errorf("jail: create: %w", err)
	}
	if rctl {
		for _, c := range RCTLCommands(p) {
			if err := run(c); err != nil {
				return nil, fmt.Errorf("jail: limits: %w", err)
			}
		}
	}
	res.Layers = []moat.Layer{
		{Name: "jail", Detail: p.Name + ": " + strings.Join(Params(p)[2:], " ")},
		{Name: "read-only-runtime", Detail: "nullfs ro: " + strings.Join(RuntimeDirs, " ")},
		{Name: "disk", Detail: fmt.Sprintf("tmpfs root of %d bytes", lim.Disk)},
		{Name: "network-none", Detail: "no IP address"},
		{Name: "user", Detail: "nobody"},
		{Name: "timeout"}, {Name: "output-limit"},
	}
	if rctl {
		res.Layers = append(res.Layers, moat.Layer{Name: "rctl", Detail: strings.Join(RCTLRules(p), " ")})
	}
	argv := ExecCommand(p.Name, py, Env(spec), spec.Args)
	cmd := exec.Command(argv[0], argv[1:]...)
	var stopOnce sync.Once
	var reason moat.Status
	stop := func(r moat.Status) {
		stopOnce.Do(func() {
			reason = r
			_ = run(RemoveCommand(p.Name)) // kills every process of the jail
		})
	}
	stdout := capture.New(spec.Stdout, lim.OutputLimit, func() { go stop(moat.StatusOutputLimit) })
	stderr := capture.New(spec.Stderr, lim.OutputLimit, func() { go stop(moat.StatusOutputLimit) })
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if spec.Stdin != nil {
		cmd.Stdin = spec.Stdin
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("jail: jexec: %w", err)
	}
	timer := time.AfterFunc(lim.Timeout, func() { stop(moat.StatusTimeout) })
	defer timer.Stop()
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			stop(moat.StatusCanceled)
		case <-done:
		}
	}()
	werr := cmd.Wait()
	close(done)
	stopOnce.Do(func() {})
	res.DurationMS = time.Since(start).Milliseconds()
	res.Stdout, res.StdoutTruncated = stdout.Result()
	res.Stderr, res.StderrTruncated = stderr.Result()
	end := moat.Ending{Stop: reason}
	var ee *exec.ExitError
	switch {
	case werr == nil:
		end.Exited = true
	case errors.As(werr, &ee):
		ws := ee.Sys().(syscall.WaitStatus)
		end.Exited, end.ExitCode = true, ws.ExitStatus()
		if ws.Signaled() {
			end.Signal = int(ws.Signal())
		}
	default:
		end.Lost = werr.Error()
	}
	_ = run(RemoveCommand(p.Name))
	if spec.OutDir != "" {
		res.Out = outdir.Copy(root+"/work", spec)
	}
	if err := end.Classify("jail", res); err != nil {
		return res, err
	}
	return res, nil
}

// stage copies the workspace and files into the jail's /work, owned by
// nobody.
func stage(spec *moat.Spec, lim moat.Limits, work string) error {
	if spec.Workspace != "" {
		pr, pw := io.Pipe()
		go func() {
			pw.CloseWithError(treecopy.Pack(pw, spec.Workspace, treecopy.Limits{Bytes: lim.Disk, Files: 1 << 20}))
		}()
		if _, err := treecopy.Unpack(pr, work, treecopy.Limits{Bytes: lim.Disk, Files: 1 << 20}, treecopy.Options{Owner: &treecopy.Owner{UID: nobody, GID: nobody}, KeepLinks: true, AnyNames: true, Whole: true}); err != nil {
			return err
		}
	}
	for name, data := range spec.Files {
		p := filepath.Join(work, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		if err := os.Chown(p, nobody, nobody); err != nil {
			return err
		}
	}
	return nil
}
