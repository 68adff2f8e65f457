package egress

import (
	"bytes"
	"encoding/binary"
	"strconv"
	"strings"
)

// Sniffed is what the first bytes of a TCP flow say about it.
type Sniffed struct {
	Proto  string // "http", "tls", "h2" (HTTP/2's preface) or ""
	Method string // HTTP
	Path   string // HTTP request target
	Host   string // HTTP Host header
	SNI    string // TLS server_name
	// Complete: the HTTP request (headers and a Content-Length body) or
	// the TLS ClientHello record has fully arrived, so the sinkhole can
	// answer without waiting for more.
	Complete bool
	// Len is, for a Complete HTTP request, its length: what follows is the
	// next request on the connection (pipelined).
	Len int
}

// h2Preface is an HTTP/2 client's connection preface (RFC 9113 §3.4).
const h2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

var httpMethods = []string{"GET ", "POST ", "PUT ", "HEAD ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "}

// Sniff parses the start of a client's byte stream. It never fails: what
// it cannot read it leaves empty. Strings are raw; escape before storing.
func Sniff(b []byte) Sniffed {
	if len(b) >= 5 && b[0] == 0x16 && b[1] == 3 {
		return sniffTLS(b)
	}
	if len(b) >= len(h2Preface) && string(b[:len(h2Preface)]) == h2Preface {
		return Sniffed{Proto: "h2", Complete: true}
	}
	for _, m := range httpMethods {
		if bytes.HasPrefix(b, []byte(m)) {
			return sniffHTTP(b)
		}
	}
	return Sniffed{}
}

func sniffHTTP(b []byte) Sniffed {
	s := Sniffed{Proto: "http"}
	end := bytes.Index(b, []byte("\r\n\r\n"))
	head := b
	if end >= 0 {
		head = b[:end]
	}
	lines := strings.Split(string(head), "\r\n")
	if f := strings.SplitN(lines[0], " ", 3); len(f) >= 2 {
		s.Method, s.Path = f[0], f[1]
	}
	clen := 0
	chunked := false
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "host":
			s.Host = v
		case "content-length":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				clen = n
			}
		case "transfer-encoding":
			chunked = strings.Contains(strings.ToLower(v), "chunked")
		}
	}
	if end >= 0 {
		body := len(b) - (end + 4)
		switch {
		case chunked:
			s.Len = chunkedEnd(b, end+4)
			s.Complete = s.Len > 0
		default:
			s.Complete = body >= clen
			if s.Complete {
				s.Len = end + 4 + clen
			}
		}
	}
	return s
}

// chunkedEnd walks the chunks of a body that starts at b[i:] and returns
// where the request ends (after the last chunk and the trailers), or 0
// when it has not all arrived (or is not chunked as it says).
func chunkedEnd(b []byte, i int) int {
	for i < len(b) {
		eol := bytes.Index(b[i:], []byte("\r\n"))
		if eol < 0 {
			return 0
		}
		size, _, _ := strings.Cut(string(b[i:i+eol]), ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 || n > int64(len(b)) {
			return 0
		}
		i += eol + 2
		if n == 0 { // the last chunk, the trailers, an empty line
			t := bytes.Index(b[i:], []byte("\r\n"))
			for t > 0 { // a trailer line
				i += t + 2
				t = bytes.Index(b[i:], []byte("\r\n"))
			}
			if t < 0 {
				return 0
			}
			return i + 2
		}
		i += int(n) + 2
	}
	return 0
}

// sniffTLS reads the SNI from a ClientHello in the first TLS record
// (RFC 8446 §4.1.2, RFC 6066 §3). Every length is checked.
func sniffTLS(b []byte) Sniffed {
	s := Sniffed{Proto: "tls"}
	recLen := int(binary.BigEndian.Uint16(b[3:5]))
	if len(b) >= 5+recLen {
		s.Complete = true
		b = b[5 : 5+recLen]
	} else {
		b = b[5:]
	}
	r := reader(b)
	if t, ok := r.u8(); !ok || t != 1 { // client_hello
		return s
	}
	if _, ok := r.n(3); !ok { // handshake length
		return s
	}
	if !r.skip(2 + 32) { // version, random
		return s
	}
	for _, w := range []int{1, 2, 1} { // session id, cipher suites, compression
		if _, ok := r.vec(w); !ok {
			return s
		}
	}
	exts, ok := r.vec(2)
	if !ok {
		return s
	}
	for len(exts) > 0 {
		typ, ok1 := exts.u16()
		data, ok2 := exts.vec(2)
		if !ok1 || !ok2 {
			return s
		}
		if typ != 0 { // server_name
			continue
		}
		list, ok := data.vec(2)
		for ok && len(list) > 0 {
			nt, ok1 := list.u8()
			name, ok2 := list.vec(2)
			if !ok1 || !ok2 {
				break
			}
			if nt == 0 { // host_name
				s.SNI = string(name)
				return s
			}
		}
	}
	return s
}

// reader is a bounds-checked cursor over a byte slice.
type reader []byte

func (r *reader) n(k int) ([]byte, bool) {
	if k < 0 || len(*r) < k {
		*r = nil
		return nil, false
	}
	b := (*r)[:k]
	*r = (*r)[k:]
	return b, true
}

func (r *reader) skip(k int) bool { _, ok := r.n(k); return ok }

func (r *reader) u8() (byte, bool) {
	b, ok := r.n(1)
	if !ok {
		return 0, false
	}
	return b[0], true
}

func (r *reader) u16() (int, bool) {
	b, ok := r.n(2)
	if !ok {
		return 0, false
	}
	return int(binary.BigEndian.Uint16(b)), true
}

// vec reads a vector with a w-byte length prefix.
func (r *reader) vec(w int) (reader, bool) {
	lb, ok := r.n(w)
	if !ok {
		return nil, false
	}
	l := 0
	for _, c := range lb {
		l = l<<8 | int(c)
	}
	b, ok := r.n(l)
	return reader(b), ok
}
