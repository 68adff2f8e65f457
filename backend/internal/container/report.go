package container

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/observe/kbudget"
	"github.com/moat-sandbox/moat/internal/observe/xattr"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp"
	"github.com/moat-sandbox/moat/internal/sandbox/seccomp/procmem"
	"github.com/moat-sandbox/moat/internal/sandbox/survivors"
	moatreport "github.com/moat-sandbox/moat/report"
)

// The behaviour report in a container. The init (backend/internal/ctrinit, or bootstrap.py)
// installs internal/observe/audit's hook in the hook's directory and relays its FIFO as 'a'
// frames while the program runs; it plants the honeytokens in the home
// and walks the writable directories before and after the program, then
// sends both walks ('f') and the first bytes of every changed file ('c').
// moat parses, bounds and diffs all of it here with internal/observe, as
// native does inside its sandbox.
//
// The hook runs from a site directory of the image where one is known
// (HookSite), else from the hook's directory on PYTHONPATH.
//
// Kernel-side events: neither Docker nor Podman lets moat hold a seccomp
// listener for the container, so moat's init installs one of its own on
// top of the engine's profile (ctrinit's execs_linux.go) and sends every
// execve and connect it sees ('k' frames, execFrame). An errno of the
// engine's profile wins over any listener, so every call of native's deny
// list goes through the profile (GuardedProfile) to the init's guard,
// which checks the same arguments, refuses what the profile refused with
// its errno and reports each (a socket of a refused family as kind
// "socket", as native does). Under gVisor (--image) the
// Sentry refuses the listener, the profile is the unguarded one, and a
// kernel-events-unavailable event says so.

// The hook's directory (Persona.HookDir) holds the hook
// (py/sitecustomize.py) and its FIFO (audit) inside the container: on
// /tmp, the only writable place outside the program's own directories,
// under a name of Python's tempfile shape, new each run. The init runs as
// the program's uid, so it cannot make them the program's to read only;
// instead both walks take the directory first, as a root of its own, and
// any change to it (an entry removed, renamed, added or replaced; the
// FIFO's times move with every write, so only its identity counts) is an
// evasion finding: a renamed FIFO silences the hook of every process
// started after.

// Bounds on what the host takes from the init for the report.
const (
	maxWalkBytes  = 64 << 20 // two walks of some 300,000 entries each (observe.MaxFSEntries)
	maxAuditBytes = 4 << 20
)

// diffRoots are the directories the init walks, the hook's first.
func (r *report) diffRoots() []string {
	if r.site != "" {
		return []string{r.dir, r.site, r.work, r.home, "/tmp", "/dev/shm"}
	}
	return []string{r.dir, r.work, r.home, "/tmp", "/dev/shm"}
}

// report is the host side of one run's report.
type report struct {
	pycs        []observe.PycPair // the diff's suspect bytecode, for its verification
	dir         string            // the hook's directory
	site        string            // the site directory the hook is in (HookSite); "" for none
	execs       bool              // the init was asked to watch execs and connects ('k' frames)
	interpreter bool              // the init's interpreter frame was taken
	kernel      []moat.Event
	home        string
	work        string // the program's working directory (WorkDir, or HostInit.Work)
	// host says why a run on a host of its own (HostInit) has no kernel
	// witness; "" in a container.
	host     string
	plan     *observe.Plan
	audit    *observe.Collector
	walks    bytes.Buffer
	walksEnd bool
	walksCut bool // past maxWalkBytes
	content  *spool
	// The extended attributes the init sent ('X'), by path, the bytes
	// of them, and the paths whose were not all sent.
	xattrs     map[string][]xattr.Attr
	xattrBytes int64
	xattrCut   map[string]bool
	dropped    int
	endMS      int64
	// blind is what the witness cannot see on this runtime ("" none).
	blind string
	// sentry: the kernel side came from the Sentry's log (SentryTrace),
	// not the init's listener, which the Sentry refuses; sentryOff says
	// why there is none ("" when there is).
	sentry    bool
	sentryOff string
	// sentryStart is what the Sentry's event times count from.
	sentryStart time.Time
	// metadata is what the sinkhole serves at the metadata address (its
	// tokens are the plan's); nil without a sinkhole.
	metadata *honeytoken.Metadata

	// kernelN counts the 'k' frames kept in kernel, by kind, and
	// kernelAll in all: within the bounds of kbudget.Budget, which the
	// init judges them by and so never passes. The frames are moat's
	// init's (authenticated), bounded all the same. kernelLost counts
	// what is past them, and what the init's budget counted
	// (Walks.ExecsLost, each count bounded).
	kernelN    map[moat.Kind]int
	kernelAll  int
	kernelLost kbudget.Budget
}

