package gvisor

import (
	"bytes"
	"io"
	"sync"
)

// capture keeps the first limit bytes of a stream, passes them on to live
// as they come, and calls breach once when the stream goes past limit;
// what comes after is read and dropped so the writer never blocks.
type capture struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int64
	live      io.Writer
	breach    func()
	truncated bool
}

func newCapture(live io.Writer, limit int64, breach func()) *capture {
	return &capture{live: live, limit: limit, breach: breach}
}

func (c *capture) drain(r io.Reader) {
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			c.add(chunk[:n])
		}
		if err != nil {
			return
		}
	}
}

func (c *capture) add(b []byte) {
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

func (c *capture) result() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.truncated
}
