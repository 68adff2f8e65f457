package container

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Trace logs the steps of a run with their time since its start, at debug
// level through log/slog (the CLI enables it with MOAT_TRACE=1, as for the
// other backends); otherwise it does nothing. The program's own output never
// goes there: it is captured apart. A nil *Trace does nothing too.
type Trace struct {
	name  string
	start time.Time
	mono  int64 // start on CLOCK_MONOTONIC, the init's clock
}

// NewTrace returns the trace of one run of backend name, or nil when
// debug records are not wanted.
func NewTrace(name string) *Trace {
	if !slog.Default().Enabled(context.Background(), slog.LevelDebug) {
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
		slog.Debug("step", "backend", t.name, "ms", float64(n-t.mono)/1e6, "step", "init: "+termsafe.Name(what, 80))
	}
}

// Step records that what has happened now.
func (t *Trace) Step(what string) {
	if t == nil {
		return
	}
	slog.Debug("step", "backend", t.name, "ms", float64(time.Since(t.start).Microseconds())/1000, "step", what)
}