func newReport(spec *moat.Spec, start time.Time, p Persona, h *HostInit) *report {
	if spec.NoReport {
		return nil
	}
	r := &report{
		dir:     p.HookDir(),
		home:    p.Home,
		work:    WorkDir,
		plan:    observe.NewPlanFor(spec.PersonaKey, p.Home, spec.Env),
		audit:   observe.NewCollector(func() int64 { return time.Since(start).Milliseconds() }),
		content: newSpool(observe.MaxScanTotal),
	}
	if h != nil {
		r.work = h.work()
		r.host = cmp.Or(h.NoKernel, "no kernel-side witness on this host")
		// The program owns the planted files there (no other uid is
		// mapped), and no seccomp filter refuses O_NOATIME.
		r.blind = "not reads with O_NOATIME (the program owns the planted files on that host, and no seccomp filter refuses the flag there)"
	}
	r.plan.Identity(p.Host, p.User, p.Home, r.work, spec.Env)
	if spec.Network == moat.NetworkSinkhole {
		r.metadata = r.plan.ServeMetadata() // before the tokens go to the init
	}
	return r
}

func (r *report) header() *ctrinit.Report {
	var witness []string
	for _, f := range observe.TokenFiles(r.plan.Tokens, r.plan.Files, func(p string) string { return p }) {
		witness = append(witness, f.Path)
	}
	return &ctrinit.Report{Dir: r.dir, Hook: audit.Hook(), Execs: r.execs, Plant: r.plan.Files, Witness: witness, Roots: r.diffRoots(), MaxEntries: observe.MaxFSEntries, MaxDepth: observe.MaxFSDepth,
		MaxWalkBytes: maxWalkBytes/2 - 256<<10, ScanTotal: observe.MaxScanTotal, MaxAuditBytes: maxAuditBytes, BudgetS: observe.FSBudget.Seconds()}
}

// xattrFrame takes one 'X' frame (ctrinit's Xattrs): an extended
// attribute of an entry the run wrote, as the init read it. Untrusted like
// every frame: kept only while the run's names and values stay within
// xattr.MaxTotal and an entry's within xattr.MaxCount (and a value within
// xattr.MaxValue); what is past that, malformed, or said unread by the
// init marks the entry's search cut.
func (r *report) xattrFrame(body []byte) {
	p, rest, ok1 := bytes.Cut(body, []byte{0})
	name, value, ok2 := bytes.Cut(rest, []byte{0})
	path := string(p)
	if r.xattrs == nil {
		r.xattrs, r.xattrCut = map[string][]xattr.Attr{}, map[string]bool{}
	}
	r.xattrBytes += int64(len(name) + len(value))
	if !ok1 || !ok2 || len(name) == 0 || len(value) > xattr.MaxValue || len(r.xattrs[path]) >= xattr.MaxCount || r.xattrBytes > xattr.MaxTotal {
		if len(r.xattrCut) < observe.MaxFSEntries {
			r.xattrCut[path] = true
		}
		return
	}
	r.xattrs[path] = append(r.xattrs[path], xattr.Attr{Name: string(name), Value: value})
}

// errXattrsCut: not every extended attribute of an entry came.
var errXattrsCut = errors.New("extended attributes not all sent")

