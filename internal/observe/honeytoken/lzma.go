package honeytoken

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"

	"github.com/ulikunitz/xz/lzma"
)

// xz and LZMA, as Python's lzma module writes them: FORMAT_XZ (its first
// block, of the one LZMA2 filter lzma.compress uses), FORMAT_ALONE (the
// .lzma header) and FORMAT_RAW (an LZMA2 or LZMA1 stream with no header,
// tried at the start of a view as raw deflate is).
//
// A header names the dictionary its stream needs, up to 4 GiB, and a
// decoder allocates it whole: 13 bytes a program writes would make the
// host allocate gigabytes. No dictionary here is over [MaxInflate]: the
// output read is at most that, and a stream never refers further back
// than what it has output, so a larger one is never needed to read it.

var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0}

// dictFor is a header's dictionary size bounded for a read of
// MaxInflate bytes.
func dictFor(n uint32) int {
	return int(max(min(int64(n), MaxInflate), lzma.MinDictCap))
}

// unxz returns a reader of the first block of the xz stream at the start
// of b, or nil when it is none this reads.
func unxz(b []byte) io.Reader {
	if len(b) < 12+8 || !bytes.HasPrefix(b, xzMagic) {
		return nil
	}
	h := b[12:]
	if h[0] == 0 {
		return nil // the index: a stream of no block
	}
	size := (int(h[0]) + 1) * 4
	if len(h) < size || h[1]&3 != 0 {
		return nil // short, or more than one filter (BCJ, delta)
	}
	p := h[2 : size-4]
	for _, present := range []bool{h[1]&0x40 != 0, h[1]&0x80 != 0} { // compressed, uncompressed size
		if present {
			if _, n := binary.Uvarint(p); n > 0 {
				p = p[n:]
			} else {
				return nil
			}
		}
	}
	id, n := binary.Uvarint(p)
	if n <= 0 || id != 0x21 || len(p) < n+2 || p[n] != 1 || p[n+1] > 40 {
		return nil // not LZMA2
	}
	code := uint32(p[n+1])
	dict := uint32(2|code&1) << (code/2 + 11)
	if code == 40 {
		dict = 1<<32 - 1
	}
	r, err := lzma.Reader2Config{DictCap: dictFor(dict)}.NewReader2(bytes.NewReader(h[size:]))
	if err != nil {
		return nil
	}
	return r
}

// isAlone says whether b starts with what an .lzma header (13 bytes)
// holds and the range coder's first byte, always 0.
func isAlone(b []byte) bool {
	if len(b) < 14 || b[0] >= 9*5*5 || b[13] != 0 {
		return false
	}
	// What liblzma writes: a dictionary of 2^n or 2^n+2^(n-1) bytes (n
	// from 12), a size unknown or under a TiB but not 0. Zeros (a
	// decoded run of padding) are no header.
	dict := binary.LittleEndian.Uint32(b[1:5])
	d := dict >> bits.TrailingZeros32(dict)
	if dict < 1<<12 || d != 1 && d != 3 {
		return false
	}
	size := binary.LittleEndian.Uint64(b[5:13])
	return size == 1<<64-1 || size > 0 && size < 1<<40
}

// unlzma returns a reader of the .lzma stream at the start of b.
func unlzma(b []byte) io.Reader {
	if !isAlone(b) {
		return nil
	}
	return alone(b[0], binary.LittleEndian.Uint32(b[1:5]), b[5:13], b[13:])
}

// alone reads an LZMA1 stream of those properties, with its header's
// dictionary bounded (dictFor).
func alone(props byte, dict uint32, size []byte, data []byte) io.Reader {
	hdr := make([]byte, 13)
	hdr[0] = props
	binary.LittleEndian.PutUint32(hdr[1:5], uint32(dictFor(dict)))
	copy(hdr[5:], size)
	r, err := lzma.ReaderConfig{DictCap: MaxInflate}.NewReader(io.MultiReader(bytes.NewReader(hdr), bytes.NewReader(data)))
	if err != nil {
		return nil
	}
	return r
}

// unraw returns readers of b as a raw LZMA2 stream whose first chunk is
// compressed and resets the dictionary (control byte 0xe0 and up, the
// chunk's sizes, valid properties, the range coder's first byte 0; an
// uncompressed chunk holds the data as is, found in b itself) and as a
// raw LZMA1 stream of the default properties (lc=3, lp=0, pb=2: what
// FILTER_LZMA1 takes when a program gives none), which starts with 0.
// Any data may be such a stream: their dictionaries are [rawDict] (a
// MiB allocated for every view that starts with 0 was a third of the
// cost of the walk-flood's paths); a reference further back ends the
// read, what was read before it is kept.
const rawDict = 64 << 10

type stream struct {
	enc string
	r   io.Reader
}

func unraw(b []byte) []stream {
	var out []stream
	if len(b) < 5 {
		return out
	}
	if len(b) > 7 && b[0] >= 0xe0 && b[5] < 9*5*5 && b[5]%9+b[5]/9%5 <= 4 && b[6] == 0 {
		if r, err := (lzma.Reader2Config{DictCap: rawDict}).NewReader2(bytes.NewReader(b)); err == nil {
			out = append(out, stream{"raw lzma2", r})
		}
	}
	// The range coder's first byte, then its code: 4 zero bytes are
	// padding (which LZMA1 would decode to a MiB of output), no stream.
	if b[0] == 0 && binary.LittleEndian.Uint32(b[1:5]) != 0 {
		if r := alone(0x5d, rawDict, bytes.Repeat([]byte{0xff}, 8), b); r != nil {
			out = append(out, stream{"raw lzma", r})
		}
	}
	return out
}
