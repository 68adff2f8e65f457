// Package pool keeps sandboxes of a backend prepared ahead of their runs
// (a warm pool): each runs exactly one Spec and is then destroyed, and the
// pool refills in the background.
//
// A Spec that does not fit the pool's template, a pool that is empty, and
// a prepared sandbox that died while it waited are misses: the run goes to
// the backend's cold path instead, with the same guarantees.
package pool

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moat-sandbox/moat"
)

// Pool is a set of prepared sandboxes for one template.
type Pool struct {
	b    moat.Backend
	prep moat.Preparer
	tmpl moat.Spec
	size int

	// MissWait, if set, is how long a run that finds no sandbox ready
	// waits for one the refill is making before it is a miss: worth it
	// where a sandbox is made much faster than a cold run (a zygote's
	// child). Set it before the first run.
	MissWait time.Duration

	// Spare, if set, says how many cores are idle (idle.Meter's Spare).
	// The first refill worker prepares whenever the pool is short; each
	// other one only while at least max(1, preparing) cores are spare,
	// preparing being the sandboxes being made then: the workers beyond
	// the first use the cores the runs leave idle, and none takes a core
	// a run is waiting for. Without it every worker prepares whenever
	// the pool is short. Set it before the first run.
	Spare func() float64

	mu    sync.Mutex
	ready []moat.Prepared
	// avail is closed (and replaced) whenever a sandbox is put.
	avail  chan struct{}
	closed bool
	// wake wakes a refill worker, wakeFirst the first: a worker held
	// back by Spare that took the one wake would leave the first asleep
	// until its next tick.
	wake, wakeFirst chan struct{}
	stop            context.CancelFunc
	wg              sync.WaitGroup
	// closing counts the background closes of closeLater.
	closing sync.WaitGroup

	// preparing counts the sandboxes being made (under mu).
	preparing int

	hits, misses, stale, failures atomic.Int64
}

// spareWait is how long a refill worker held back by Spare waits before
// it asks again (or until it is woken).
const spareWait = 100 * time.Millisecond

// Stats are the pool's counters.
type Stats struct {
	Size     int   // prepared sandboxes wanted
	Ready    int   // prepared and waiting now
	Hits     int64 // runs served by a prepared sandbox
	Misses   int64 // runs that went cold (no fit, none ready, stale)
	Stale    int64 // prepared sandboxes found dead before their run
	Failures int64 // preparations that failed
}

// New starts a pool of size sandboxes of b (which must be a
// moat.Preparer) prepared for tmpl, refilled by workers goroutines.
func New(b moat.Backend, tmpl moat.Spec, size, workers int) (*Pool, error) {
	prep, ok := b.(moat.Preparer)
	if !ok {
		return nil, errors.New("pool: backend cannot prepare sandboxes ahead")
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{b: b, prep: prep, tmpl: tmpl, size: size, wake: make(chan struct{}, 1), wakeFirst: make(chan struct{}, 1), stop: cancel, avail: make(chan struct{})}
	for i := range max(workers, 1) {
		p.wg.Add(1)
		go p.refill(ctx, i == 0)
	}
	return p, nil
}

// Run runs spec in a prepared sandbox when one fits and is ready, else
// cold in the backend. pooled says which. A sandbox that ran is closed in
// the background: its Result does not wait for its teardown.
func (p *Pool) Run(ctx context.Context, spec *moat.Spec) (res *moat.Result, pooled bool, err error) {
	if res, pooled, err = p.TryRun(ctx, spec); pooled {
		return res, true, err
	}
	res, err = p.b.Run(ctx, spec)
	return res, false, err
}

// TryRun runs spec in a prepared sandbox when one fits and is ready;
// pooled says whether it did, and res and err are then its. Else (a
// miss, counted) nothing ran, and the caller may run spec elsewhere.
func (p *Pool) TryRun(ctx context.Context, spec *moat.Spec) (res *moat.Result, pooled bool, err error) {
	// The refill of what this run took starts once the run is over: on a
	// machine of few cores, a sandbox prepared beside the run (its init,
	// its interpreter starting) takes the CPU the run is waiting for.
	defer p.kick()
	var wait <-chan time.Time
	if p.MissWait > 0 {
		t := time.NewTimer(p.MissWait)
		defer t.Stop()
		wait = t.C
	}
	for {
		sb, avail := p.take()
		if sb == nil {
			if wait == nil {
				break
			}
			select {
			case <-avail:
				continue
			case <-wait:
			case <-ctx.Done():
			}
			break
		}
		res, err = sb.Run(ctx, spec)
		switch {
		case errors.Is(err, moat.ErrStale):
			p.stale.Add(1)
			p.closeLater(sb)
			continue // another, or cold
		case errors.Is(err, moat.ErrMismatch):
			p.put(sb)
		default:
			p.hits.Add(1)
			// Its teardown goes on in the background; Close waits for it.
			p.closeLater(sb)
			return res, true, err
		}
		break
	}
	p.misses.Add(1)
	return nil, false, nil
}

// take pops a prepared sandbox that is still alive, or nil and a channel
// closed when one is put; the refill is woken by Run once the run is
// over, or at once when none was ready.
func (p *Pool) take() (moat.Prepared, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.ready) > 0 {
		sb := p.ready[len(p.ready)-1]
		p.ready = p.ready[:len(p.ready)-1]
		select {
		case <-sb.Done():
			p.stale.Add(1)
			p.closeLater(sb)
			continue
		default:
			return sb, nil
		}
	}
	p.kick()
	return nil, p.avail
}

