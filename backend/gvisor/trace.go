package gvisor

import (
	"context"
	"log/slog"
	"time"
)

// tracer logs the steps of a run with their time since its start, at
// debug level through log/slog (the CLI enables it with MOAT_TRACE=1);
// otherwise it does nothing. The program's output never goes there: it is
// captured apart.
type tracer struct {
	on    bool
	start time.Time
}

func newTracer() *tracer {
	return &tracer{on: slog.Default().Enabled(context.Background(), slog.LevelDebug), start: time.Now()}
}

func (t *tracer) step(what string) {
	if t == nil || !t.on {
		return
	}
	slog.Debug("step", "backend", "gvisor", "ms", float64(time.Since(t.start).Microseconds())/1000, "step", what)
}
