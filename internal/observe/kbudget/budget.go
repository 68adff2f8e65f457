// Package kbudget is the budget of one run's kernel events (execs,
// failed execs, connects, denied calls and sockets, as a seccomp listener
// or gVisor's Sentry sees them): each kind within its reserve ([Reserve]),
// events that would make a finding on their own ([Interest]) kept past
// it, loops counted as repeats, and every event not kept counted by kind
// ([Budget.Event]). Every backend judges its kernel events by it: native
// and the micro-VM guest in their supervisors, gVisor on the Sentry's
// trace, docker and podman in moat's container init.
//
// It is apart from package observe, which holds it under its old names,
// because the sandbox inits import it: it must stay light (no net, no
// regexp, no compression; cmd/moat's TestInitStartsEarly), and it imports
// nothing of moat's but the root package's event types.
package kbudget

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat"
)

// Budget keeps one run's kernel events within their kinds'
// reserves ([Reserve]) and at most Max in all, and counts the rest by
// kind. A loop of one command (true, or a missing file found along PATH
// again and again) or of connects to one host is kept a few times and
// then counted as repeats: such a loop cannot fill a reserve and hide the
// payload that follows, and, hiding nothing, it is not a flood. The zero
// value keeps at most MaxEvents. Not safe for concurrent use.
//
// Judged before dropped: an event of [Interest] (one that would make a
// finding of medium or above on its own) over its kind's reserve is kept
// in a second one, by reason. Each reason's first InterestFirst are kept,
// and each process's first InterestPerProcess of each reason (for the
// first maxInterestProcs), then, in each doubling of the reason's count, interestPerLevel drawn at
// random (at most maxInterestSampled in all): a flood of interesting
// events of one reason (10,000 metadata URLs, connects to 400 hosts)
// already makes that reason's finding with its first events, cannot hide
// another reason's nor another process's (the reverse shell's connect
// before its shell), and leaves a sample across the whole run that the
// program cannot predict. What is not kept is counted, and the count is
// the flood finding.
type Budget struct {
	Max int // 0: the sum of the Reserve of every kind

	n          int
	kept, lost map[moat.Kind]int
	repeats    map[string]int
	interest   map[string]*interestCount
	perProcess map[string]int // reason and pid → kept past the reason's first
	sampled    int
	// intn draws the position kept in a window (rand.IntN); tests set it.
	intn func(int) int
}

// interestCount is one reason's events of interest past the reserves.
type interestCount struct {
	seen int // events of this reason that reached the second reserve
	pick int // the position, in the current window, that is kept
}

// Bounds of one run's kernel events: the reserves of their kinds
// ([Reserve]) and the second reserve of the events of [Interest] past
// them. A Budget (Max 0) keeps at most MaxEvents.
const (
	MaxEvents   = reserves + MaxInterest
	reserves    = 1000 // the sum of the Reserve of every kind
	MaxInterest = maxInterestReasons*InterestFirst + maxInterestProcs*InterestPerProcess + maxInterestSampled
)

// Reserve is how many kernel events of kind k one run keeps (and
// those of Interest past it, see Budget). The reserves sum to
// reserves, so that a flood of one kind cannot hide
// another: failing execve calls from a thread (the cheapest flood) fill
// their own small reserve and are then counted, and the payload's exec
// and connect that follow are still kept. Every event over a reserve is
// counted by kind, and the count is itself a finding.
func Reserve(k moat.Kind) int {
	switch k {
	case moat.KindExec, moat.KindConnect:
		return 400
	case moat.KindExecFailed:
		return 50
	}
	return 150 // denied, socket, ...
}

// Bounds of the second reserve, for events of [Interest].
const (
	InterestFirst      = 20  // each reason's first, all kept
	InterestPerProcess = 2   // then each process's first of each reason
	maxInterestProcs   = 128 // reason and process pairs so kept
	interestPerLevel   = 10  // kept in each doubling of a reason's count past InterestFirst
	maxInterestSampled = 300 // those sampled, all reasons together
	// maxInterestReasons bounds the reasons of [Interest]; with the
	// sample, MaxInterest.
	maxInterestReasons = 16
)

