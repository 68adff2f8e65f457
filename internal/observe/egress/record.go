package egress

import (
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/moat-sandbox/moat"
)

// Bounds on what one run may make the init record.
const (
	// MaxEvents is how many network events a run reports; the rest are
	// counted as dropped.
	MaxEvents = 1000
	// MaxCapture is how many bytes of a flow are kept, sniffed and
	// reported (escaped, at most MaxData characters) as Event.Data:
	// enough that a secret behind kilobytes of padding is still in it
	// (report's matcher searches the whole of Data).
	MaxCapture = 128 << 10
	// MaxData bounds an event's Data: all of MaxCapture bytes however
	// they escape (\xNN is four characters a byte). Bounding the escaped
	// text by MaxCapture instead kept 32 KiB of binary padding and cut
	// off a secret behind it.
	MaxData = 4 * MaxCapture
	// MaxRunCapture bounds the Data of all of a run's events together;
	// past it each event keeps its first SmallCapture characters and
	// says so in Detail.
	MaxRunCapture = 8 << 20
	SmallCapture  = 4096
	// maxField bounds names, paths and details taken from traffic.
	maxField = 512
)

// Escape renders untrusted bytes as printable ASCII: bytes 0x20–0x7e
// pass (a backslash doubles), \n \r \t are spelled so, everything else is
// \xNN. The result is at most max bytes; a cut is marked with "...".
func Escape(b []byte, max int) string {
	var sb strings.Builder
	for _, c := range b {
		var s string
		switch {
		case c == '\\':
			s = `\\`
		case c == '\n':
			s = `\n`
		case c == '\r':
			s = `\r`
		case c == '\t':
			s = `\t`
		case c >= 0x20 && c < 0x7f:
			s = string(rune(c))
		default:
			const hex = "0123456789abcdef"
			s = `\x` + string(hex[c>>4]) + string(hex[c&15])
		}
		if sb.Len()+len(s) > max-3 && max >= 3 {
			sb.WriteString("...")
			return sb.String()
		}
		sb.WriteString(s)
	}
	return sb.String()
}

// Per-kind bounds within MaxEvents: lookups take at most
// maxLookupEvents, so a flood of them (the cheapest event a program can
// make) leaves room for its flows; what the sink served (fake instance
// credentials, second stages) is kept past MaxEvents, up to maxServed.
const (
	maxLookupEvents = 600
	maxServed       = 100
	// MaxOverflow bounds each part of what the dropped events carried
	// (their lookups' labels, flows' data, request paths), kept joined for
	// the report's matcher: dropped events hide nothing they sent.
	MaxOverflow = 64 << 10
)

// Recorder bounds the events of a run and hands them to a sink; it is
// safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	n       int
	lookups int
	served  int
	dropped int
	data    int // bytes of Data passed on
	over    overflow
	flushed bool
	sink    func(moat.Event)
}

// overflow is what the dropped events carried, joined as the report
// joins a destination's events (its streams): every lookup's labels
// below its domain, each one's first and longest label, flows' data
// after their headers, request paths' last parts.
type overflow struct {
	labels, first, longest, data, paths []byte
	cut                                 int // bytes past MaxOverflow, not kept
}

func (o *overflow) add(part *[]byte, s string) {
	if n := MaxOverflow - len(*part); n < len(s) {
		o.cut += len(s) - max(n, 0)
		s = s[:max(n, 0)]
	}
	*part = append(*part, s...)
}

func (o *overflow) record(ev moat.Event) {
	if ev.Name != "" && net.ParseIP(ev.Name) == nil {
		labels := strings.Split(strings.TrimSuffix(ev.Name, "."), ".") // as sent: case too
		if len(labels) >= 3 {
			sub := labels[:len(labels)-2]
			longest := ""
			for _, l := range sub {
				if len(l) > len(longest) {
					longest = l
				}
			}
			o.add(&o.labels, strings.Join(sub, ""))
			o.add(&o.first, sub[0])
			o.add(&o.longest, longest)
		}
	}
	if ev.Data != "" {
		d := ev.Data
		if _, b, ok := strings.Cut(d, `\r\n\r\n`); ok {
			d = b
		}
		o.add(&o.data, d)
	}
	if ev.Path != "" {
		p := ev.Path
		if j := strings.LastIndexAny(p, "/=?&"); j >= 0 {
			p = p[j+1:]
		}
		o.add(&o.paths, p)
	}
}

// NewRecorder returns a Recorder that passes at most MaxEvents events to
// sink, in order (and up to maxServed of what the sink served).
func NewRecorder(sink func(moat.Event)) *Recorder { return &Recorder{sink: sink} }

// Record stamps ev as a network event and passes it on, or counts it as
// dropped and keeps what it carried for Flush.
func (r *Recorder) Record(ev moat.Event) {
	ev.Source = "network"
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flushed {
		r.dropped++
		return
	}
	served := (ev.Kind == moat.KindMetadata || ev.Kind == moat.KindStage2) && r.served < maxServed
	switch {
	case served:
		r.served++
	case r.n >= MaxEvents || (ev.Kind == moat.KindDNS && r.lookups >= maxLookupEvents):
		r.dropped++
		r.over.record(ev)
		return
	default:
		r.n++
		if ev.Kind == moat.KindDNS {
			r.lookups++
		}
	}
	if r.data+len(ev.Data) > MaxRunCapture && len(ev.Data) > SmallCapture {
		ev.Data = ev.Data[:SmallCapture] + "..."
		ev.Detail += " (data cut: the run's capture budget is spent)"
	}
	r.data += len(ev.Data)
	r.sink(ev)
}

// Flush passes, once events were dropped, one event (Kind events) whose
// Data is what they carried, joined (see overflow), so a secret sent
// after a flood of events is still found; its Detail counts them, and
// says "cut" when even that was past its bounds. Call it once the stack
// is closed, before Dropped.
func (r *Recorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.flushed || r.dropped == 0 {
		r.flushed = true
		return
	}
	r.flushed = true
	o := &r.over
	d := fmt.Sprintf("%d network events over their budgets; Data: what they carried (lookups' labels, flows' data, request paths), joined", r.dropped)
	if o.cut > 0 {
		d += fmt.Sprintf("; %d bytes more cut: a flood past what moat searches", o.cut)
	}
	r.sink(moat.Event{Source: "network", Kind: moat.KindEvents, Detail: d,
		Data: strings.Join([]string{string(o.labels), string(o.first), string(o.longest), string(o.data), string(o.paths)}, " ")})
}

// Dropped is the number of events that did not fit.
func (r *Recorder) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}