// frame takes one report frame; it reports false for a frame type that
// is not the report's.
func (r *report) frame(t byte, body []byte, at int64) bool {
	switch t {
	case 'a':
		_, _ = r.audit.Write(body)
	case 'k':
		r.execFrame(body, at)
	case 'f':
		if len(body) == 0 {
			r.walksEnd, r.endMS = true, at
		} else if r.walks.Len()+len(body) <= maxWalkBytes {
			r.walks.Write(body)
		} else {
			r.walksCut = true
		}
	case 'c':
		r.content.frame(body)
	case 'X':
		r.xattrFrame(body)
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
	evs = append(evs, r.kernel...)
	dropped += r.dropped
	var w ctrinit.Walks[[]json.RawMessage]
	var cut string
	switch {
	case r.walksCut:
		// The init bounds each walk well below this: these walks are
		// not its own.
		cut = fmt.Sprintf("the init's walks of the writable directories passed the host's cap of %d bytes; no diff of them", maxWalkBytes)
	case !r.walksEnd:
		// Killed from outside (a limit, moat's backstop) or the init
		// itself killed (the kernel's OOM killer takes the largest
		// process of the container, and a program can make that the
		// init): what the program wrote, and the witness of the planted
		// files, are not seen. Said as a finding, not only as an event.
		cut = "the container ended before the init sent its walk of the writable directories: files the program wrote and reads of the planted files are not seen"
	case json.Unmarshal(r.walks.Bytes(), &w) != nil:
		cut = "the init's walks of the writable directories are not JSON; no diff of them"
	}
	if cut != "" {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindReportCut, TimeMS: r.endMS, Detail: cut},
			moat.Event{Source: moat.SourceMoat, Kind: moat.KindFSDiffUnavailable, TimeMS: r.endMS, Detail: cut})
		return r.kernelDrops(evs, dropped)
	}
	for _, c := range []struct{ which, why string }{{"before the program", w.BeforeCut}, {"after the program", w.AfterCut}} {
		if c.why != "" {
			evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindReportCut, TimeMS: r.endMS,
				Detail: "the walk of the writable directories " + c.which + " " + audit.Clean(c.why, 200) + ": changes past it are not seen"})
		}
	}
	if w.AuditCut > 0 {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindReportCut, TimeMS: r.endMS,
			Detail: fmt.Sprintf("the audit hook's events passed their cap of %d bytes: %d bytes not relayed", maxAuditBytes, w.AuditCut)})
	}
	evs = append(evs, r.witnessEvents(w)...)
	evs = append(evs, survivors.Events(w.Outlived, r.endMS)...)
	if r.host != "" {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindKernelEventsUnavailable, TimeMS: r.endMS, Detail: "execs and connects seen by the audit hook only: " + r.host})
	}
	if r.execs && !w.ExecsOn && !r.sentry {
		why := "the container's init has no exec witness"
		if w.ExecsOff != "" {
			why = audit.Clean(w.ExecsOff, 300)
		}
		if r.sentryOff != "" {
			why += "; gVisor's log: " + audit.Clean(r.sentryOff, 300)
		}
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindKernelEventsUnavailable, TimeMS: r.endMS, Detail: "execs and connects seen by the audit hook only: " + why})
	}
	for k, n := range w.ExecsLost {
		kind := moat.Kind(k)
		if !kbudget.LostKind(kind) {
			kind = "unnamed" // not a kind the init's budget names
		}
		r.kernelLost.Count(kind, min(n, 1<<30))
	}
	before, after := snapshot(w.Before), snapshot(w.After)
	if r.sentry {
		sentryHashes(evs, after, r.diffRoots(), r.sentryStart, r.content)
	}
	evs = append(evs, hookTamper(r.dir, r.dir+"/audit", before, after, r.endMS)...)
	if r.site != "" {
		evs = append(evs, hookTamper(r.site, "", before, after, r.endMS)...)
	}
	// The FIFO's times move with every write of the hook; its identity
	// was checked.
	delete(before, r.dir+"/audit")
	delete(after, r.dir+"/audit")
	// The files' data as the init sent it, read as native reads the
	// files themselves: whole, up to the same budget, holes skipped.
	defer r.content.close()
	d := observe.Differ{Tokens: r.plan.Tokens, Planted: r.plan.Files, Deadline: time.Now().Add(observe.FSBudget), At: r.endMS,
		Read:   func(p string, n int64) ([]byte, error) { return r.content.readAt(p, 0, n) },
		ReadAt: r.content.readAt, Data: r.content.data,
		Xattrs: func(p string) ([]xattr.Attr, error) {
			if r.xattrCut[p] {
				return r.xattrs[p], errXattrsCut
			}
			return r.xattrs[p], nil
		}}
	fsEvs, fsDropped := d.Diff(before, after)
	r.pycs = d.Pycs
	fsDropped += r.content.dropped
	if r.content.failed != nil {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindReportCut, TimeMS: r.endMS,
			Detail: "the data of the files the run wrote could not be kept on the host for the search for planted secrets: " + audit.Clean(r.content.failed.Error(), 300)})
	}
	if w.AfterCut != "" {
		// What the cut walk did not reach is not gone.
		fsEvs = slices.DeleteFunc(fsEvs, func(e moat.Event) bool { return e.Kind == "file-deleted" })
	}
	return r.kernelDrops(append(evs, fsEvs...), dropped+fsDropped)
}