// interestedSuffix marks, in a drop count's kind, events of [Interest]
// that were over the second reserve too.
const interestedSuffix = " (of interest)"

// Repeat bounds: a command run, or a host connected to, more than
// MaxRepeats times is counted past that (a file that does not exist,
// whatever its arguments, MaxFailedRepeats times: a PATH search of a tool
// the machine lacks, made by every test that wants it, is one fact); past
// maxRepeatKeys distinct ones the rest are within their kind's reserve
// alone.
//
// A host other than loopback is kept MaxHostConnects times: the order of
// the ports of the connects to one host can be a secret, a byte a port
// (docs/report.md), whose 40 bytes a cut at MaxRepeats left unread.
const (
	MaxRepeats       = 10
	MaxHostConnects  = 64
	MaxFailedRepeats = 2
	maxRepeatKeys    = 10000
)

// repeatedSuffix marks, in a drop count's kind, events dropped as
// repeats rather than over their kind's reserve.
const repeatedSuffix = " (repeated)"

// Keep reports whether ev is kept; if not, it is counted.
func (b *Budget) Keep(ev moat.Event) bool {
	if b.kept == nil {
		b.kept, b.lost, b.repeats = map[moat.Kind]int{}, map[moat.Kind]int{}, map[string]int{}
	}
	if k, limit, ok := repeatKey(ev); ok {
		if b.repeats[k] >= limit {
			b.lost[ev.Kind+repeatedSuffix]++
			return false
		}
		if len(b.repeats) < maxRepeatKeys {
			b.repeats[k]++
		}
	}
	max := b.Max
	if max <= 0 {
		max = reserves
	}
	if b.n < max && b.kept[ev.Kind] < Reserve(ev.Kind) {
		b.kept[ev.Kind]++
		b.n++
		return true
	}
	if why := Interest(ev); why != "" {
		if b.keepInterest(why, ev.PID) {
			return true
		}
		b.lost[ev.Kind+interestedSuffix]++
		return false
	}
	b.lost[ev.Kind]++
	return false
}

// keepInterest reports whether the next event of reason why over the
// reserves is kept in the second one: the reason's first InterestFirst,
// then each process's first InterestPerProcess, then, where the reason's
// count is in [F·2^L, F·2^(L+1)), one at a random
// position in each of interestPerLevel windows of F·2^L/interestPerLevel
// events, within maxInterestSampled. Nothing kept is later replaced: an
// event kept is sent on at once.
func (b *Budget) keepInterest(why string, pid int) bool {
	if b.interest == nil {
		b.interest, b.perProcess = map[string]*interestCount{}, map[string]int{}
	}
	c := b.interest[why]
	if c == nil {
		if len(b.interest) >= maxInterestReasons {
			return false
		}
		c = &interestCount{}
		b.interest[why] = c
	}
	i := c.seen // 0-based
	c.seen++
	if i < InterestFirst {
		return true
	}
	key := why + "\x00" + strconv.Itoa(pid)
	if n, ok := b.perProcess[key]; (ok || len(b.perProcess) < maxInterestProcs) && n < InterestPerProcess {
		b.perProcess[key]++
		return true
	}
	seg := InterestFirst // this level's first index, and its length
	for seg*2 <= i {
		seg *= 2
	}
	w := seg / interestPerLevel // a window's length (InterestFirst is a multiple)
	pos := (i - seg) % w
	if pos == 0 {
		intn := b.intn
		if intn == nil {
			intn = rand.IntN
		}
		c.pick = intn(w)
	}
	if pos != c.pick || b.sampled >= maxInterestSampled {
		return false
	}
	b.sampled++
	return true
}

