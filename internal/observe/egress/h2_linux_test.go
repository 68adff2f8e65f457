package egress

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// byteConn is a connection whose client sent b and reads nothing back.
type byteConn struct {
	net.Conn
	r io.Reader
}

func (c byteConn) Read(p []byte) (int, error)     { return c.r.Read(p) }
func (byteConn) Write(p []byte) (int, error)      { return len(p), nil }
func (byteConn) SetDeadline(time.Time) error      { return nil }
func (byteConn) SetReadDeadline(time.Time) error  { return nil }
func (byteConn) SetWriteDeadline(time.Time) error { return nil }
func (byteConn) Close() error                     { return nil }

// h2Frames is a client's HTTP/2 connection: its preface, then what write
// writes with a framer and an HPACK encoder.
func h2Frames(write func(fr *http2.Framer, enc func(kv ...string) []byte)) []byte {
	var b, hb bytes.Buffer
	b.WriteString(h2Preface)
	fr := http2.NewFramer(&b, nil)
	e := hpack.NewEncoder(&hb)
	write(fr, func(kv ...string) []byte {
		hb.Reset()
		for i := 0; i+1 < len(kv); i += 2 {
			_ = e.WriteField(hpack.HeaderField{Name: kv[i], Value: kv[i+1]})
		}
		return bytes.Clone(hb.Bytes())
	})
	return b.Bytes()
}

func serveBytes(b []byte) flow {
	f, _ := serveBytesPeak(b)
	return f
}

// serveBytesPeak also says the most the connection's open streams held.
func serveBytesPeak(b []byte) (flow, int) {
	var f flow
	h := (&Stack{}).newH2(byteConn{r: bytes.NewReader(b[len(h2Preface):])}, netip.MustParseAddrPort("203.0.113.9:80"))
	h.serve([]byte(h2Preface), &f)
	return f, h.peak
}

// TestH2Streams: a header block cut over CONTINUATION frames, a body over
// DATA frames with padding, trailers, a stream the client resets and one
// it never ends are each recorded as their request's text (a header
// name HTTP/2 forbids, in upper case, as sent); the raw
// frames are kept; past maxRequests streams the connection ends.
func TestH2Streams(t *testing.T) {
	b := h2Frames(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		_ = fr.WriteSettings()
		blk := enc(":method", "POST", ":scheme", "http", ":path", "/a", ":authority", "c2.example", "X-Upper", "value-one")
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk[:5]})
		_ = fr.WriteContinuation(1, false, blk[5:9])
		_ = fr.WriteContinuation(1, true, blk[9:])
		_ = fr.WriteDataPadded(1, false, []byte("body-part-1 "), make([]byte, 30))
		_ = fr.WriteData(1, false, []byte("body-part-2"))
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc("trailer-x", "after"), EndStream: true, EndHeaders: true})
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: enc(":method", "GET", ":path", "/reset", "k", "v3"), EndHeaders: true})
		_ = fr.WriteRSTStream(3, http2.ErrCodeCancel)
		_ = fr.WritePing(false, [8]byte{'p', 'i', 'n', 'g', 'd', 'a', 't', 'a'})
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 5, BlockFragment: enc(":method", "PUT", ":path", "/open"), EndHeaders: true})
		_ = fr.WriteData(5, false, []byte("never ended"))
	})
	f := serveBytes(b)
	if len(f.more) != 3 {
		t.Fatalf("%d requests, want 3: %+v", len(f.more), f.more)
	}
	for i, want := range []string{
		"POST /a HTTP/2\r\nhost: c2.example\r\n:scheme: http\r\nX-Upper: value-one\r\ntrailer-x: after\r\n\r\nbody-part-1 body-part-2",
		"GET /reset HTTP/2\r\nk: v3\r\n\r\n",
		"PUT /open HTTP/2\r\n\r\nnever ended",
	} {
		if string(f.more[i].req) != want {
			t.Errorf("request %d: %q, want %q", i, f.more[i].req, want)
		}
	}
	if !f.h2 || string(f.clear) != string(f.more[0].req) || !bytes.Contains(f.raw, []byte("pingdata")) {
		t.Errorf("flow: h2 %v, clear %q, raw %q", f.h2, f.clear, f.raw)
	}
	many := h2Frames(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		for id := uint32(1); id < 2*maxRequests*2; id += 2 {
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: enc(":method", "GET", ":path", "/"), EndStream: true, EndHeaders: true})
		}
	})
	if f := serveBytes(many); len(f.more) != maxRequests {
		t.Errorf("%d requests kept of %d, want %d", len(f.more), 2*maxRequests, maxRequests)
	}
}

