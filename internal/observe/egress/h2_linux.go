package egress

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// HTTP/2 (RFC 9113) in the sink. A client that speaks it with prior
// knowledge over TCP (h2c) or negotiates it over TLS (ALPN "h2") sends
// its headers HPACK-coded, their strings mostly Huffman-coded: no byte
// search of the flow finds a value in them, and a body goes in DATA
// frames that follow only once the server has spoken. The sink answers
// as an HTTP/2 server (SETTINGS, window updates, a response per stream)
// and records each stream as the HTTP/1.1-like text of its request,
// decoded: "POST /path HTTP/2", a host line for :authority, every header
// field and the body. The raw frames are kept too (a value in a PING,
// GOAWAY or unknown frame).

// maxH2Read bounds the bytes read from one HTTP/2 connection.
const maxH2Read = 4 << 20

// h2Held bounds what one connection's open streams hold at once (their
// header blocks, decoded fields and bodies): 64 streams of 128 KiB each
// over 256 flows would be gigabytes in moat's own process.
const h2Held = 2 * MaxCapture

// h2Window is the receive window the sink opens per stream and for the
// connection: a client sends a body of this much without waiting.
const h2Window = 1 << 20

// h2Stream is one stream's request as far as it came.
type h2Stream struct {
	head  []byte // the header block being assembled (HEADERS, CONTINUATION)
	text  []byte // the request as text: its fields, then its body
	body  []byte
	heads int    // header blocks decoded (a second one is trailers)
	ended bool   // END_STREAM or RST_STREAM
	kept  bool   // recorded (and answered, if it ended)
	win   int64  // the client's window for the sink's answer
	out   []byte // answer bytes still to send, flow control permitting
	fin   bool   // out ends the stream
	line  []byte // the start of its header text, for the answer
	size  int    // bytes of text and body it has held (MaxCapture)
	// spilled: what it held, moved to the stack's kept bytes (spill)
	spilled [][]byte
}

// h2Conn is the sink's side of one HTTP/2 connection.
type h2Conn struct {
	s    *Stack
	c    net.Conn
	dst  netip.AddrPort
	fr   *http2.Framer
	dec  *hpack.Decoder
	enc  *hpack.Encoder
	ebuf bytes.Buffer

	streams map[uint32]*h2Stream
	order   []uint32 // streams in the order they opened
	connWin int64    // the client's connection window for the answers
	initWin int64    // its initial stream window
	maxOut  int      // its largest frame
	last    uint32   // the highest stream the sink read
	done    []exchange
	held    int                 // bytes the open streams hold (h2Held)
	peak    int                 // the most they held
	fields  []hpack.HeaderField // the header block being decoded
	fsize   int
}

// serveH2 serves an HTTP/2 connection whose client preface starts pre
// (pre holds what was read of c so far), recording every stream's
// request as an exchange of f.
func (s *Stack) serveH2(c net.Conn, dst netip.AddrPort, pre []byte, f *flow) {
	s.newH2(c, dst).serve(pre, f)
}

func (s *Stack) newH2(c net.Conn, dst netip.AddrPort) *h2Conn {
	return &h2Conn{s: s, c: c, dst: dst, streams: map[uint32]*h2Stream{}, connWin: 65535, initWin: 65535, maxOut: 16384}
}

func (h *h2Conn) serve(pre []byte, f *flow) {
	c := h.c
	f.h2 = true
	raw := &capture{max: MaxCapture}
	var src io.Reader = &deadlineReader{c: c, end: time.Now().Add(keepAliveTimeout)}
	src = io.TeeReader(io.LimitReader(io.MultiReader(bytes.NewReader(pre[len(h2Preface):]), src), maxH2Read), raw)
	h.fr = http2.NewFramer(c, src)
	h.fr.SetMaxReadFrameSize(1 << 20)
	h.dec = hpack.NewDecoder(4096, nil)
	h.dec.SetMaxStringLength(MaxCapture)
	h.dec.SetEmitFunc(h.emit)
	h.enc = hpack.NewEncoder(&h.ebuf)
	h.write(func() error {
		if err := h.fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: maxRequests},
			http2.Setting{ID: http2.SettingInitialWindowSize, Val: h2Window}); err != nil {
			return err
		}
		return h.fr.WriteWindowUpdate(0, h2Window-65535)
	})
	code := http2.ErrCodeNo
	for h.read() {
	}
	if len(h.order) >= maxRequests {
		code = http2.ErrCodeRefusedStream
	}
	h.write(func() error { return h.fr.WriteGoAway(h.last, code, nil) })
	for _, id := range h.order {
		if st := h.streams[id]; !st.kept {
			h.keep(st) // an unfinished request is kept as far as it came
		}
	}
	f.raw = raw.b
	f.more = append(f.more, h.done...)
	if len(f.more) > 0 {
		f.clear = f.more[0].req
	}
}

