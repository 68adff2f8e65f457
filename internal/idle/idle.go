// Package idle says whether the machine has CPU to spare: the share of
// its cores that were idle over the last moments, from the kernel's
// counters (/proc/stat). A pool's refill asks it before it makes one
// more sandbox beside the runs, so that it uses the cores the runs leave
// idle and does not take the ones they are waiting for.
package idle

import (
	"sync"
	"time"
)

// Window is the least span a Meter's answer is measured over: the
// kernel counts CPU time in ticks (10 ms on most kernels), so a shorter
// span would say little.
const Window = 100 * time.Millisecond

// Meter measures the idle cores. The zero value is ready; it is safe for
// concurrent use.
type Meter struct {
	mu         sync.Mutex
	at         time.Time // when idle, total were read
	idle, tot  uint64    // the counters then
	spare      float64   // idle cores over the last window
	measured   bool
	readCounts func() (idle, total uint64, cores int, ok bool) // for tests; nil: the kernel's
}

// Spare returns how many cores were idle on average over the last
// window (at least Window long, ending now or at most Window ago), 0
// where it cannot tell.
func (m *Meter) Spare() float64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.measured && now.Sub(m.at) < Window {
		return m.spare
	}
	read := m.readCounts
	if read == nil {
		read = counts
	}
	idle, tot, cores, ok := read()
	if !ok {
		return 0
	}
	if !m.at.IsZero() && tot > m.tot && idle >= m.idle {
		m.spare = float64(idle-m.idle) / float64(tot-m.tot) * float64(cores)
		m.measured = true
	}
	m.at, m.idle, m.tot = now, idle, tot
	return m.spare
}
