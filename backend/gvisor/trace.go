package gvisor

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// tracer prints the steps of a run with their time since its start to
// stderr when MOAT_TRACE is set (moat-trace lines, as native prints them);
// otherwise it does nothing. The program's output never goes there: it is
// captured apart.
type tracer struct {
	on    bool
	start time.Time
	mu    sync.Mutex
}

func newTracer() *tracer {
	return &tracer{on: os.Getenv("MOAT_TRACE") != "", start: time.Now()}
}

func (t *tracer) step(what string) {
	if t == nil || !t.on {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(os.Stderr, "moat-trace gvisor %7.2fms %s\n", float64(time.Since(t.start).Microseconds())/1000, what)
}