// deadlineReader reads c with an idle timeout per read, up to end.
type deadlineReader struct {
	c   net.Conn
	end time.Time
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	_ = r.c.SetReadDeadline(minTime(r.end, time.Now().Add(idleTimeout)))
	return r.c.Read(p)
}

// write runs one write of frames under a write deadline.
func (h *h2Conn) write(w func() error) bool {
	_ = h.c.SetWriteDeadline(time.Now().Add(idleTimeout))
	return w() == nil
}

// read reads and handles one frame; false ends the connection.
func (h *h2Conn) read() bool {
	fr, err := h.fr.ReadFrame()
	if err != nil {
		var se http2.StreamError
		if errors.As(err, &se) {
			if st := h.streams[se.StreamID]; st != nil {
				st.ended = true
				h.keep(st)
			}
			return h.write(func() error { return h.fr.WriteRSTStream(se.StreamID, se.Code) })
		}
		return false
	}
	id := fr.Header().StreamID
	switch fr := fr.(type) {
	case *http2.SettingsFrame:
		if fr.IsAck() {
			return true
		}
		_ = fr.ForeachSetting(func(st http2.Setting) error {
			switch st.ID {
			case http2.SettingInitialWindowSize:
				for _, s := range h.streams {
					s.win += int64(st.Val) - h.initWin
				}
				h.initWin = int64(st.Val)
			case http2.SettingMaxFrameSize:
				h.maxOut = int(min(max(st.Val, 16384), 1<<20))
			case http2.SettingHeaderTableSize:
				h.enc.SetMaxDynamicTableSizeLimit(st.Val)
			}
			return nil
		})
		return h.write(h.fr.WriteSettingsAck) && h.flush()
	case *http2.PingFrame:
		if fr.IsAck() {
			return true
		}
		return h.write(func() error { return h.fr.WritePing(true, fr.Data) })
	case *http2.WindowUpdateFrame:
		if id == 0 {
			h.connWin += int64(fr.Increment)
		} else if st := h.streams[id]; st != nil {
			st.win += int64(fr.Increment)
		}
		return h.flush()
	case *http2.HeadersFrame:
		st := h.streams[id]
		if st == nil {
			if len(h.order) >= maxRequests {
				return false
			}
			st = &h2Stream{win: h.initWin}
			h.streams[id] = st
			h.order = append(h.order, id)
			h.last = max(h.last, id)
		}
		h.held -= len(st.head)
		st.head = st.head[:0]
		h.add(st, &st.head, fr.HeaderBlockFragment())
		st.ended = st.ended || fr.StreamEnded()
		if fr.HeadersEnded() {
			return h.headers(id, st)
		}
	case *http2.ContinuationFrame:
		if st := h.streams[id]; st != nil {
			h.add(st, &st.head, fr.HeaderBlockFragment())
			if fr.HeadersEnded() {
				return h.headers(id, st)
			}
		}
	case *http2.DataFrame:
		st := h.streams[id]
		if st == nil || st.kept {
			n := fr.Header().Length
			return n == 0 || h.write(func() error { return h.fr.WriteWindowUpdate(0, n) })
		}
		h.add(st, &st.body, fr.Data())
		// The window the frame used (its padding too) opens again, so
		// the client goes on sending.
		if n := fr.Header().Length; n > 0 && !fr.StreamEnded() {
			if !h.write(func() error {
				if err := h.fr.WriteWindowUpdate(0, n); err != nil {
					return err
				}
				return h.fr.WriteWindowUpdate(id, n)
			}) {
				return false
			}
		} else if n > 0 && !h.write(func() error { return h.fr.WriteWindowUpdate(0, n) }) {
			return false
		}
		if fr.StreamEnded() {
			st.ended = true
			return h.answer(id, st)
		}
	case *http2.RSTStreamFrame:
		if st := h.streams[id]; st != nil {
			st.ended = true
			st.out = nil
			h.keep(st)
		}
	case *http2.GoAwayFrame:
		return false // its debug data is in the raw frames kept
	}
	return true
}

