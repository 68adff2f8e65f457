package native

import (
	"os"
	"sort"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/audit"
	"github.com/moat-sandbox/moat/internal/honeytoken"
	"github.com/moat-sandbox/moat/report"
)

// maxResultEvents bounds Result.Events; the rest is counted in
// EventsDropped. Findings are drawn from all events the init sent.
const maxResultEvents = 3000

// eventsOff reports whether the behaviour report is switched off, for
// measuring its cost: MOAT_EVENTS=off. Findings are then always empty.
func eventsOff() bool { return os.Getenv("MOAT_EVENTS") == "off" }

// prepareReport makes this run's honeytokens and tells the init to plant
// them, to install the audit hook and to serve seccomp notifications.
func (r *runner) prepareReport(cfg *initConfig, startMono int64) {
	if eventsOff() {
		return
	}
	set := honeytoken.New(homeDir)
	cfg.Report = &reportConfig{StartMono: startMono, Files: set.Files, Tokens: set.Tokens}
	// A variable the caller set keeps its value: no honeytoken there.
	given := map[string]bool{}
	for _, kv := range r.spec.Env {
		k, _, _ := strings.Cut(kv, "=")
		given[k] = true
	}
	for _, kv := range set.Env {
		k, _, _ := strings.Cut(kv, "=")
		if !given[k] {
			cfg.Env = append(cfg.Env, kv)
		}
	}
	tokens := set.Tokens[:0]
	for _, t := range set.Tokens {
		if t.Env == "" || !given[t.Env] {
			tokens = append(tokens, t)
		}
	}
	set.Tokens = tokens
	cfg.Report.Tokens = tokens
	// The hook first on PYTHONPATH, before any path the caller gave.
	pp := audit.Dir
	for _, kv := range cfg.Env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok && v != "" {
			pp = audit.Dir + ":" + v
		}
	}
	cfg.Env = append(cfg.Env, "PYTHONPATH="+pp)
	for _, t := range set.Tokens {
		where := t.Path
		if t.Env != "" {
			where = "$" + t.Env
		}
		r.events = append(r.events, moat.Event{Source: "moat", Kind: "honeytoken-planted", Path: where, Name: t.ID, Data: t.Value,
			Detail: "fake secret planted by moat"})
	}
}

// addEvents takes one "events" message of the init.
func (r *runner) addEvents(m *message) {
	r.events = append(r.events, m.Events...)
	r.eventsDropped += m.EventsDropped
}

// finishReport draws the findings and fills Result.Events and Findings.
// Every native run gets a Findings list, empty when nothing was found.
func (r *runner) finishReport(res *moat.Result, err error) (*moat.Result, error) {
	if res == nil {
		return res, err
	}
	res.Findings = []moat.Finding{}
	if eventsOff() {
		return res, err
	}
	r.notifyWG.Wait()
	if r.notifyErr != nil && res.Status == moat.StatusError && res.Error == "" {
		res.Error = r.notifyErr.Error()
	}
	evs := append(r.events, r.kernelEvents...)
	switch res.Status {
	case moat.StatusTimeout, moat.StatusMemory, moat.StatusPids, moat.StatusOutputLimit:
		evs = append(evs, moat.Event{TimeMS: res.DurationMS, Source: "moat", Kind: "limit", Name: string(res.Status),
			Detail: limitDetail(res, r.lim)})
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TimeMS < evs[j].TimeMS })
	res.Findings = report.Analyze(evs)
	res.EventsDropped = r.eventsDropped
	if len(evs) > maxResultEvents {
		res.EventsDropped += len(evs) - maxResultEvents
		evs = evs[:maxResultEvents]
	}
	res.Events = evs
	return res, err
}

func limitDetail(res *moat.Result, l moat.Limits) string {
	switch res.Status {
	case moat.StatusTimeout:
		return "ran until the wall-clock limit of " + l.Timeout.String()
	case moat.StatusMemory:
		return "memory limit reached"
	case moat.StatusPids:
		return "process limit reached"
	}
	return "output limit reached"
}
