package main

import (
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/internal/idle"
	"github.com/moat-sandbox/moat/internal/pool"
)

// zygotePool is `moat serve --zygote`: a native zygote and the pool of
// its children.
type zygotePool struct {
	z    *native.Zygote
	pool *pool.Pool
}

// startZygote starts a zygote for runs within the server's maxima, with
// a pool of size children refilled by up to size workers (at least 2):
// one always, the others while cores are idle (pool.Spare). Its
// children make the behaviour report (a run may switch it off:
// no_report).
func startZygote(max moat.Limits, size int) (*zygotePool, error) {
	tmpl := moat.Spec{Limits: moat.Limits{Memory: min(max.Memory, moat.DefaultMemory), Pids: min(max.Pids, moat.DefaultPids),
		Disk: min(max.Disk, moat.DefaultDisk), CPUs: max.CPUs}}
	z, err := native.NewZygote(&tmpl)
	if err != nil {
		return nil, err
	}
	p, err := pool.New(z, tmpl, size, refillWorkers(size))
	if err != nil {
		z.Close()
		return nil, err
	}
	p.Spare = new(idle.Meter).Spare
	// A child is made in ~35 ms and runs at a tenth of a cold run's CPU:
	// a run that finds none ready waits a little for the next rather
	// than take a cold sandbox's 140 ms of CPU from the refill.
	p.MissWait = 500 * time.Millisecond
	return &zygotePool{z: z, pool: p}, nil
}

func (zp *zygotePool) close() { zp.pool.Close(); zp.z.Close() }

// refillWorkers is how many workers refill a zygote pool of size: one
// per child, at least two.
func refillWorkers(size int) int { return max(size, 2) }
