// Package capture bounds what a sandboxed program prints.
//
// A Stream keeps the first Limit bytes of one output stream, passes them on
// to a live writer as they come, and calls a breach function once when the
// stream goes past the limit. What comes after a breach is read and
// dropped, so the program never blocks on a full pipe while moat kills it.
// Every backend captures stdout and stderr this way.
package capture

import (
	"bytes"
	"io"
	"sync"
)

// Stream is a bounded capture of one output stream.
type Stream struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	limit     int64
	live      io.Writer
	breach    func()
	truncated bool
}

// New returns a Stream of at most limit bytes. live (may be nil) gets the
// kept bytes as they come; breach (may be nil) is called once, when the
// stream first goes past limit.
func New(live io.Writer, limit int64, breach func()) *Stream {
	return &Stream{live: live, limit: limit, breach: breach}
}

// Add appends b, up to the limit.
func (c *Stream) Add(b []byte) {
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
	if first && c.breach != nil {
		c.breach()
	}
}

// Write makes a Stream an io.Writer; it never fails.
func (c *Stream) Write(b []byte) (int, error) { c.Add(b); return len(b), nil }

// Drain reads r to its end (or error) into the Stream.
func (c *Stream) Drain(r io.Reader) {
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			c.Add(chunk[:n])
		}
		if err != nil {
			return
		}
	}
}

// Result returns what was kept and whether the stream went past the limit.
func (c *Stream) Result() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.truncated
}

// Head keeps the first N bytes written to W and drops the rest; a write
// never fails for the bytes dropped, so a child process writing to it is
// never blocked or killed by a full buffer. An error of W's is returned.
type Head struct {
	W io.Writer
	N int64
}

func (h *Head) Write(p []byte) (int, error) {
	if h.N > 0 {
		k := min(int64(len(p)), h.N)
		if _, err := h.W.Write(p[:k]); err != nil {
			return 0, err
		}
		h.N -= k
	}
	return len(p), nil
}
