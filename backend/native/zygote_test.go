//go:build linux

package native_test

import (
	"context"
	"os"
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