func (p *Pool) put(sb moat.Prepared) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || len(p.ready) >= p.size {
		p.closeLater(sb)
		return
	}
	p.ready = append(p.ready, sb)
	close(p.avail)
	p.avail = make(chan struct{})
}

func (p *Pool) kick() {
	for _, c := range []chan struct{}{p.wakeFirst, p.wake} {
		select {
		case c <- struct{}{}:
		default:
		}
	}
}

// refill prepares sandboxes while fewer than size are ready, and drops
// those that die while they wait. A worker that is not the first
// prepares only while Spare allows it.
func (p *Pool) refill(ctx context.Context, first bool) {
	defer p.wg.Done()
	backoff := time.Duration(0)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	held := time.NewTimer(spareWait)
	defer held.Stop()
	wake := p.wake
	if first {
		wake = p.wakeFirst
	}
	for {
		spare := math.Inf(1)
		if !first && p.Spare != nil {
			spare = p.Spare()
		}
		p.mu.Lock()
		// Drop the dead ones (a sandbox killed while it waited).
		live := p.ready[:0]
		for _, sb := range p.ready {
			select {
			case <-sb.Done():
				p.stale.Add(1)
				p.closeLater(sb)
			default:
				live = append(live, sb)
			}
		}
		clear(p.ready[len(live):])
		p.ready = live
		// Those being made count: workers that each saw the pool one
		// short made one each, and the surplus was destroyed unused.
		short := !p.closed && len(p.ready)+p.preparing < p.size
		start := short && backoff == 0 && spare >= max(1, float64(p.preparing))
		if start {
			p.preparing++
		}
		p.mu.Unlock()
		if start {
			sb, err := p.prep.Prepare(ctx, &p.tmpl)
			if err == nil {
				p.put(sb)
			}
			p.mu.Lock()
			p.preparing--
			p.mu.Unlock()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p.failures.Add(1)
				slog.Warn("pool: prepare failed", "err", err)
				backoff = time.Second
			} else {
				p.kick() // the other workers may be needed too
			}
			continue
		}
		// Held back by Spare (short, no failure): ask again in a while,
		// or when woken (a run over, a sandbox put).
		var again <-chan time.Time
		if short && backoff == 0 {
			held.Reset(spareWait)
			again = held.C
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-again:
		case <-tick.C:
			backoff = 0 // try again after a failure, once a second
		}
	}
}

// Template is the Spec the pool's sandboxes are prepared for.
func (p *Pool) Template() moat.Spec { return p.tmpl }

// Stats returns the counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	n := len(p.ready)
	p.mu.Unlock()
	return Stats{Size: p.size, Ready: n, Hits: p.hits.Load(), Misses: p.misses.Load(), Stale: p.stale.Load(), Failures: p.failures.Load()}
}

// Close destroys every waiting sandbox, stops the refill, and waits for
// the background teardown of the sandboxes that ran. Call it once the
// runs in progress have ended (it does not touch them, and the teardown
// of one that ends later is not waited for).
func (p *Pool) Close() {
	p.mu.Lock()
	p.closed = true
	ready := p.ready
	p.ready = nil
	p.mu.Unlock()
	p.stop()
	p.wg.Wait()
	p.mu.Lock()
	ready = append(ready, p.ready...) // put by a worker in the meantime
	p.ready = nil
	p.mu.Unlock()
	for _, sb := range ready {
		sb.Close()
	}
	p.closing.Wait() // the dead and surplus ones being closed
}

// closeLater closes sb in the background; Close waits for it, so nothing
// of a sandbox (its cgroup, its files) outlives the pool.
func (p *Pool) closeLater(sb moat.Prepared) {
	p.closing.Add(1)
	go func() {
		defer p.closing.Done()
		sb.Close()
	}()
}