// appendCapped appends p to b up to MaxCapture bytes in all.
func appendCapped(b, p []byte) []byte {
	return append(b, p[:min(len(p), max(0, MaxCapture-len(b)))]...)
}

// add appends p to a buffer of an open stream, within MaxCapture a header
// block and a request (its text and body) and h2Held for the connection: past it, the open stream that holds the
// most is recorded as far as it came (spill) and its buffers freed.
func (h *h2Conn) add(st *h2Stream, b *[]byte, p []byte) {
	head := b == &st.head
	if head {
		p = p[:min(len(p), max(0, MaxCapture-len(*b)))]
	} else {
		p = p[:min(len(p), max(0, MaxCapture-st.size))]
	}
	for h.held+len(p) > h2Held && h.spill() {
	}
	n := min(len(p), max(0, h2Held-h.held))
	h.held += n
	h.peak = max(h.peak, h.held)
	if !head {
		st.size += n
	}
	*b = append(*b, p[:n]...)
}

// spill moves what the open stream that holds the most holds to the
// stack's kept bytes, and frees it: streams interleaved to fill the
// connection's bound lose nothing of the first MaxCapture bytes each
// sends.
func (h *h2Conn) spill() bool {
	var big *h2Stream
	for _, id := range h.order {
		if st := h.streams[id]; !st.kept && (big == nil || len(st.text)+len(st.body) > len(big.text)+len(big.body)) {
			big = st
		}
	}
	if big == nil || len(big.text)+len(big.body) == 0 {
		return false
	}
	h.spillStream(big)
	return true
}

// emit collects a decoded header field, within MaxCapture a block: an
// indexed field is one byte of the block however long (an HPACK bomb).
func (h *h2Conn) emit(f hpack.HeaderField) {
	if h.fsize += len(f.Name) + len(f.Value) + 4; h.fsize <= MaxCapture {
		h.fields = append(h.fields, f)
	}
}

