package egress

import (
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

// Recorder bounds the events of a run and hands them to a sink; it is
// safe for concurrent use.
type Recorder struct {
	mu      sync.Mutex
	n       int
	dropped int
	data    int // bytes of Data passed on
	sink    func(moat.Event)
}

// NewRecorder returns a Recorder that passes at most MaxEvents events to
// sink, in order.
func NewRecorder(sink func(moat.Event)) *Recorder { return &Recorder{sink: sink} }

// Record stamps ev as a network event and passes it on, or counts it as
// dropped.
func (r *Recorder) Record(ev moat.Event) {
	ev.Source = "network"
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n >= MaxEvents {
		r.dropped++
		return
	}
	r.n++
	if r.data+len(ev.Data) > MaxRunCapture && len(ev.Data) > SmallCapture {
		ev.Data = ev.Data[:SmallCapture] + "..."
		ev.Detail += " (data cut: the run's capture budget is spent)"
	}
	r.data += len(ev.Data)
	r.sink(ev)
}

// Dropped is the number of events that did not fit.
func (r *Recorder) Dropped() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}
