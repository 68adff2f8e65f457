package microvm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
	moatreport "github.com/moat-sandbox/moat/report"
)

// The behaviour report, host side. moat makes the run's honeytokens
// (observe.Plan) and sends them with the job; the agent plants them,
// installs the hook, walks and diffs in the guest (report_guest_linux.go)
// and sends its events after the exit frame. What comes back is the
// guest's word: a program that took over the guest kernel could forge or
// withhold any of it. moat bounds it (maxReportBytes, maxGuestEvents),
// cleans every string, drops the kinds only moat itself may say
// (honeytoken-planted, identity, interpreter), and calls a report that never ended
// cut, in the report itself.

// Bounds on what the host takes of the guest's report.
const (
	maxReportBytes = 16 << 20
	maxGuestEvents = observe.MaxAuditEvents + observe.MaxFSEvents + kbudget.MaxEvents + egress.MaxEvents + 64
	// maxPycJSON bounds the suspect bytecode the guest sends (framePycs):
	// the diff's bounds in base64, and room for each pair's paths.
	maxPycJSON = (observe.MaxPycBytes/3+observe.MaxPycPairs*2)*4 + observe.MaxPycPairs*(64<<10)
)

// hostReport is one run's report on the host; nil with Spec.NoReport.
type hostReport struct {
	plan     *observe.Plan
	offsetMS int64 // the guest's zero (its taking of the job) in the run's time
	events   []moat.Event
	dropped  int
	bytes    int
	ended    bool
	cut      string // why the guest's report is not whole
	// metadata is what the sinkhole serves at the instance metadata
	// address: fake credentials of the plan; nil without a sinkhole.
	metadata *honeytoken.Metadata
	// pycJSON is the suspect bytecode as the guest sent it (framePycs),
	// pycCut says it passed maxPycJSON; pycs are its pairs once read, at
	// the report's end.
	pycJSON []byte
	pycCut  bool
	pycs    []observe.PycPair
}

// tcgBudget multiplies observe.FSBudget for the guest's walks and
// reads under TCG (GuestReport.BudgetMS).
const tcgBudget = 8

// newReport makes the tokens and the job's report, and returns the
// extra environment of the program (the tokens' variables, and the hook's
// PYTHONPATH where the runtime image does not run it from a site
// directory).
func (r *runner) newReport(env []string) ([]string, *GuestReport) {
	if r.spec.NoReport {
		return env, nil
	}
	r.rep = &hostReport{plan: observe.NewPlanFor(r.spec.PersonaKey, r.persona.Home, r.spec.Env)}
	r.rep.plan.Identity(r.persona.Host, r.persona.User, r.persona.Home, guestWork, r.spec.Env)
	if r.spec.Network == moat.NetworkSinkhole {
		r.rep.metadata = r.rep.plan.ServeMetadata() // before the tokens go to the guest
	}
	gr := &GuestReport{Files: r.rep.plan.Files, Tokens: r.rep.plan.Tokens, Tools: r.tools}
	if r.h.accel == "tcg" {
		// The guest's walks and reads take many times the host's time
		// under emulation: the same work gets a budget to match.
		gr.BudgetMS = (tcgBudget * observe.FSBudget).Milliseconds()
	}
	env = append(env, r.rep.plan.Env...)
	if r.spec.Image == "" && hookSite(r.rt) != "" {
		// The runtime image runs the hook from a site directory's .pth
		// line (writeHook): nothing goes on PYTHONPATH.
		gr.HookInSite, gr.Site = true, hookSite(r.rt)
		return env, gr
	}
	if r.spec.Image == "" { // the image's interpreter compiles the hook itself
		if bc, err := audit.Compile(r.rt.Executable, local.CacheDir()); err == nil {
			gr.Bytecode = bc
		}
	} else if py := r.tools + "/py"; audit.PlainSite(py) {
		gr.Python, gr.StartupLoader = r.rt.Executable, audit.StartupLoaderEnv(py)
	}
	return observe.WithHookPath(env, r.tools+"/py"), gr
}