// headers decodes a stream's header block: its request line and fields,
// or (a later block) its trailers. A block that does not decode ends the
// connection (RFC 9113 §4.3: the decoder's state is lost).
func (h *h2Conn) headers(id uint32, st *h2Stream) bool {
	h.fields, h.fsize = h.fields[:0], 0
	_, err := h.dec.Write(st.head)
	if err == nil {
		err = h.dec.Close()
	}
	h.held -= len(st.head)
	st.head = st.head[:0]
	if err != nil {
		return false
	}
	fields := h.fields
	st.heads++
	if st.kept {
		return true // decoded for the table's sake; the request is recorded
	}
	var b bytes.Buffer
	if st.heads == 1 {
		var method, path, authority string
		for _, f := range fields {
			switch f.Name {
			case ":method":
				method = f.Value
			case ":path":
				path = f.Value
			case ":authority":
				authority = f.Value
			}
		}
		b.WriteString(cmp.Or(method, "-") + " " + cmp.Or(path, "-") + " HTTP/2\r\n")
		if authority != "" {
			b.WriteString("host: " + authority + "\r\n")
		}
	}
	for _, f := range fields {
		if st.heads == 1 && (f.Name == ":method" || f.Name == ":path" || f.Name == ":authority") {
			continue
		}
		b.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	if st.heads == 1 {
		st.line = bytes.Clone(b.Bytes()[:min(b.Len(), maxField*8)])
	}
	h.add(st, &st.text, b.Bytes())
	if st.heads == 1 && !st.ended && strings.EqualFold(field(fields, "expect"), "100-continue") {
		// A client that waits for leave to send its body gets it.
		if !h.sendHeaders(id, "100", nil, false) {
			return false
		}
	}
	if st.ended {
		return h.answer(id, st)
	}
	return true
}

func field(fields []hpack.HeaderField, name string) string {
	for _, f := range fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// request is what a stream holds of its request as HTTP/1.1-like text:
// its header fields, a blank line, its body; after a spill, the body's
// next bytes alone.
func (st *h2Stream) request() []byte {
	r := append([]byte(nil), st.text...)
	if len(st.spilled) == 0 {
		r = append(r, "\r\n"...)
	}
	return append(r, st.body...)
}

// keep records a stream's request as an exchange, once, and returns
// the sink's answer to it.
func (h *h2Conn) keep(st *h2Stream) []byte {
	st.kept = true
	h.held -= len(st.head)
	st.head = nil
	ask := append(append(bytes.Clone(st.line), "\r\n"...), st.body...)
	h.spillStream(st)
	reply, x := sinkAnswer(h.s.ans, h.dst, ask)
	x.ws = false
	x.req = bytes.Join(st.spilled, nil)
	st.spilled = nil
	h.done = append(h.done, x)
	return reply
}

// spillStream moves what a stream holds to the parts the stack keeps
// (within its run's budget, MaxRunCapture, as every request it keeps).
func (h *h2Conn) spillStream(st *h2Stream) {
	st.spilled = append(st.spilled, h.s.keep(st.request()))
	h.held -= len(st.text) + len(st.body)
	st.text, st.body = nil, nil
}

// answer answers a stream whose request has ended: what the sink would
// answer it over HTTP/1.1, as HEADERS and DATA frames.
func (h *h2Conn) answer(id uint32, st *h2Stream) bool {
	if st.kept {
		return true
	}
	status, hdr, body := splitReply(h.keep(st))
	if status == "101" { // no upgrade in HTTP/2
		status, hdr, body = "200", nil, nil
	}
	if !h.sendHeaders(id, status, hdr, len(body) == 0) {
		return false
	}
	if len(body) > 0 {
		st.out, st.fin = body, true
	}
	return h.flush()
}

// sendHeaders sends a response's HEADERS frame (one: the sink's answers
// are small).
func (h *h2Conn) sendHeaders(id uint32, status string, hdr [][2]string, end bool) bool {
	h.ebuf.Reset()
	_ = h.enc.WriteField(hpack.HeaderField{Name: ":status", Value: status})
	for _, kv := range hdr {
		_ = h.enc.WriteField(hpack.HeaderField{Name: kv[0], Value: kv[1]})
	}
	return h.write(func() error {
		return h.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: h.ebuf.Bytes(), EndStream: end, EndHeaders: true})
	})
}

// flush sends what answers the client's windows let through.
func (h *h2Conn) flush() bool {
	for _, id := range h.order {
		st := h.streams[id]
		for len(st.out) > 0 && h.connWin > 0 && st.win > 0 {
			n := int(min(int64(len(st.out)), int64(h.maxOut), h.connWin, st.win))
			chunk, end := st.out[:n], st.fin && n == len(st.out)
			if !h.write(func() error { return h.fr.WriteData(id, end, chunk) }) {
				return false
			}
			st.out = st.out[n:]
			h.connWin -= int64(n)
			st.win -= int64(n)
		}
	}
	return true
}

// splitReply splits an HTTP/1.1 answer of the sink into its status code,
// the header fields HTTP/2 carries (lower-case names, no connection
// fields) and its body.
func splitReply(reply []byte) (status string, hdr [][2]string, body []byte) {
	head, body, _ := bytes.Cut(reply, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	if f := strings.Fields(lines[0]); len(f) >= 2 {
		status = f[1]
	}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		switch k {
		case "connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection":
			continue
		}
		hdr = append(hdr, [2]string{k, strings.TrimSpace(v)})
	}
	return cmp.Or(status, "200"), hdr, body
}
