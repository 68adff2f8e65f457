// Package observe is the behaviour report's machinery that every backend
// shares: the run's honeytokens ([Plan]), the bounded reader of the audit
// hook's lines ([Collector]), the filesystem diff of the writable
// directories ([Walk], [Differ]) and the last step that turns a run's
// events into findings ([Finish]).
//
// Where each piece runs differs by backend, what it does does not:
//
//   - native: the sandbox init plants the tokens, reads the hook's FIFO
//     and walks the directories inside the sandbox; the parent finishes.
//   - docker, podman: the container init plants, relays the FIFO's
//     bytes and sends its walk (and the changed files' first bytes) as
//     frames; moat parses, bounds and diffs them on the host.
//   - gvisor: moat plants and walks on the host tmpfs that the sandbox
//     sees as its writable directories, and tails the hook's file there.
//
// Everything read from a sandbox is untrusted: parsed with bounds, control
// characters escaped, labelled by source. See package report for what the
// events mean and internal/observe/audit for the hook.
package observe

import (
	"sort"
	"strings"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// Bounds on what one run records.
const (
	MaxAuditEvents = 2000
	AuditRate      = 200 // per second, sustained
	AuditBurst     = 500
	// AuditReserve of MaxAuditEvents is kept for the kinds that are rare
	// and telling (see [Priority]), outside the rate limit, so that a
	// burst of ordinary opens (pip's own) cannot crowd them out.
	AuditReserve = 600
	// WitnessReserve is kept, beside MaxAuditEvents, for the test
	// runner's records of outcomes (moat.KindTestReport; pkgtest's
	// witness sends at most about 250).
	WitnessReserve = 400
	MaxFSEvents    = 600
	// A walk of the writable directories keeps at most MaxFSEntries
	// entries and MaxFSPathBytes of their paths (what its snapshot costs
	// in memory), within FSBudget. Ordinary work makes big trees (a
	// node_modules of 60,000 files, a venv, pip's caches), and a walk cut
	// short is a finding (the report is incomplete), so the caps are well
	// past them; a tree made to reach them costs its maker the time
	// (a hostile tree gets its finding, it hides nothing).
	MaxFSEntries   = 400000
	MaxFSPathBytes = 32 << 20
	FSBudget       = 5 * time.Second
	// MaxFSDepth bounds how many levels below a root the walk goes: a
	// tree some thousand levels deep (past PATH_MAX) costs every path
	// operation on it its whole depth.
	MaxFSDepth   = 256
	MaxScanFile  = 1 << 20
	MaxScanTotal = 64 << 20
	// MaxResultEvents bounds Result.Events; the rest is counted in
	// EventsDropped. Findings are drawn from all events.
	MaxResultEvents = 3000
)

// Priority reports whether an audit event is of the rare, telling kinds
// that AuditReserve keeps apart from the bulk (file opens under system
// and project paths): execs, connections, lookups, native code, the hook's
// hello, and opens of home, /etc, /proc and /root files, where
// credentials are, or of paths spelled to look elsewhere.
func Priority(e moat.Event) bool {
	switch e.Kind {
	case moat.KindOpen, moat.KindWrite:
		for _, d := range []string{"/home/", "/root/", "/etc/", "/proc/", "/var/run/secrets/", "/run/secrets/"} {
			if strings.HasPrefix(e.Path, d) {
				return true
			}
		}
		// a path spelled to look elsewhere (//, /../, /./) is telling too
		return strings.Contains(e.Path, "//") || strings.Contains(e.Path, "/../") || strings.Contains(e.Path, "/./")
	case moat.KindExec, moat.KindConnect, moat.KindDNS, moat.KindHTTP, moat.KindSocket, moat.KindHello,
		moat.KindNativeLoad, moat.KindNativeSymbol, moat.KindNativeImport:
		return true
	}
	return false
}

// Plan is one run's honeytokens: the files to plant in the home, the
// variables to add to the program's environment, and the "moat" events
// that tell the analysis what to look for.
type Plan struct {
	Files   map[string]string // path inside the sandbox → content
	Tokens  []honeytoken.Token
	Env     []string // KEY=VALUE to add to the program's environment
	Planted []moat.Event
	// key is the one the tokens were drawn from (NewPlanFor's), the
	// metadata credentials' too.
	key string
}

// NewPlan makes fresh tokens for a sandbox whose home is home. A variable
// the caller set in specEnv keeps its value: no honeytoken there.
func NewPlan(home string, specEnv []string) *Plan { return NewPlanFor("", home, specEnv) }

// NewPlanFor is NewPlan with the tokens drawn from key
// ([honeytoken.NewFor]; a run's [moat.Spec.PersonaKey]): the runs given one
// key plant the same secrets, as one machine has one set.
func NewPlanFor(key, home string, specEnv []string) *Plan {
	set := honeytoken.NewFor(home, key)
	given := map[string]bool{}
	for _, kv := range specEnv {
		k, _, _ := strings.Cut(kv, "=")
		given[k] = true
	}
	p := &Plan{Files: set.Files, key: key}
	for _, kv := range set.Env {
		k, _, _ := strings.Cut(kv, "=")
		if !given[k] {
			p.Env = append(p.Env, kv)
		}
	}
	for _, t := range set.Tokens {
		if t.Env != "" && given[t.Env] {
			continue
		}
		p.Tokens = append(p.Tokens, t)
		where := t.Path
		if t.Env != "" {
			where = "$" + t.Env
		}
		p.Planted = append(p.Planted, moat.Event{Source: "moat", Kind: "honeytoken-planted", Path: where, Name: t.ID, Data: t.Value, Addr: t.Host,
			Detail: "fake secret planted by moat"})
	}
	return p
}

// ServeMetadata makes the fake instance credentials that the network
// sink serves at the metadata address, adds them to the plan's tokens
// and returns them. For runs whose network is a sinkhole; call it before
// handing Tokens to the sandbox.
func (p *Plan) ServeMetadata() *honeytoken.Metadata {
	m := honeytoken.NewMetadataFor(p.key)
	for _, t := range m.Tokens() {
		p.Tokens = append(p.Tokens, t)
		p.Planted = append(p.Planted, moat.Event{Source: moat.SourceMoat, Kind: moat.KindHoneytokenPlanted, Path: t.Path, Name: t.ID, Data: t.Value,
			Detail: "fake instance credential served by moat's network sink"})
	}
	return m
}

// FilePaths lists the planted files, sorted.
func (p *Plan) FilePaths() []string {
	out := make([]string, 0, len(p.Files))
	for k := range p.Files {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// WithHookPath returns env with dir first on PYTHONPATH, before any path
// the caller gave (the last PYTHONPATH in env wins, as in a dict).
func WithHookPath(env []string, dir string) []string {
	pp := dir
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PYTHONPATH="); ok && v != "" {
			pp = dir + ":" + v
		}
	}
	return append(env, "PYTHONPATH="+pp)
}