// kernelDrops adds to evs the event that counts the kernel events not
// kept (by the init's budget or past the host's bounds), if any were, and
// their number to dropped: as on native, a flood of the kernel side is
// the report's evasion finding.
func (r *report) kernelDrops(evs []moat.Event, dropped int) ([]moat.Event, int) {
	ev, n, ok := r.kernelLost.Event("kernel events")
	if !ok {
		return evs, dropped
	}
	ev.TimeMS = r.endMS
	return append(evs, ev), dropped + n
}

// maxExecFrame bounds one 'k' frame (ctrinit.ExecEvent: a path of up to
// 4 KiB and 16 arguments of up to 1000 bytes, JSON-escaped).
const maxExecFrame = 128 << 10

// execFrame takes one exec or connect the init's seccomp listener saw.
// The init read it from the caller's memory: the fact of the call is the
// kernel's, every field is bounded and escaped, and the frames are kept
// within the kernel events' bounds (keepKernel), the rest counted.
func (r *report) execFrame(body []byte, at int64) {
	var e ctrinit.ExecEvent
	if len(body) > maxExecFrame || json.Unmarshal(body, &e) != nil {
		r.dropped++
		return
	}
	if e.PID < 0 || e.PID > 1<<22 {
		e.PID = 0
	}
	if e.PPID < 0 || e.PPID > 1<<22 {
		e.PPID = 0
	}
	var ev moat.Event
	switch {
	case e.Call == ctrinit.CallInterpreter:
		// The init's, before the program started (the first frame of
		// its kind is kept; the frames are the init's own, authenticated).
		if !r.interpreter && isSHA256(e.SHA256) {
			r.interpreter = true
			r.kernel = append(r.kernel, moat.Event{Source: moat.SourceMoat, Kind: moat.KindInterpreter, TimeMS: at,
				Path: audit.CleanPath(e.Path, audit.MaxPath), SHA256: e.SHA256})
		}
		return
	case e.Call == "denied" && (e.Name == "socket" || e.Name == "socketpair"):
		ev = procmem.SocketEvent(e.PID, e.Name, [6]uint64{e.Args[0], e.Args[1], e.Args[2]}, unix.Errno(e.Errno))
		ev.TimeMS, ev.PPID = at, e.PPID
	case e.Call == "denied":
		name := audit.Clean(e.Name, 40)
		errno := "errno " + strconv.Itoa(e.Errno)
		if e.Errno > 0 && e.Errno < 4096 {
			errno = unix.ErrnoName(unix.Errno(e.Errno))
		}
		ev = moat.Event{Source: moat.SourceKernel, Kind: moat.KindDenied, TimeMS: at, PID: e.PID, PPID: e.PPID, Name: name,
			Detail: fmt.Sprintf("returned %s; args %#x %#x", errno, e.Args[0], e.Args[1])}
	case e.Call == "bind" || e.Call == "listen":
		// A port opened (the init sends only those: seccomp.Sockets).
		ev = moat.Event{Source: moat.SourceKernel, Kind: moat.KindListener, TimeMS: at, PID: e.PID, PPID: e.PPID, Name: e.Call}
		procmem.ListenerDetail(&ev, seccomp.SocketCall{Sockaddr: e.Sockaddr[:min(len(e.Sockaddr), ctrinit.MaxSockaddr)], Proto: e.Proto, Inode: e.Inode})
		if e.Note != "" {
			ev.Detail += " (" + audit.Clean(e.Note, 100) + ")"
		}
	case e.Call == "connect":
		addr, path := procmem.ParseSockaddr(e.Sockaddr[:min(len(e.Sockaddr), ctrinit.MaxSockaddr)])
		if addr == "" && path == "" {
			return // a family with no address moat reads (netlink, ...): the init sends none
		}
		ev = moat.Event{Source: moat.SourceKernel, Kind: moat.KindConnect, TimeMS: at, PID: e.PID, PPID: e.PPID, Name: "connect", Addr: addr, Path: path}
		if e.Note != "" {
			ev.Detail = audit.Clean(e.Note, 100)
		}
	case e.Call == moat.ExecRan || e.Call == moat.ExecSwapped:
		// What ran after an exec, by the kernel's link (seccomp.ExecCheck).
		ev = moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, TimeMS: at, PID: e.PID, PPID: e.PPID, Name: e.Call,
			Path: audit.CleanPath(e.Path, audit.MaxPath), Detail: "what ran after the exec (the kernel's link), " + audit.Clean(e.Note, 400)}
		if isSHA256(e.SHA256) {
			ev.SHA256 = e.SHA256
		}
	default:
		ev = moat.Event{Source: moat.SourceKernel, Kind: moat.KindExec, TimeMS: at, PID: e.PID, PPID: e.PPID, Name: "execve",
			Path: audit.CleanPath(e.Path, audit.MaxPath), Detail: audit.Clean(e.Argv, 2000)}
		if e.Call == "execveat" {
			ev.Name = "execveat"
		}
		if e.Failed {
			ev.Kind = moat.KindExecFailed
		}
		if isSHA256(e.SHA256) {
			ev.SHA256, ev.Script = e.SHA256, audit.Clean(e.Script, 300)
			if isSHA256(e.ScriptSHA256) {
				ev.ScriptSHA256 = e.ScriptSHA256
			}
		}
		ev.Data = audit.Clean(e.Env, 2000)
		if stdioForm(e.Stdio) {
			ev.Stdio = e.Stdio
		}
		if e.Note != "" {
			ev.Detail += " (" + audit.Clean(e.Note, 300) + ")"
		}
	}
	if r.keepKernel(ev.Kind) {
		r.kernel = append(r.kernel, ev)
	}
}

