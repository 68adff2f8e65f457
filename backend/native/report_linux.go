package native

import (
	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
	"github.com/moat-sandbox/moat/report"
)

// eventsOff reports whether the behaviour report is switched off.
func eventsOff() bool { return observe.Off() }

// prepareReport makes this run's honeytokens and tells the init to plant
// them, to install the audit hook and to serve seccomp notifications.
func (r *runner) prepareReport(cfg *nsinit.Config, startMono int64) {
	if eventsOff() {
		return
	}
	plan := observe.NewPlan(nsinit.HomeDir, r.spec.Env)
	cfg.Report = &nsinit.ReportConfig{StartMono: startMono, Files: plan.Files, Tokens: plan.Tokens}
	if bc, err := audit.Compile(r.rt.Executable, cacheDir()); err == nil {
		cfg.Report.Bytecode = bc
	}
	cfg.Env = observe.WithHookPath(append(cfg.Env, plan.Env...), audit.Dir)
	r.events = append(r.events, plan.Planted...)
}

// addEvents takes one "events" message of the init.
func (r *runner) addEvents(m *nsinit.Message) {
	r.events = append(r.events, m.Events...)
	r.eventsDropped += m.EventsDropped
}

// finishReport draws the findings and fills Result.Events and Findings.
// Every native run gets a Findings list, empty when nothing was found.
func (r *runner) finishReport(res *moat.Result, err error) (*moat.Result, error) {
	if res == nil {
		return res, err
	}
	if eventsOff() {
		report.Finish(res, nil, 0, r.lim)
		return res, err
	}
	r.notifyWG.Wait()
	if r.notifyErr != nil && res.Status == moat.StatusError && res.Error == "" {
		res.Error = r.notifyErr.Error()
	}
	report.Finish(res, append(append([]moat.Event{}, r.events...), r.kernelEvents...), r.eventsDropped, r.lim)
	return res, err
}
