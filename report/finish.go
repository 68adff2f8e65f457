package report

import (
	"sort"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
)

// Finish draws the findings from evs and fills res.Events, EventsDropped
// and Findings. Every run gets a Findings list, empty when nothing was
// found or when the report is off (evs nil).
func Finish(res *moat.Result, evs []moat.Event, dropped int, lim moat.Limits) {
	if res == nil {
		return
	}
	res.Findings = []moat.Finding{}
	if evs == nil {
		return
	}
	switch res.Status {
	case moat.StatusTimeout, moat.StatusMemory, moat.StatusPids, moat.StatusOutputLimit:
		evs = append(evs, moat.Event{TimeMS: res.DurationMS, Source: "moat", Kind: "limit", Name: string(res.Status),
			Detail: limitDetail(res, lim)})
	}
	if dropped > 0 {
		evs = append(evs, moat.Event{TimeMS: res.DurationMS, Source: moat.SourceMoat, Kind: moat.KindEvents, Name: "all",
			Detail: strconv.Itoa(dropped) + " events over their budgets were counted and not kept"})
	}
	evs = append(evs, OutputEvents(evs, res.Stdout, res.Stderr, res.DurationMS)...)
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].TimeMS < evs[j].TimeMS })
	res.Layers = append(res.Layers, witnessLayer(evs))
	res.Findings = Analyze(evs)
	res.EventsDropped = dropped
	if len(evs) > observe.MaxResultEvents {
		res.EventsDropped += len(evs) - observe.MaxResultEvents
		evs = cutKeepingWitness(evs, observe.MaxResultEvents)
	}
	res.Events = evs
}

// cutKeepingWitness keeps the first n of evs (in time order), the test
// runner's records of outcomes (moat.KindTestReport, at most
// observe.WitnessReserve) among them whatever their time: pkgtest reads
// their absence as the witness removed, and the last of them comes at
// the end of the run.
func cutKeepingWitness(evs []moat.Event, n int) []moat.Event {
	var wit, rest []moat.Event
	for _, e := range evs {
		if e.Kind == moat.KindTestReport && len(wit) < observe.WitnessReserve {
			wit = append(wit, e)
		} else {
			rest = append(rest, e)
		}
	}
	rest = rest[:max(0, min(len(rest), n-len(wit)))]
	out := append(rest, wit...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].TimeMS < out[j].TimeMS })
	return out
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

// witnessLayer says what witnesses reads of the planted files: the
// kernel (observe.Witness), or, where the backend has no witness or it
// could not be armed, the audit hook alone.
func witnessLayer(evs []moat.Event) moat.Layer {
	why := "no kernel-side witness on this backend"
	for _, e := range evs {
		if e.Source == moat.SourceMoat && e.Kind == moat.KindHoneytokenWitness {
			if rest, on := strings.CutPrefix(e.Detail, "on: "); on {
				return moat.Layer{Name: "honeytoken-witness", Detail: "kernel: " + rest}
			}
			why = strings.TrimPrefix(e.Detail, "off: ")
		}
	}
	return moat.Layer{Name: "honeytoken-witness", Detail: "off (" + why + "): reads of the planted files rest on the audit hook alone"}
}
