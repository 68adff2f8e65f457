// Package termsafe escapes what a sandboxed program prints before it
// reaches a terminal, so the program cannot move the cursor, retitle the
// window, rewrite earlier lines or inject input with escape sequences.
//
// Newline and tab pass; every other C0 control, DEL and the C1 controls
// (U+0080–U+009F, two bytes in UTF-8) are written as \xNN. Writer keeps
// state across writes, so a sequence split between two writes is still
// caught.
package termsafe

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Writer escapes control characters on the way to W.
type Writer struct {
	W       io.Writer
	pending bool // the last byte written was 0xC2, the lead of a C1 control
}

// Write escapes p and writes it; it reports len(p) on success.
func (w *Writer) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+16)
	for _, b := range p {
		if w.pending {
			w.pending = false
			if b >= 0x80 && b <= 0x9f {
				out = fmt.Appendf(out, `\xc2\x%02x`, b)
				continue
			}
			out = append(out, 0xc2)
		}
		switch {
		case b == 0xc2:
			w.pending = true
		case b == '\n' || b == '\t':
			out = append(out, b)
		case b < 0x20 || b == 0x7f:
			out = fmt.Appendf(out, `\x%02x`, b)
		default:
			out = append(out, b)
		}
	}
	if _, err := w.W.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a 0xC2 held back at the end of the stream.
func (w *Writer) Flush() error {
	if !w.pending {
		return nil
	}
	w.pending = false
	_, err := w.W.Write([]byte{0xc2})
	return err
}

// String escapes s in one go.
func String(s string) string {
	var b stringWriter
	w := &Writer{W: &b}
	_, _ = w.Write([]byte(s))
	_ = w.Flush()
	return string(b)
}

type stringWriter []byte

func (s *stringWriter) Write(p []byte) (int, error) { *s = append(*s, p...); return len(p), nil }

// Name bounds an untrusted name (a path from an archive or a sandbox) to
// max bytes and replaces every control character with '?', for a one-line
// message or report.
func Name(s string, max int) string {
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

// Line returns the first line of s, trimmed of surrounding white space and,
// when max > 0, cut to at most max bytes on a rune boundary: for texts from
// outside moat (a tool's stderr, an init's diagnostics) shown as one line of
// an error. It does not escape; String does.
func Line(s string, max int) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	if max > 0 && len(s) > max {
		s = s[:max]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}

// Inline escapes s for one line of moat's own output: what String does,
// and newline, carriage return and tab as \n, \r, \t, and Unicode's line
// and paragraph separators and bidirectional overrides as \uXXXX, so an
// untrusted name (a test's, a file's) can neither start a line of its
// own nor reorder what follows it.
func Inline(s string) string {
	var b strings.Builder
	for _, r := range String(s) {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == 0x85 || r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
