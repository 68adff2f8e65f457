package container

import (
	"bytes"
	"io"
	"sync"
)

// Capture keeps the first limit bytes of a stream, passes them on to live
// as they come, and calls breach once when the stream goes past limit.
type Capture struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int64
	live      io.Writer
	breach    func()
	truncated bool
}

// NewCapture returns a Capture of at most limit bytes.
func NewCapture(live io.Writer, limit int64, breach func()) *Capture {
	return &Capture{live: live, limit: limit, breach: breach}
}

// Add appends b, up to the limit.
func (c *Capture) Add(b []byte) {
	c.mu.Lock()
	room := c.limit - int64(c.buf.Len())
	over := int64(len(b)) > room
	if over {
		b = b[:max(room, 0)]
	}
	c.buf.Write(b)
	first := over && !c.truncated
	if over {
		c.truncated = true
	}
	c.mu.Unlock()
	if c.live != nil && len(b) > 0 {
		_, _ = c.live.Write(b)
	}
	if first {
		c.breach()
	}
}

// Write makes a Capture an io.Writer (it never fails).
func (c *Capture) Write(b []byte) (int, error) { c.Add(b); return len(b), nil }

// Result returns what was kept and whether the stream went past the cap.
func (c *Capture) Result() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.truncated
}
