package container

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/moat-sandbox/moat"
)

// An image's hook in every interpreter rests on two things learnt by
// runs of it (HookSite, then HookStartup): its site directory (the first
// run's init lists them) and its encodings package with the loader of
// the hook in that directory (compiled by the next run's init, as the
// loader names the directory). Only a run whose container is made after
// both carries the package bound over the image's. So that a user's
// first runs of an image are hooked as the later ones, a run of an
// image not learnt yet first makes learning runs of its own (Learn):
// each is a run like any other (the same hardening, the same init, no
// network), of a program that does nothing, before the user's container
// is made. Their results are dropped: a learning run that fails leaves
// the image unlearnt, and the user's run as it was before (its -S
// interpreters without the hook, each a finding).

// learnRuns bounds the learning runs before one run: the site, then the
// package.
const learnRuns = 2

// learnTimeout bounds one learning run (a cold start of the image's
// python3 on a loaded host).
const learnTimeout = 2 * time.Minute

type learningKey struct{}

// learnMu makes runs of one process that start together (a batch, a
// pool) wait for one learner instead of each making learning runs.
var learnMu sync.Mutex

// Learning reports whether ctx is a learning run's: it must not learn
// in turn.
func Learning(ctx context.Context) bool { return ctx.Value(learningKey{}) != nil }

// Unlearnt reports whether the image imageID on engine still lacks what a
// run needs to have the hook in every interpreter: its site directory
// (none known, not even that it has none), or, with one, its startup
// package (none known, not even that its compile failed).
func Unlearnt(engine, imageID string) bool {
	if imageID == "" || stampDir() == "" {
		return false
	}
	s := NewHookSite(engine, imageID)
	if s.probe {
		return true
	}
	if s.Dir == "" {
		return false
	}
	st := NewHookStartup(engine, imageID, s.Dir)
	if st.entry == "" || st.st != nil {
		return false
	}
	_, err := os.Stat(st.entry)
	return err != nil
}

// Learn makes learning runs of the image imageID on engine with run (the
// backend's own Run) until it is learnt, at most learnRuns of them. It
// does nothing in a learning run, or when the image is learnt.
func Learn(ctx context.Context, engine, imageID string, run func(context.Context, *moat.Spec) (*moat.Result, error)) {
	if Learning(ctx) {
		return
	}
	if !Unlearnt(engine, imageID) {
		return
	}
	learnMu.Lock()
	defer learnMu.Unlock()
	ctx = context.WithValue(ctx, learningKey{}, true)
	for range learnRuns {
		if ctx.Err() != nil || !Unlearnt(engine, imageID) {
			return
		}
		spec := &moat.Spec{Image: imageID, Args: []string{"-c", "pass"}, Limits: moat.Limits{Timeout: learnTimeout}}
		if _, err := run(ctx, spec); err != nil {
			return
		}
	}
}
