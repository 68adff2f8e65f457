package honeytoken

import (
	"encoding/binary"
	"sync"
)

// The search of a value in pieces: a program that splits a secret over
// several flows, datagrams, requests or lookups and frames each piece
// (a sequence number, a header, a key=value) or sends them out of order
// leaves no stretch of the joined data that holds the value whole (red
// team, session 24: the AWS secret 10 bytes a connection, each behind
// "0:", "1:", ... was a medium network finding). [Matcher.Pieces] looks
// for the value's pieces in each part and its decodings instead, and
// finds the value when the pieces of two parts or more cover all of it.

// minPiece is the shortest piece of a value counted. A piece of 6 bytes
// of a random value is in unrelated data by a chance of about 2^-35 a
// position (base64's alphabet), and a value is found only when pieces
// cover every byte of it: 7 pieces or more of a 40-byte value.
const minPiece = 6

// maxPieceParts bounds the parts searched in one call.
const maxPieceParts = 512

type pieceRef struct{ val, off int32 }

type pieceIndex struct {
	once sync.Once
	at   map[uint64][]pieceRef
}

func gram(b []byte) uint64 {
	var w [8]byte
	copy(w[:], b[:minPiece])
	return binary.LittleEndian.Uint64(w[:])
}

func (m *Matcher) pieceGrams() map[uint64][]pieceRef {
	m.pieces.once.Do(func() {
		m.pieces.at = map[uint64][]pieceRef{}
		for i, t := range m.tokens {
			v := []byte(t.Value)
			for off := 0; off+minPiece <= len(v); off++ {
				g := gram(v[off:])
				m.pieces.at[g] = append(m.pieces.at[g], pieceRef{int32(i), int32(off)})
			}
		}
	})
	return m.pieces.at
}

// Pieces returns every token whose value the parts hold in pieces of
// [minPiece] bytes or more, raw or in any layer [Walk] decodes from a
// part (each part on its own: a hex piece is decoded from its hex), that
// together cover the whole value, at least two parts contributing and
// none holding it whole (Match finds that). The order of the parts and
// what lies between and around the pieces do not matter. The work counts
// against the matcher's limit and deadline as Match's does.
func (m *Matcher) Pieces(parts [][]byte) []Hit {
	if len(m.tokens) == 0 || len(parts) < 2 {
		return nil
	}
	at := m.pieceGrams()
	cover := make([][]bool, len(m.tokens))
	whole := make([]bool, len(m.tokens))
	from := make([]map[int]bool, len(m.tokens))
	enc := make([]string, len(m.tokens))
	for i, t := range m.tokens {
		cover[i] = make([]bool, len(t.Value))
		from[i] = map[int]bool{}
	}
	for pi, p := range parts {
		if pi >= maxPieceParts || m.late() {
			break
		}
		if len(p) < minPiece {
			continue
		}
		mine := make([][]bool, len(m.tokens))
		Walk(p, minPiece, func(b []byte, layers string) bool {
			if m.late() {
				return false
			}
			m.work += int64(len(b)) + viewCost
			for i := 0; i+minPiece <= len(b); i++ {
				for _, r := range at[gram(b[i:])] {
					v := m.tokens[r.val].Value
					if string(b[i:i+minPiece]) != v[r.off:int(r.off)+minPiece] {
						continue
					}
					if mine[r.val] == nil {
						mine[r.val] = make([]bool, len(v))
					}
					for j := int(r.off); j < int(r.off)+minPiece; j++ {
						cover[r.val][j], mine[r.val][j] = true, true
					}
					from[r.val][pi] = true
					if enc[r.val] == "" && layers != "" {
						enc[r.val] = layers
					}
				}
			}
			return true
		})
		for i, c := range mine {
			if c != nil && all(c) {
				whole[i] = true
			}
		}
	}
	var hits []Hit
	for i, t := range m.tokens {
		if whole[i] || len(from[i]) < 2 || !all(cover[i]) {
			continue
		}
		hits = append(hits, Hit{ID: t.ID, Encoding: join("pieces", enc[i])})
	}
	return hits
}

func all(c []bool) bool {
	for _, x := range c {
		if !x {
			return false
		}
	}
	return true
}
