//go:build linux

package report_test

import (
	"context"
	"errors"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
)

// zygoted runs each Spec in a child of a native zygote with the report,
// forked for the Spec's limits; a Spec that fits no child runs cold.
type zygoted struct {
	z *native.Zygote
}

// zygoteBackend is a native zygote with the report, as a moat.Backend.
func zygoteBackend(t *testing.T) moat.Backend {
	t.Helper()
	z, err := native.NewZygote(&moat.Spec{Args: []string{"-c", "pass"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(z.Close)
	return &zygoted{z: z}
}

func (b *zygoted) Run(ctx context.Context, spec *moat.Spec) (*moat.Result, error) {
	tmpl := *spec
	sb, err := b.z.Prepare(ctx, &tmpl)
	if errors.Is(err, moat.ErrMismatch) {
		return b.z.Run(ctx, spec)
	}
	if err != nil {
		return nil, err
	}
	defer sb.Close()
	return sb.Run(ctx, spec)
}
