package pool_test

import (
	"context"
	"testing"
	"time"

	"github.com/moat-sandbox/moat"
	_ "github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/internal/pool"
	"github.com/moat-sandbox/moat/moattest"
)

// TestMissWait: with MissWait, a run that finds the pool empty waits for
// the sandbox the refill is making instead of running cold: two runs back
// to back on a pool of one are both pooled (without it, the second finds
// the refill still preparing and is a miss).
func TestMissWait(t *testing.T) {
	b := moattest.RequireBackend(t, "native")
	p, err := pool.New(b, moat.Spec{}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.MissWait = time.Minute
	moattest.WaitReady(t, p, 1)
	for i := range 2 {
		res, pooled, err := p.TryRun(context.Background(), &moat.Spec{Args: []string{"-c", "print(6*7)"}})
		if err != nil {
			t.Fatal(err)
		}
		if !pooled {
			t.Fatalf("run %d: a miss, though the pool waits for its refill", i)
		}
		if res.Stdout != "42\n" {
			t.Fatalf("run %d: stdout %q", i, res.Stdout)
		}
	}
	if s := p.Stats(); s.Hits != 2 || s.Misses != 0 {
		t.Fatalf("stats %+v, want 2 hits and no miss", s)
	}
}
