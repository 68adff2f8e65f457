package observe

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// Collector takes the audit hook's lines, whatever carried them (a FIFO,
// container frames, a file), and keeps what fits: lines are parsed by
// audit.Parse (so always Source "audit"), at most MaxAuditEvents: up to
// AuditReserve of them of the [Priority] kinds, the others at a sustained
// AuditRate per second after a burst of AuditBurst; the rest is counted
// as dropped. Safe for concurrent use.
type Collector struct {
	now func() int64 // ms since the run's start, for TimeMS

	mu      sync.Mutex
	events  []moat.Event
	dropped int
	prio    int // kept events of Priority kinds, at most AuditReserve
	bulk    int // the others, at most MaxAuditEvents-AuditReserve
	results int // kept events of KindTestReport, at most WitnessReserve
	bucket  float64
	last    time.Time
	partial []byte
	skip    bool // in the rest of an over-long line
	// ahead: every line is ignored until the first hello (UntilHello).
	ahead bool
}

// NewCollector returns a Collector that stamps events with now().
func NewCollector(now func() int64) *Collector {
	return &Collector{now: now, bucket: AuditBurst, last: time.Now()}
}

// Line takes one line without its newline.
func (c *Collector) Line(b []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.line(b)
}

// UntilHello makes c ignore every line until the first "hello": a
// prestarted interpreter's stub (internal/sandbox/nsinit's warm.py)
// acts before it says hello for its run, and what it does is moat's, not
// the program's. Nothing of the program runs before that hello, and a
// hello it forges later changes nothing.
func (c *Collector) UntilHello() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ahead = true
}

func (c *Collector) line(b []byte) {
	ev, ok := audit.Parse(b)
	if c.ahead {
		if !ok || ev.Kind != moat.KindHello {
			return
		}
		c.ahead = false
	}
	if !ok {
		c.dropped++
		return
	}
	if ev.Kind == moat.KindTestReport {
		// The test runner's records have a reserve of their own: a
		// suite's events cannot crowd them out (their absence is a
		// finding), nor they the others.
		if c.results >= WitnessReserve {
			c.dropped++
			return
		}
		c.results++
	} else if Priority(ev) {
		if c.prio >= AuditReserve {
			c.dropped++
			return
		}
		c.prio++
	} else {
		now := time.Now()
		c.bucket = min(AuditBurst, c.bucket+now.Sub(c.last).Seconds()*AuditRate)
		c.last = now
		if c.bucket < 1 || c.bulk >= MaxAuditEvents-AuditReserve {
			c.dropped++
			return
		}
		c.bucket--
		c.bulk++
	}
	ev.TimeMS = c.now()
	c.events = append(c.events, ev)
}

// Write takes a stream of lines in pieces of any size; lines longer than
// audit.MaxLine are dropped.
func (c *Collector) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !c.skip {
				c.partial = append(c.partial, p...)
				if len(c.partial) > audit.MaxLine {
					c.partial, c.skip = c.partial[:0], true
					c.dropped++
				}
			}
			break
		}
		if c.skip {
			c.skip = false
		} else {
			line := append(c.partial, p[:i]...)
			if len(line) > audit.MaxLine {
				c.dropped++
			} else {
				c.line(line)
			}
		}
		c.partial = c.partial[:0]
		p = p[i+1:]
	}
	return n, nil
}

// Drop counts n events that were lost before they reached the Collector.
func (c *Collector) Drop(n int) {
	c.mu.Lock()
	c.dropped += n
	c.mu.Unlock()
}

// Events returns what was kept and how many were dropped.
func (c *Collector) Events() ([]moat.Event, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]moat.Event(nil), c.events...), c.dropped
}

// ReadUntil feeds c the lines read from r until endMark (a secret of the
// reader's, so the program cannot end the reading early; it ends a line
// of its own or one the program left unfinished) or the end of r. A line longer than audit.MaxLine is counted
// as dropped. The reader of a FIFO must never stop before the end: the
// hook's writes are non-blocking and would be lost.
func (c *Collector) ReadUntil(r io.Reader, endMark []byte) {
	br := bufio.NewReaderSize(r, audit.MaxLine)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			c.Drop(1)
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of it
				_, err = br.ReadSlice('\n')
			}
			continue
		}
		if err != nil {
			return
		}
		if bytes.HasSuffix(line, endMark) {
			// The mark ends the reading also behind a line the program
			// left unfinished (written without its newline): that line
			// is no event, and counted. Only the reader knows the mark.
			if len(line) > len(endMark) {
				c.Drop(1)
			}
			return
		}
		c.Line(line[:len(line)-1])
	}
}
