// Package termsafe escapes what a sandboxed program prints before it
// reaches a terminal, so the program cannot move the cursor, retitle the
// window, rewrite earlier lines or inject input with escape sequences.
//
// Newline and tab pass; every other C0 control, DEL and the C1 controls
// (U+0080–U+009F, two bytes in UTF-8) are written as \xNN, and the
// bidirectional controls and line separators as \uXXXX. Writer keeps
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
	W    io.Writer
	held []byte // the start of a sequence that may be a control (0xC2, 0xD8, 0xE2 and what followed), cut by the end of a write
}

// Write escapes p and writes it; it reports len(p) on success.
func (w *Writer) Write(p []byte) (int, error) {
	in := p
	if len(w.held) > 0 {
		in = append(w.held, p...)
		w.held = nil
	}
	out := make([]byte, 0, len(in)+16)
	for i := 0; i < len(in); i++ {
		b := in[i]
		switch {
		case b == '\n' || b == '\t':
			out = append(out, b)
		case b < 0x20 || b == 0x7f:
			out = fmt.Appendf(out, `\x%02x`, b)
		case b == 0xc2 || b == 0xd8 || b == 0xe2:
			n := 2
			if b == 0xe2 {
				n = 3
			}
			if i+n > len(in) {
				// Whether it is a control is in the next write.
				w.held = append([]byte(nil), in[i:]...)
				i = len(in)
				continue
			}
			if r, ok := control(in[i : i+n]); ok {
				if r <= 0x9f {
					out = fmt.Appendf(out, `\xc2\x%02x`, r)
				} else {
					out = fmt.Appendf(out, `\u%04x`, r)
				}
				i += n - 1
				continue
			}
			out = append(out, b)
		default:
			out = append(out, b)
		}
	}
	if _, err := w.W.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// control says whether seq, the UTF-8 of one rune, is a C1 control or a
// character that changes how the rest of the line is laid out: the
// bidirectional overrides, embeddings, isolates and marks (U+202A–202E,
// U+2066–2069, U+200E, U+200F, U+061C), which a program's last line left
// open would apply to moat's own report line after it, and the line and
// paragraph separators. Inline escapes the same set.
func control(seq []byte) (rune, bool) {
	r, size := utf8.DecodeRune(seq)
	if r == utf8.RuneError || size != len(seq) {
		return 0, false
	}
	switch {
	case r >= 0x80 && r <= 0x9f,
		r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) || r == 0x200e || r == 0x200f || r == 0x061c:
		return r, true
	}
	return 0, false
}

// Flush writes what is held back at the end of the stream (never a
// whole control: only the start of a sequence that was not one).
func (w *Writer) Flush() error {
	if len(w.held) == 0 {
		return nil
	}
	h := w.held
	w.held = nil
	out := make([]byte, 0, 16)
	for _, b := range h {
		if b < 0x20 && b != '\n' && b != '\t' || b == 0x7f {
			out = fmt.Appendf(out, `\x%02x`, b)
		} else {
			out = append(out, b)
		}
	}
	_, err := w.W.Write(out)
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
// and paragraph separators, bidirectional overrides and invisible
// characters as \uXXXX, so an untrusted name (a test's, a file's) can
// neither start a line of its own, nor reorder what follows it, nor look
// like another name ("a\u200bb.desktop" is not "ab.desktop").
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
		case Unseen(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Unseen says whether r is shown escaped in a name on moat's pages (the
// HTML report, SARIF's messages) as on its lines ([Inline]): Unicode's
// line and paragraph separators, bidirectional overrides, isolates and
// marks, and the invisible characters. moat's own text holds none.
func Unseen(r rune) bool {
	return r == 0x85 || r == 0x2028 || r == 0x2029 || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069) ||
		r == 0x200e || r == 0x200f || r == 0x061c || invisible(r)
}

// ShowUnseen returns b with each [Unseen] character written as prefix
// and its four hex digits: `\u` in HTML, `\\u` inside a JSON string
// (a backslash, escaped, and u), so that the reader sees it.
func ShowUnseen(b []byte, prefix string) []byte {
	var out []byte
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x80 && Unseen(r) {
			if out == nil {
				out = append(make([]byte, 0, len(b)+64), b[:i]...)
			}
			out = fmt.Appendf(out, "%s%04x", prefix, r)
		} else if out != nil {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	if out == nil {
		return b
	}
	return out
}

// invisible says whether r takes no room on a terminal: the zero-width
// space, joiners and word joiner, the invisible operators, the soft
// hyphen, the Mongolian vowel separator and the byte-order mark. In a
// program's own output they stay (emoji sequences join with U+200D); in
// a name on one of moat's lines they are escaped (Inline).
func invisible(r rune) bool {
	return (r >= 0x200b && r <= 0x200d) || (r >= 0x2060 && r <= 0x2064) || r == 0xfeff || r == 0x00ad || r == 0x180e
}