// TestH2Bounds: a header block of one-byte references to a 4 KB field of
// the dynamic table (an HPACK bomb) keeps MaxCapture of fields; 64
// streams left open with 100 KB bodies hold h2Held in all.
func TestH2Bounds(t *testing.T) {
	bomb := h2Frames(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		var blk bytes.Buffer
		e := hpack.NewEncoder(&blk)
		_ = e.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
		_ = e.WriteField(hpack.HeaderField{Name: "x-big", Value: strings.Repeat("b", 4000)})
		for range 15000 {
			blk.WriteByte(0x80 | 62) // the dynamic table's first entry: x-big
		}
		b := blk.Bytes()
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: b[:16000], EndStream: true})
		_ = fr.WriteContinuation(1, true, b[16000:])
	})
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f := serveBytes(bomb)
	runtime.ReadMemStats(&after)
	if a := after.TotalAlloc - before.TotalAlloc; a > 16<<20 {
		t.Errorf("the bomb cost %d MB of allocations (60 MB of fields decoded)", a>>20)
	}
	if len(f.more) != 1 || len(f.more[0].req) > MaxCapture+4096 || len(f.more[0].req) < MaxCapture/2 {
		t.Fatalf("the bomb's request: %d requests, %d bytes", len(f.more), len(f.more[0].req))
	}
	open := h2Frames(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		for id := uint32(1); id < 2*maxRequests; id += 2 {
			_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: enc(":method", "POST", ":path", fmt.Sprintf("/%d", id)), EndHeaders: true})
		}
		// Interleaved: each stream's 60 KB a frame at a time, a letter
		// of its own (3.9 MB in all, within maxH2Read); none ends.
		for range 4 {
			for id := uint32(1); id < 2*maxRequests; id += 2 {
				_ = fr.WriteData(id, false, bytes.Repeat([]byte{byte('A' + id%64)}, 15000))
			}
		}
	})
	f, peak := serveBytesPeak(open)
	if peak > h2Held {
		t.Errorf("64 open streams held %d bytes at most, want %d", peak, h2Held)
	}
	// Spilled in parts, every stream's body is kept whole.
	got := map[byte]int{}
	for _, x := range f.more {
		for _, c := range x.req {
			if c >= 'A' && c < 'A'+64 {
				got[c]++
			}
		}
	}
	for id := uint32(1); id < 2*maxRequests; id += 2 {
		if c := byte('A' + id%64); got[c] < 4*15000 {
			t.Errorf("stream %d: %d bytes of its body kept, want %d", id, got[c], 4*15000)
			break
		}
	}
}

// FuzzH2: whatever follows the preface, the sink neither panics nor
// keeps more than its bounds.
func FuzzH2(f *testing.F) {
	f.Add(h2Frames(func(fr *http2.Framer, enc func(kv ...string) []byte) {
		_ = fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: enc(":method", "GET", ":path", "/x"), EndStream: true, EndHeaders: true})
		_ = fr.WriteWindowUpdate(1, 100)
	})[len(h2Preface):])
	f.Add([]byte(strings.Repeat("\x00", 40)))
	f.Fuzz(func(t *testing.T, b []byte) {
		fl := serveBytes(append([]byte(h2Preface), b...))
		if len(fl.more) > maxRequests || len(fl.raw) > MaxCapture {
			t.Fatalf("%d requests, %d raw bytes", len(fl.more), len(fl.raw))
		}
		for _, x := range fl.more {
			if len(x.req) > 3*MaxCapture {
				t.Fatalf("a request of %d bytes", len(x.req))
			}
		}
	})
}
