package pool_test

import (
	"context"
	"sync"
	"sync/atomic"
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

// counting prepares real native sandboxes and counts the preparations
// under way: at most the most at once, and, while gate is set, each
// waits until gate's count are under way (or it is closed), the proof
// that they overlap.
type counting struct {
	moat.Backend
	now, most atomic.Int64
	calls     atomic.Int64
	gate      chan struct{}
	want      int64
	open      sync.Once
}

func (c *counting) Prepare(ctx context.Context, tmpl *moat.Spec) (moat.Prepared, error) {
	c.calls.Add(1)
	n := c.now.Add(1)
	defer c.now.Add(-1)
	for {
		m := c.most.Load()
		if n <= m || c.most.CompareAndSwap(m, n) {
			break
		}
	}
	if c.gate != nil {
		if n >= c.want {
			c.open.Do(func() { close(c.gate) })
		}
		select {
		case <-c.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return c.Backend.(moat.Preparer).Prepare(ctx, tmpl)
}

// TestSpare: the refill workers beyond the first prepare only while
// Spare says cores are idle. With none spare, three workers fill a pool
// of three one sandbox at a time; with cores to spare, they prepare at
// once (each preparation waits until two are under way).
func TestSpare(t *testing.T) {
	b := moattest.RequireBackend(t, "native")
	for _, spare := range []float64{0, 8} {
		c := &counting{Backend: b}
		if spare > 0 {
			c.gate, c.want = make(chan struct{}), 2
		}
		p, err := pool.New(c, moat.Spec{}, 3, 3)
		if err != nil {
			t.Fatal(err)
		}
		p.Spare = func() float64 { return spare }
		moattest.WaitReady(t, p, 3)
		p.Close()
		most := c.most.Load()
		if spare == 0 && most != 1 {
			t.Errorf("no core spare: %d preparations at once, want 1 (the first worker's)", most)
		}
		if spare > 0 && most < 2 {
			t.Errorf("cores spare: at most %d preparation at once, want 2 or more", most)
		}
	}
}

// TestNoSurplus: the sandboxes being made count toward the pool's size.
// Three workers fill a pool of one with one sandbox (each used to see the
// pool one short and make one, and the two surplus were destroyed
// unused).
func TestNoSurplus(t *testing.T) {
	b := moattest.RequireBackend(t, "native")
	c := &counting{Backend: b}
	p, err := pool.New(c, moat.Spec{}, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	moattest.WaitReady(t, p, 1)
	p.Close()
	if n := c.calls.Load(); n != 1 {
		t.Fatalf("%d sandboxes prepared for a pool of one, want 1", n)
	}
}
