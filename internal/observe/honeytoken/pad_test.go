package honeytoken

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/url"
	"testing"
)

// TestPad: a value XOR-ed with a random key as long as itself, the key
// sent too, is found wherever the two are in the data and however each
// is encoded; not without the key, nor in random data.
func TestPad(t *testing.T) {
	key := make([]byte, len(val))
	_, _ = rand.Read(key)
	ct := make([]byte, len(val))
	for i := range ct {
		ct[i] = val[i] ^ key[i]
	}
	noise := make([]byte, 3000)
	_, _ = rand.Read(noise)
	const how = "XOR-ed with a one-time pad sent with it"
	checkHits(t, []matchCase{
		{"key then ciphertext", string(key) + string(ct), how},
		{"ciphertext then key", string(ct) + string(key), how},
		{"apart, in noise", string(noise[:1000]) + string(ct) + string(noise[1000:2500]) + string(key) + string(noise[2500:]), how},
		{"JSON of hex", fmt.Sprintf(`{"k":"%s","d":"%s"}`, hex.EncodeToString(key), hex.EncodeToString(ct)), how},
		{"base64 and hex", "d=" + base64.StdEncoding.EncodeToString(ct) + "&k=" + hex.EncodeToString(key), how},
		{"URL form of base64", "k=" + url.QueryEscape(base64.StdEncoding.EncodeToString(key)) + "&c=" + url.QueryEscape(base64.StdEncoding.EncodeToString(ct)), how},
	})
	m := NewMatcher([]Token{{ID: "t", Value: val}})
	other := make([]byte, len(val))
	_, _ = rand.Read(other)
	big := make([]byte, 100<<10)
	_, _ = rand.Read(big)
	for name, data := range map[string][]byte{
		"the ciphertext alone":        ct,
		"another key":                 append(append([]byte{}, other...), ct...),
		"random data":                 big,
		"the value's start only":      append(append([]byte{}, key[:12]...), ct[:12]...),
		"hex of the ciphertext alone": []byte(hex.EncodeToString(ct)),
	} {
		if hits := m.Match(data); len(hits) != 0 {
			t.Errorf("%s: hits %+v, want none", name, hits)
		}
	}
}

// TestPadBounded: data made of two windows repeated, which XOR to the
// value's first 8 bytes, makes every position a candidate of every other:
// the search stops at its bound and says the match was cut.
func TestPadBounded(t *testing.T) {
	a := []byte("abcdefgh")
	b := make([]byte, 8)
	binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(a)^binary.LittleEndian.Uint64([]byte(val)))
	data := append(bytes.Repeat(a, 2<<10), bytes.Repeat(b, 2<<10)...)
	x := newPadIndex(data, binaryWindows(data))
	if _, _, ok, cut := x.find([]byte(val), padSteps*len(data)); ok || !cut {
		t.Fatalf("found %v, cut %v: want the bound reached", ok, cut)
	}
	m := NewMatcher([]Token{{ID: "t", Value: val}})
	if hits := m.Match(data); len(hits) != 0 || !m.Cut() {
		t.Fatalf("hits %+v, cut %v: want none, cut", hits, m.Cut())
	}
}
