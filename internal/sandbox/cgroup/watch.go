package cgroup

import "time"

// Breach is a limit the group went past.
type Breach int

// Breaches Watch reports.
const (
	BreachMemory Breach = iota + 1 // the OOM killer killed in the group
	BreachPids                     // a fork failed on pids.max
)

// pollEvery is how often a group whose kernel gives no notice of a breach
// is read (v1's pids.events, or where the notices cannot be armed).
const pollEvery = 20 * time.Millisecond

// Watch calls onBreach once, at the group's first breach, and returns;
// or returns when done is closed. The kernel kills on a memory breach,
// but on pids it only fails forks; a sandbox must end the run with the
// breach's own status either way, so it watches.
//
// It waits for the kernel's notices where there are some: on v2 an
// inotify watch of memory.events and pids.events (the kernel marks them
// modified on every event), on v1 an eventfd on memory.oom_control
// (cgroup.event_control). v1's pids.events gives no notice: it is read
// every 20ms, alone, from a descriptor kept open. Each notice is checked
// against the counters, so a notice of something else (a reclaim at
// memory.max) is no breach. Where the notices cannot be armed, the
// counters are read every 20ms.
func Watch(g Group, done <-chan struct{}, onBreach func(Breach)) {
	if w, ok := g.(watcher); ok {
		w.watch(done, onBreach)
		return
	}
	poll(g.Stats, done, onBreach)
}

// watcher is a Group that watches for breaches itself.
type watcher interface {
	watch(done <-chan struct{}, onBreach func(Breach))
}

// poll reads the counters every pollEvery until a breach or done.
func poll(read func() (Stats, error), done <-chan struct{}, onBreach func(Breach)) {
	t := time.NewTicker(pollEvery)
	defer t.Stop()
	wait(read, t.C, nil, done, onBreach)
}

// wait checks the counters at once and at every wake, until a breach
// (onBreach is then called), done, or stop; it says whether stop ended it.
func wait[T any](read func() (Stats, error), wake <-chan T, stop, done <-chan struct{}, onBreach func(Breach)) (stopped bool) {
	for {
		if b := breach(read); b != 0 {
			onBreach(b)
			return false
		}
		select {
		case <-done:
			return false
		case <-wake:
		case <-stop:
			return true
		}
	}
}

// breach reads the counters and says which limit was breached, if any.
func breach(read func() (Stats, error)) Breach {
	s, err := read()
	switch {
	case err != nil:
		return 0
	case s.OOMKills != 0:
		return BreachMemory
	case s.PidsMaxHits > 0:
		return BreachPids
	}
	return 0
}