// keepKernel reports whether one more 'k' frame of kind k is kept: within
// what kbudget.Budget keeps of a kind (its reserve and at most the whole
// second reserve) and kbudget.MaxEvents in all. Else it is counted.
func (r *report) keepKernel(k moat.Kind) bool {
	if r.kernelN == nil {
		r.kernelN = map[moat.Kind]int{} // k is one of the six kinds execFrame makes
	}
	if r.kernelAll >= kbudget.MaxEvents || r.kernelN[k] >= kbudget.Reserve(k)+kbudget.MaxInterest {
		r.kernelLost.Count(k, 1)
		return false
	}
	r.kernelN[k]++
	r.kernelAll++
	return true
}

// witnessEvents turns what the init's witness saw into events: only
// planted files count, each once. An init that sends no witness (the
// fallback init, bootstrap.py) leaves reads to the audit hook alone.
func (r *report) witnessEvents(w ctrinit.Walks[[]json.RawMessage]) []moat.Event {
	if w.WitnessOn == 0 {
		why := "the container's init has no witness"
		if w.WitnessOff != "" {
			why = audit.Clean(w.WitnessOff, 300)
		}
		return []moat.Event{{Source: moat.SourceMoat, Kind: moat.KindHoneytokenWitness, TimeMS: r.endMS, Detail: "off: " + why}}
	}
	detail := fmt.Sprintf("on: the access and change times of %d planted files, kept by the kernel, read by the container's init", w.WitnessOn)
	if r.blind != "" {
		detail += "; " + r.blind
	}
	evs := []moat.Event{{Source: moat.SourceMoat, Kind: moat.KindHoneytokenWitness, TimeMS: r.endMS, Detail: detail}}
	seen := map[string]bool{}
	for _, c := range []struct {
		kind   moat.Kind
		paths  []string
		detail string
	}{
		{moat.KindHoneytokenRead, w.Read, "the file's access time moved: its content was read"},
		{moat.KindHoneytokenAltered, w.Altered, "the file's change time moved: its times were set, or its mode, links or content changed"},
	} {
		for _, p := range c.paths {
			if _, planted := r.plan.Files[p]; !planted || seen[string(c.kind)+p] {
				continue
			}
			seen[string(c.kind)+p] = true
			evs = append(evs, moat.Event{Source: moat.SourceKernel, Kind: c.kind, Path: p, TimeMS: r.endMS, Detail: c.detail})
		}
	}
	return evs
}