// repeatKey returns what makes ev a repeat of another event and how many
// such are kept: an exec's path and argv; a failed exec's path alone; a
// connect's host, the port left out (a scan of one host's ports is one
// host; kept MaxHostConnects times, loopback's MaxRepeats), every
// loopback address one, and a Unix socket's path; false for
// the kinds that are not counted so.
func repeatKey(ev moat.Event) (string, int, bool) {
	switch ev.Kind {
	case moat.KindExec:
		if ev.Name == moat.ExecSwapped || ev.Name == moat.ExecRan {
			// What each process ran (no command line): one a process.
			return "exec\x00" + ev.Path + "\x00" + strconv.Itoa(ev.PID), MaxRepeats, true
		}
		return "exec\x00" + ev.Path + "\x00" + ev.Detail, MaxRepeats, true
	case moat.KindExecFailed:
		return "exec-failed\x00" + ev.Path, MaxFailedRepeats, true
	case moat.KindConnect:
		if ev.Addr == "" {
			return "connect\x00unix\x00" + ev.Path, MaxRepeats, true
		}
		h := connectHost(ev.Addr)
		if h == "loopback" {
			return "connect\x00" + h, MaxRepeats, true
		}
		return "connect\x00" + h, MaxHostConnects, true
	case moat.KindListener:
		// a test suite's local servers, one after another
		return "listener\x00" + ev.Addr, MaxRepeats, true
	}
	return "", 0, false
}

// connectHost is the host of a connect's address ("host:port", an IPv6
// host in brackets), every loopback address one. Plain string work: this
// package is a dependency of the sandbox init, which must not wait for
// package net's initialization (cmd/moat TestInitStartsEarly).
func connectHost(addr string) string {
	host := addr
	switch {
	case strings.HasPrefix(addr, "["):
		if i := strings.IndexByte(addr, ']'); i > 0 {
			host = addr[1:i]
		}
	case strings.Count(addr, ":") == 1:
		host = addr[:strings.IndexByte(addr, ':')]
	}
	host = strings.TrimPrefix(host, "::ffff:")
	if strings.HasPrefix(host, "127.") || host == "::1" || host == "0:0:0:0:0:0:0:1" {
		return "loopback"
	}
	return host
}

// Lost returns a copy of the counts of the events not kept, by kind (a
// kind's " (repeated)" and " (of interest)" apart): what a sandbox init
// sends its host, which adds them to its own with Count.
func (b *Budget) Lost() map[moat.Kind]int {
	m := make(map[moat.Kind]int, len(b.lost))
	for k, n := range b.lost {
		m[k] = n
	}
	return m
}

// Count counts n more events of kind not kept (n <= 0: none). kind is
// one of Lost's; anything else the caller bounds and names.
func (b *Budget) Count(kind moat.Kind, n int) {
	if n <= 0 {
		return
	}
	if b.lost == nil {
		b.lost = map[moat.Kind]int{}
	}
	b.lost[kind] = min(b.lost[kind]+n, 1<<30)
}

// LostKind reports whether k is a kind Lost may name: a kind of kernel
// event ([Reserve]'s) alone or with the suffix of repeats or of events
// of interest. A host checks the counts an init sends with it.
func LostKind(k moat.Kind) bool {
	base := strings.TrimSuffix(strings.TrimSuffix(string(k), repeatedSuffix), interestedSuffix)
	switch moat.Kind(base) {
	case moat.KindExec, moat.KindExecFailed, moat.KindConnect, moat.KindDenied, moat.KindSocket, moat.KindListener:
		return true
	}
	return false
}

// Event returns the "moat" event that counts, by kind, the kernel events
// dropped (what: whose events, in its detail), and their total; false if
// none was. It is named "kernel" (a flood of the kernel side: the report's
// evasion finding, medium), or "kernel-repeats" where only repeats were
// dropped (a loop, which hides nothing: each command and host is kept).
func (b *Budget) Event(what string) (moat.Event, int, bool) {
	if len(b.lost) == 0 {
		return moat.Event{}, 0, false
	}
	var parts []string
	n := 0
	name := "kernel-repeats"
	for k, c := range b.lost {
		parts = append(parts, string(k)+" "+strconv.Itoa(c))
		n += c
		if !strings.HasSuffix(string(k), repeatedSuffix) {
			name = string(moat.SourceKernel)
		}
	}
	slices.Sort(parts)
	return moat.Event{Source: moat.SourceMoat, Kind: moat.KindEvents, Name: name,
		Detail: what + " over their reserve, counted and dropped: " + strings.Join(parts, ", ")}, n, true
}
