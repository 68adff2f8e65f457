package container

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	moatreport "github.com/moat-sandbox/moat/report"
)

// The behaviour report in a container. The init (backend/internal/ctrinit, or bootstrap.py)
// installs internal/observe/audit's hook in HookDir and relays its FIFO as 'a'
// frames while the program runs; it plants the honeytokens in the home
// and walks the writable directories before and after the program, then
// sends both walks ('f') and the first bytes of every changed file ('c').
// moat parses, bounds and diffs all of it here with internal/observe, as
// native does inside its sandbox.
//
// What a container cannot give: kernel-side events. Neither Docker nor
// Podman lets moat hold a seccomp listener for the container, and the
// host's audit or tracing facilities would need privileges and host
// configuration moat does not assume. The layer says so.

// HookDir holds the hook (py/sitecustomize.py) and its FIFO (audit) inside
// the container: on /tmp, the only writable place outside the program's
// own directories, and left out of the diff.
const HookDir = "/tmp/.moat"

// Bounds on what the host takes from the init for the report.
const (
	maxWalkBytes    = 16 << 20
	maxContentTotal = 16 << 20
	maxAuditBytes   = 4 << 20
)

// diffRoots are the directories the init walks.
var diffRoots = []string{WorkDir, HomeDir, "/tmp", "/dev/shm"}

// report is the host side of one run's report.
type report struct {
	plan     *observe.Plan
	audit    *observe.Collector
	walks    bytes.Buffer
	walksEnd bool
	content  map[string][]byte
	ctotal   int64
	dropped  int
	endMS    int64
}

func newReport(spec *moat.Spec, start time.Time) *report {
	if observe.Off() {
		return nil
	}
	return &report{
		plan:    observe.NewPlan(HomeDir, spec.Env),
		audit:   observe.NewCollector(func() int64 { return time.Since(start).Milliseconds() }),
		content: map[string][]byte{},
	}
}

func (r *report) header() *ctrinit.Report {
	return &ctrinit.Report{Dir: HookDir, Hook: audit.Hook, Plant: r.plan.Files, Roots: diffRoots, MaxEntries: observe.MaxFSEntries,
		ScanFile: observe.MaxScanFile, ScanTotal: maxContentTotal, MaxAuditBytes: maxAuditBytes, BudgetS: 1.5}
}

// frame takes one report frame; it reports false for a frame type that
// is not the report's.
func (r *report) frame(t byte, body []byte, at int64) bool {
	switch t {
	case 'a':
		_, _ = r.audit.Write(body)
	case 'f':
		if len(body) == 0 {
			r.walksEnd, r.endMS = true, at
		} else if r.walks.Len()+len(body) <= maxWalkBytes {
			r.walks.Write(body)
		} else {
			r.dropped++
		}
	case 'c':
		i := bytes.IndexByte(body, 0)
		if i <= 0 || r.ctotal+int64(len(body)) > maxContentTotal {
			r.dropped++
			return true
		}
		r.ctotal += int64(len(body) - i - 1)
		r.content[string(body[:i])] = body[i+1:]
	default:
		return false
	}
	return true
}

// events returns every event of the run and the count of those dropped.
func (r *report) events() ([]moat.Event, int) {
	evs := append([]moat.Event(nil), r.plan.Planted...)
	auditEvs, dropped := r.audit.Events()
	evs = append(evs, auditEvs...)
	dropped += r.dropped
	var w struct{ Before, After [][]json.RawMessage }
	if !r.walksEnd || json.Unmarshal(r.walks.Bytes(), &w) != nil {
		evs = append(evs, moat.Event{Source: "moat", Kind: "fs-diff-unavailable", TimeMS: r.endMS,
			Detail: "the container ended before the init sent its walk of the writable directories"})
		return evs, dropped
	}
	d := observe.Differ{Tokens: r.plan.Tokens, Planted: r.plan.Files, Deadline: time.Now().Add(2 * time.Second), At: r.endMS,
		Read: func(p string, n int64) ([]byte, error) {
			b, ok := r.content[p]
			if !ok {
				return nil, errNotSent
			}
			return b[:min(int64(len(b)), n)], nil
		}}
	fsEvs, fsDropped := d.Diff(snapshot(w.Before), snapshot(w.After))
	return append(evs, fsEvs...), dropped + fsDropped
}

type errString string

func (e errString) Error() string { return string(e) }

const errNotSent = errString("content not sent")

// snapshot decodes the init's walk: [path, size, mode, ino, ctime].
func snapshot(entries [][]json.RawMessage) observe.Snapshot {
	m := observe.Snapshot{}
	for _, e := range entries {
		if len(e) != 5 || len(m) >= observe.MaxFSEntries {
			continue
		}
		var p string
		var size, ctime int64
		var mode uint32
		var ino uint64
		if json.Unmarshal(e[0], &p) != nil || json.Unmarshal(e[1], &size) != nil || json.Unmarshal(e[2], &mode) != nil ||
			json.Unmarshal(e[3], &ino) != nil || json.Unmarshal(e[4], &ctime) != nil {
			continue
		}
		m[p] = observe.FileState{Size: size, Mode: observe.UnixMode(mode), Ino: ino, Ctime: ctime}
	}
	return m
}

// reportLayer describes the report of a container run.
func reportLayer() moat.Layer {
	if observe.Off() {
		return moat.Layer{Name: "behaviour-report", Detail: "off (Spec.NoReport: --no-report)"}
	}
	return moat.Layer{Name: "behaviour-report", Detail: "Python audit hook (" + HookDir + "/py, owned by the sandbox user: its events are the program's claims), " +
		"honeytokens in the home, diff of /work, the home, /tmp and /dev/shm by the container init; " +
		"no kernel-side events: neither engine gives moat a seccomp listener or a syscall trace of the container"}
}

// Report fills res.Events, EventsDropped and Findings (always a list).
// Call it once the run is over (Receive has returned).
func (s *Session) Report(res *moat.Result) {
	s.endOnce.Do(func() { close(s.ended) })
	if s.rep == nil {
		moatreport.Finish(res, nil, 0, s.lim)
		return
	}
	evs, dropped := s.rep.events()
	moatreport.Finish(res, evs, dropped, s.lim)
}
