//go:build linux

package native_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/moattest"
)

func zygoteTmpl() moat.Spec {
	return moat.Spec{Args: []string{"-c", "pass"}, NoReport: true}
}

func newZygote(t *testing.T) *native.Zygote {
	t.Helper()
	moattest.RequireBackend(t, "native")
	if os.Geteuid() != 0 {
		t.Skip("the zygote is tested as root")
	}
	tmpl := zygoteTmpl()
	z, err := native.NewZygote(&tmpl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(z.Close)
	return z
}

func zygoteRun(t *testing.T, z *native.Zygote, spec *moat.Spec) *moat.Result {
	t.Helper()
	tmpl := zygoteTmpl()
	sb, err := z.Prepare(context.Background(), &tmpl)
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	spec.NoReport = true
	res, err := sb.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestZygoteSmoke(t *testing.T) {
	z := newZygote(t)
	res := zygoteRun(t, z, &moat.Spec{Args: []string{"-c", "import os,sys; print(os.getpid(), os.getuid(), sys.argv, os.getcwd(), sorted(os.listdir('/proc'))[:5]); sys.exit(3)"}})
	t.Logf("%+v", res)
	if res.Status != moat.StatusExited || res.ExitCode != 3 {
		t.Fatalf("status %s %d: %s", res.Status, res.ExitCode, res.Stderr)
	}
}

// zygoted runs every Spec that fits a zygote child in one (forked for
// its limits), the rest cold, so that the shared suite holds the zygote's
// children to the guarantees of the cold path.
type zygoted struct {
	native.Backend
	z            *native.Zygote
	mu           sync.Mutex
	forked, cold int
}

func (b *zygoted) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	s := *spec
	s.NoReport = true
	sb, err := b.z.Prepare(ctx, &s)
	if err == nil {
		defer sb.Close()
		res, err := sb.Run(ctx, &s)
		if !errors.Is(err, moat.ErrMismatch) {
			b.mu.Lock()
			b.forked++
			b.mu.Unlock()
			return res, err
		}
	} else if !errors.Is(err, moat.ErrMismatch) {
		return nil, err
	}
	b.mu.Lock()
	b.cold++
	b.mu.Unlock()
	return b.Backend.Run(ctx, &s)
}

// TestZygoteSuite: the conformance and adversarial suite through zygote
// children (without the report, which a child does not make).
func TestZygoteSuite(t *testing.T) {
	z := newZygote(t)
	b := &zygoted{z: z}
	opts := moattest.Options{NoReport: true, Layers: []string{
		"user-namespace", "pid-namespace", "network-namespace", "ipc-namespace", "uts-namespace", "cgroup-namespace", "mount-namespace",
		"capabilities", "seccomp", "no-new-privs", "rlimits", "timeout", "output-limit", "zygote",
	}}
	if c := os.Getenv("MOAT_ZYGOTE_CASES"); c != "" {
		opts.Cases = strings.Split(c, ",")
	}
	pid := z.Pid()
	t.Run("suite", func(t *testing.T) {
		moattest.Run(t, func() moat.Backend { return b }, opts)
	})
	if z.Pid() != pid {
		t.Errorf("the zygote was restarted during the suite (%d, now %d)", pid, z.Pid())
	}
	t.Logf("%d runs in zygote children, %d cold (not fitting: network, workspace, interpreter options)", b.forked, b.cold)
	if b.forked == 0 {
		t.Error("no run went through a zygote child")
	}
}