// take is one 'V' frame: a JSON array of events.
func (h *hostReport) take(p []byte) error {
	if h.ended {
		return fmt.Errorf("report events after the report's end: %w", errFrame)
	}
	h.bytes += len(p)
	if h.bytes > maxReportBytes {
		h.cut = fmt.Sprintf("the guest's report passed the host's cap of %d bytes", maxReportBytes)
		h.dropped++
		return nil
	}
	var evs []moat.Event
	if err := json.Unmarshal(p, &evs); err != nil {
		return fmt.Errorf("report events: %w", errFrame)
	}
	for _, e := range evs {
		if len(h.events) >= maxGuestEvents {
			h.dropped++
			continue
		}
		if e.Source == moat.SourceMoat && (e.Kind == moat.KindHoneytokenPlanted || e.Kind == moat.KindIdentity || e.Kind == moat.KindInterpreter) {
			h.cut = "the guest's report claimed what only moat says (" + string(e.Kind) + ")"
			continue
		}
		h.events = append(h.events, cleanEvent(e, h.offsetMS))
	}
	return nil
}

// takePycs is one framePycs frame: a piece of the guest's suspect
// bytecode. Past maxPycJSON none of it is kept (none of it is verified).
func (h *hostReport) takePycs(p []byte) error {
	if h.ended {
		return fmt.Errorf("bytecode after the report's end: %w", errFrame)
	}
	if h.pycCut || len(h.pycJSON)+len(p) > maxPycJSON {
		h.pycCut, h.pycJSON = true, nil
		return nil
	}
	h.pycJSON = append(h.pycJSON, p...)
	return nil
}

// guestPycs reads the suspect bytecode the guest sent (untrusted): the
// pairs within the diff's bounds (observe.MaxPycPairs, MaxPycFile each,
// MaxPycBytes in all), their paths cleaned as the events' are; nil for
// anything malformed. The bytes themselves are never unmarshalled on the
// host: they go to the verification's fresh guest (VerifyBytecode).
func guestPycs(b []byte) []observe.PycPair {
	var in []observe.PycPair
	if len(b) == 0 || json.Unmarshal(b, &in) != nil {
		return nil
	}
	var out []observe.PycPair
	total := 0
	for _, p := range in {
		if len(out) >= observe.MaxPycPairs {
			break
		}
		n := len(p.Pyc) + len(p.Source)
		if len(p.Pyc) > observe.MaxPycFile || len(p.Source) > observe.MaxPycFile || total+n > observe.MaxPycBytes {
			continue
		}
		total += n
		out = append(out, observe.PycPair{Path: audit.CleanPath(p.Path, audit.MaxPath), SourcePath: audit.CleanPath(p.SourcePath, audit.MaxPath),
			Opt: min(max(p.Opt, 0), 2), Pyc: p.Pyc, Source: p.Source})
	}
	return out
}

// end is the 'v' frame.
func (h *hostReport) end(p []byte) error {
	if h.ended {
		return fmt.Errorf("a second end of the report: %w", errFrame)
	}
	var e EventsEnd
	if err := json.Unmarshal(p, &e); err != nil {
		return fmt.Errorf("report end: %w", errFrame)
	}
	h.ended = true
	h.dropped += min(max(e.Dropped, 0), 1<<30)
	h.pycs, h.pycJSON = guestPycs(h.pycJSON), nil
	return nil
}

