package cgroup

import "time"

// Breach is a limit the group went past.
type Breach int

// Breaches Watch reports.
const (
	BreachMemory Breach = iota + 1 // the OOM killer killed in the group
	BreachPids                     // a fork failed on pids.max
)

// Watch polls g's counters every 20ms until done is closed, and calls
// onBreach once, at the first breach, then returns. The kernel kills on a
// memory breach, but on pids it only fails forks; a sandbox must end the
// run with the breach's own status either way, so it watches.
func Watch(g Group, done <-chan struct{}, onBreach func(Breach)) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		s, err := g.Stats()
		if err != nil {
			continue
		}
		switch {
		case s.OOMKills != 0:
			onBreach(BreachMemory)
			return
		case s.PidsMaxHits > 0:
			onBreach(BreachPids)
			return
		}
	}
}
