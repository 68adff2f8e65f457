package container

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Trace prints the steps of a run with their time since its start to
// stderr when MOAT_TRACE is set ("moat-trace" lines, as the other backends
// print them); otherwise it does nothing. The program's own output never
// goes there: it is captured apart. A nil *Trace does nothing too.
type Trace struct {
	name  string
	start time.Time
	mono  int64 // start on CLOCK_MONOTONIC, the init's clock
	mu    sync.Mutex
}

// NewTrace returns the trace of one run of backend name, or nil when
// MOAT_TRACE is not set.
func NewTrace(name string) *Trace {
	if os.Getenv("MOAT_TRACE") == "" {
		return nil
	}
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return &Trace{name: name, start: time.Now(), mono: ts.Nano()}
}

// Boot prints the init's steps (its T frame: lines of "NS what", NS on
// CLOCK_MONOTONIC, which a container shares with the host) on the run's
// time line. What the init wrote is bounded and cleaned as any text
// from the container.
func (t *Trace) Boot(frame []byte) {
	if t == nil {
		return
	}
	for i, line := range strings.Split(strings.TrimSpace(string(frame)), "\n") {
		ns, what, ok := strings.Cut(line, " ")
		n, err := strconv.ParseInt(ns, 10, 64)
		if !ok || err != nil || i >= 32 {
			break
		}
		t.mu.Lock()
		fmt.Fprintf(os.Stderr, "moat-trace %s %7.2fms init: %s\n", t.name, float64(n-t.mono)/1e6, termsafe.Name(what, 80))
		t.mu.Unlock()
	}
}

// Step records that what has happened now.
func (t *Trace) Step(what string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(os.Stderr, "moat-trace %s %7.2fms %s\n", t.name, float64(time.Since(t.start).Microseconds())/1000, what)
}
