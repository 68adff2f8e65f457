package native

import (
	"context"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
	"github.com/moat-sandbox/moat/report"
)

// prepareReport makes this run's honeytokens and tells the init to plant
// them, to install the audit hook and to serve seccomp notifications.
func (r *runner) prepareReport(cfg *nsinit.Config, startMono int64) {
	if r.spec.NoReport {
		return
	}
	plan := observe.NewPlanFor(r.spec.PersonaKey, cfg.Persona.Home, r.spec.Env)
	plan.Identity(cfg.Persona.Host, cfg.Persona.User, cfg.Persona.Home, nsinit.WorkDir, r.spec.Env)
	if r.spec.Network == moat.NetworkSinkhole {
		r.metadata = plan.ServeMetadata() // before the tokens go to the init
	}
	cfg.Report = &nsinit.ReportConfig{StartMono: startMono, Files: plan.Files, Tokens: plan.Tokens, HookRoot: r.hookRoot, Site: r.rt.HookSite()}
	if bc, err := audit.Compile(r.rt.Executable, local.CacheDir()); err == nil {
		cfg.Report.Bytecode = bc
	}
	if site := cfg.Report.Site; site != "" {
		if st, err := audit.CompileStartup(r.rt.Executable, site, local.CacheDir()); err == nil {
			cfg.Report.Startup = st
		}
	}
	r.planEnv = plan.Env // with the hook's path, in startMessage
	r.events = append(r.events, plan.Planted...)
}

// addEvents takes one "events" message of the init.
func (r *runner) addEvents(m *nsinit.Message) {
	r.sawEvents = true
	r.events = append(r.events, m.Events...)
	r.eventsDropped += m.EventsDropped
}

// addPyc takes one "pyc" message of the init: a suspect .pyc and its
// source, kept within the diff's own bounds (what is past them is not
// verified, and its finding stays high).
func (r *runner) addPyc(p *observe.PycPair) {
	if p == nil || len(r.pycs) >= observe.MaxPycPairs || len(p.Pyc) > observe.MaxPycFile || len(p.Source) > observe.MaxPycFile ||
		r.pycBytes+int64(len(p.Pyc)+len(p.Source)) > observe.MaxPycBytes {
		return
	}
	r.pycBytes += int64(len(p.Pyc) + len(p.Source))
	r.pycs = append(r.pycs, *p)
}

// verifyRun runs the bytecode verification (report.VerifyBytecode) in a
// fresh native sandbox of the run's interpreter, cold (never a pool's or
// zygote's: nothing of the run's sandbox is reused).
func (r *runner) verifyRun(ctx context.Context, s *moat.Spec) (*moat.Result, error) {
	s.Python = r.spec.Python
	return run(ctx, s)
}

// finishReport draws the findings and fills Result.Events and Findings.
// Every native run gets a Findings list, empty when nothing was found.
func (r *runner) finishReport(res *moat.Result, err error) (*moat.Result, error) {
	if res == nil {
		return res, err
	}
	if r.spec.NoReport {
		res.Layers = append(res.Layers, moat.Layer{Name: "behaviour-report", Detail: "off (Spec.NoReport: --no-report)"})
		report.Finish(res, nil, 0, r.lim)
		return res, err
	}
	res.Layers = append(res.Layers, moat.Layer{Name: "behaviour-report", Detail: "kernel: seccomp notifications from the init's listener (where the kernel has them); " +
		"the Python audit hook (its events are the program's claims); network sink events; fs diff of the writable space; honeytokens"})
	r.notifyWG.Wait()
	if r.notifyErr != nil && res.Status == moat.StatusError && res.Error == "" {
		res.Error = r.notifyErr.Error()
	}
	evs := append(append([]moat.Event{}, r.events...), r.kernelEvents...)
	dropped := r.eventsDropped
	if !r.sawEvents {
		// The init is in the run's cgroup: at the memory limit the
		// kernel's OOM killer takes the largest process, and a program
		// that keeps its own small (its data in tmpfs files, which
		// belong to no process) makes that the init, whose report dies
		// with it.
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindReportCut, TimeMS: res.DurationMS,
			Detail: "the sandbox's init ended before it sent its report: the audit hook's events, the diff of the writable space and the witness of the planted files are lost"})
	}
	if ev, n, ok := r.kernelBudget.Event("kernel events"); ok {
		ev.TimeMS = res.DurationMS
		evs = append(evs, ev)
		dropped += n
	}
	// The runtime's real interpreter: an exec event is the interpreter
	// only if it ran this file (by hash), whatever its name.
	if sum, herr := hostFileHash(r.rt.Executable); herr == nil {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindInterpreter, Path: r.rt.Executable, SHA256: sum})
	}
	verify := report.RunFunc(r.verifyRun)
	if res.Status == moat.StatusCanceled {
		verify = report.Unverified("the run was canceled")
	}
	evs = report.VerifyBytecode(evs, r.pycs, verify)
	report.Finish(res, evs, dropped, r.lim)
	return res, err
}