// cleanEvent bounds and escapes every string of an event from the guest,
// and moves its time to the run's.
func cleanEvent(e moat.Event, offsetMS int64) moat.Event {
	return moat.Event{
		TimeMS:       min(max(e.TimeMS, 0), 1<<40) + offsetMS,
		Source:       moat.Source(audit.Clean(string(e.Source), 32)),
		Kind:         moat.Kind(audit.Clean(string(e.Kind), 64)),
		PID:          min(max(e.PID, 0), 1<<22),
		PPID:         min(max(e.PPID, 0), 1<<22),
		Ancestors:    audit.Clean(e.Ancestors, 200),
		Path:         audit.CleanPath(e.Path, audit.MaxPath),
		Addr:         audit.Clean(e.Addr, 300),
		Name:         audit.Clean(e.Name, 500),
		Detail:       audit.Clean(e.Detail, 2000),
		Data:         audit.Clean(e.Data, 4096),
		SHA256:       audit.Clean(e.SHA256, 64),
		Script:       audit.Clean(e.Script, 300),
		ScriptSHA256: audit.Clean(e.ScriptSHA256, 64),
		Stdio:        audit.Clean(e.Stdio, 16),
		Line:         min(max(e.Line, 0), 1<<30),
	}
}

// finishReport fills the Result's events and findings; every run gets a
// Findings list. exited says the guest sent its exit frame.
func (r *runner) finishReport(res *moat.Result, exited bool) {
	h := r.rep
	if res == nil {
		return
	}
	if h == nil {
		moatreport.Finish(res, nil, 0, r.lim)
		return
	}
	evs := append([]moat.Event(nil), h.plan.Planted...)
	evs = append(evs, h.events...)
	at := res.DurationMS
	switch {
	case h.cut != "":
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindReportCut, TimeMS: at, Detail: h.cut})
	case exited && !h.ended:
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindReportCut, TimeMS: at,
			Detail: "the guest ended before the end of its behaviour report: what it did not send is not seen"})
	case !exited:
		// The timeout, the output cap, a cancel or a lost guest killed
		// the VM, and the guest's report with it.
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindReportCut, TimeMS: at,
			Detail: "the VM was stopped before the program's end (" + string(res.Status) + "): the guest's behaviour report died with it"})
	}
	sum := r.imageSum
	if r.spec.Image == "" {
		sum = fileSHA256(r.rt.Executable)
	}
	if sum != "" {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindInterpreter, Path: r.rt.Executable, SHA256: sum})
	}
	// The guest sends the suspect .pyc files and their sources (within
	// the diff's bounds): each is verified in a fresh guest of the run's
	// runtime or image; a verdict the guest put on one is dropped.
	verify := r.verify
	switch {
	case res.Status == moat.StatusCanceled:
		verify = moatreport.Unverified("the run was canceled")
	case verify == nil:
		verify = moatreport.Unverified("this backend does not run the verification")
	}
	pycs := h.pycs
	if !h.ended {
		pycs = nil // a report cut short: none of it is believed whole
	}
	evs = moatreport.VerifyBytecode(evs, pycs, verify)
	if r.spec.Launcher {
		moatreport.Launched(evs)
	}
	moatreport.Finish(res, evs, h.dropped, r.lim)
}

// reportLayer says what the report of this run is made of.
func (r *runner) reportLayer() moat.Layer {
	if r.spec.NoReport {
		return moat.Layer{Name: "behaviour-report", Detail: "off (Spec.NoReport: --no-report)"}
	}
	where := "in the runtime image's site directory"
	if r.spec.Image != "" || hookSite(r.rt) == "" {
		where = "at " + r.tools + "/py"
	}
	return moat.Layer{Name: "behaviour-report", Detail: "made in the guest by moat's agent: the Python audit hook read-only " + where +
		" (its events are the program's claims); kernel: seccomp notifications of the guest kernel (execs, connections, denied calls), served by the agent; " +
		"honeytokens in the home, their reads witnessed by the guest kernel's access and change times; " +
		"diff of /work, the home, /tmp and /dev/shm; sent over the channel, bounded, and believed no more than the guest"}
}

// fileSHA256 is the hash of a regular host file of at most 256 MiB, ""
// where it cannot be had.
func fileSHA256(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > 256<<20 {
		return ""
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}