// hookTamper compares the hook's directory (or the site directory it is
// in) in both walks: anything removed, added or changed there is a
// "report-tampered" event. The FIFO's size and times move with the hook's
// writes; only its inode and mode count. auditFIFO "": dir has none.
func hookTamper(dir, auditFIFO string, before, after observe.Snapshot, at int64) []moat.Event {
	in := func(p string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	var changed []string
	for p, b := range before {
		if !in(p) {
			continue
		}
		a, ok := after[p]
		switch {
		case !ok:
			changed = append(changed, p+" removed or renamed")
		case a.Ino != b.Ino || a.Mode != b.Mode:
			changed = append(changed, p+" replaced or its mode changed")
		case p != auditFIFO && (a.Ctime != b.Ctime || a.Size != b.Size):
			changed = append(changed, p+" changed")
		}
	}
	for p := range after {
		if _, ok := before[p]; in(p) && !ok {
			changed = append(changed, p+" added")
		}
	}
	if _, ok := before[auditFIFO]; !ok && auditFIFO != "" {
		changed = append(changed, auditFIFO+" missing before the program started")
	}
	if len(changed) == 0 {
		return nil
	}
	slices.Sort(changed)
	evs := []moat.Event{{Source: moat.SourceMoat, Kind: moat.KindReportTampered, TimeMS: at,
		Detail: "moat's hook directory " + dir + " changed (the audit hook of every process started after may have reported nothing): " +
			audit.Clean(strings.Join(changed[:min(len(changed), 8)], "; "), 800)}}
	return evs
}

// snapshot decodes the init's walk: [path, size, mode, ino, ctime], and a
// link's target after them.
func snapshot(entries [][]json.RawMessage) observe.Snapshot {
	m := observe.Snapshot{}
	for _, e := range entries {
		if (len(e) != 5 && len(e) != 6) || len(m) >= observe.MaxFSEntries {
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
		var link string
		if len(e) == 6 && (json.Unmarshal(e[5], &link) != nil || len(link) > observe.MaxLink) {
			continue
		}
		m[p] = observe.FileState{Size: size, Mode: observe.UnixMode(mode), Ino: ino, Ctime: ctime, Link: link}
	}
	return m
}

// reportLayer describes the report of a container run.
func reportLayer(off bool) moat.Layer {
	if off {
		return moat.Layer{Name: "behaviour-report", Detail: "off (Spec.NoReport: --no-report)"}
	}
	return moat.Layer{Name: "behaviour-report", Detail: "Python audit hook (a .pth line of an empty site directory of the image, on a tmpfs; in a run that learns the image's site directories (before its first: Learn), " +
		"on PYTHONPATH; its channel in a directory of /tmp named anew each run; owned by the sandbox user: its events are the program's claims), " +
		"honeytokens in the home, diff of /work, the home, /tmp and /dev/shm by the container init (any change to the hook's directories is an evasion finding); " +
		"kernel-side: every execve and connect, seen by the init's own seccomp listener (where the runtime has seccomp user notification), " +
		"and every call of native's deny list the init guards (docker and podman with moat's init: mount, unshare, ptrace, keyctl, bpf, ...; clone of a namespace, socket families, TIOCSTI, O_NOATIME, personas; io_uring, openat2, clone3 of a namespace); " +
		"under gVisor the Sentry's own log where the runtime is registered to trace (execs, connects, forks, sockets, the calls its profile refused)"}
}

// SentryTrace gives the report the kernel side of a run on gVisor's
// Sentry as the engine's runtime, where the init's seccomp listener
// cannot be had: the execs, connects, refused sockets and calls the OCI
// profile refused, as the Sentry logged them (backend/internal/sentry),
// and how many were dropped; or why there are none (off). Call it after
// the container exited and before Report; start is what the events'
// times count from.
func (s *Session) SentryTrace(evs []moat.Event, dropped int, off string, start time.Time) {
	if s.rep == nil {
		return
	}
	if off != "" {
		s.rep.sentryOff = off
		return
	}
	s.rep.sentry, s.rep.sentryStart = true, start
	s.rep.kernel = append(s.rep.kernel, programsOwn(evs)...)
	s.rep.dropped += dropped
}

// programsOwn drops from the Sentry's events those of moat's init, pid 1
// in the container, as its listener does (ctrinit): its own calls, and
// its child's start of the program (an exec of /proc/self/exe first,
// with RlimitAS, then the interpreter). Every later exec of that child
// is the program's.
func programsOwn(evs []moat.Event) []moat.Event {
	child, started := 0, false
	return slices.DeleteFunc(evs, func(e moat.Event) bool {
		if e.PID == 1 {
			return true
		}
		if e.Kind != moat.KindExec && e.Kind != moat.KindExecFailed || started {
			return false
		}
		if child == 0 && e.PPID == 1 {
			child = e.PID
		}
		if e.PID != child {
			return false
		}
		started = e.Kind == moat.KindExec && e.Path != "/proc/self/exe"
		return true
	})
}

// Report fills res.Events, EventsDropped and Findings (always a list).
// Call it once the run is over (Receive has returned).
func (s *Session) Report(res *moat.Result) {
	s.endOnce.Do(func() { close(s.ended) })
	var evs []moat.Event
	dropped := 0
	if s.rep != nil {
		evs, dropped = s.rep.events()
		if s.KillNote != nil {
			if note := s.KillNote(); note != "" {
				for i := range evs {
					if evs[i].Kind == moat.KindReportCut && evs[i].Source == moat.SourceMoat {
						evs[i].Detail += " (" + note + ")"
					}
				}
			}
		}
		if s.spec.Launcher {
			moatreport.Launched(evs)
		}
		if s.Daemons != nil && !s.rep.walksEnd {
			evs = append(evs, survivors.Events(s.Daemons(), time.Since(s.start).Milliseconds())...)
		}
		verify := s.Verify
		switch {
		case res.Status == moat.StatusCanceled:
			verify = moatreport.Unverified("the run was canceled")
		case verify == nil:
			verify = moatreport.Unverified("this backend does not run the verification")
		}
		evs = moatreport.VerifyBytecode(evs, s.rep.pycs, verify)
	}
	netEvs, netDropped := s.sink.Stop()
	evs, dropped = append(evs, netEvs...), dropped+netDropped
	s.sink = nil
	if s.lost != "" {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindInitKilled, TimeMS: time.Since(s.start).Milliseconds(), Detail: s.lost})
	}
	if s.violation != nil {
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindProtocolViolation, TimeMS: time.Since(s.start).Milliseconds(),
			Detail: s.violation.Error()})
	}
	moatreport.Finish(res, evs, dropped, s.lim)
}

// InitKilled records that the container's init died of signal sig before
// its exit frame, and not by moat's hand: the program killed it (under
// gVisor as Docker's runtime, a SIGKILL from inside reaches pid 1). The
// run fails as an error; the report gets an evasion finding.
func (s *Session) InitKilled(sig int) {
	if s.ExitReport() != nil || s.violation != nil {
		return
	}
	s.lost = fmt.Sprintf("moat's init (pid 1 of the container) was killed by signal %d before its report; nothing of the run is believed", sig)
}

// isSHA256: s is a sha256 as the init writes it (64 lowercase hex
// digits); anything else in a frame is not kept.
func isSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// stdioForm: s is what seccomp.StdioSockets makes ("0", "0,2", "0,1,2").
func stdioForm(s string) bool {
	switch s {
	case "0", "1", "2", "0,1", "0,2", "1,2", "0,1,2":
		return true
	}
	return false
}
