package microvm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat/internal/observe"
)

// TestGuestPycs: the suspect bytecode a guest sends is untrusted: the
// host keeps the pairs within the diff's bounds only (a file over
// MaxPycFile, the pairs past MaxPycPairs or MaxPycBytes are not kept),
// cleans their paths as the events' are, clamps the .opt level, keeps
// none of a malformed array, and none past maxPycJSON or after the
// report's end.
func TestGuestPycs(t *testing.T) {
	small := []byte("x")
	big := bytes.Repeat([]byte("y"), observe.MaxPycFile+1)
	near := bytes.Repeat([]byte("z"), observe.MaxPycFile)
	in := []observe.PycPair{
		{Path: "/work/__pycache__/a.cpython-311.pyc\x1b[31m", SourcePath: "/work/a.py", Opt: 7, Pyc: small, Source: small},
		{Path: "/work/__pycache__/big.cpython-311.pyc", SourcePath: "/work/big.py", Pyc: big, Source: small},
		{Path: "/work/__pycache__/bigsrc.cpython-311.pyc", SourcePath: "/work/bigsrc.py", Pyc: small, Source: big},
	}
	// 16 MiB in all: with a.pyc, 7 pairs of 2 MiB fit, the 8th and 9th pass it
	for i := range 9 {
		in = append(in, observe.PycPair{Path: fmt.Sprintf("/work/__pycache__/n%d.cpython-311.pyc", i), Pyc: near, Source: near})
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	h := &hostReport{}
	for len(b) > 0 {
		k := min(len(b), chunkSize)
		if err := h.takePycs(b[:k]); err != nil {
			t.Fatal(err)
		}
		b = b[k:]
	}
	if err := h.end([]byte(`{"dropped":0}`)); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, p := range h.pycs {
		paths = append(paths, p.Path)
	}
	if len(h.pycs) != 8 || h.pycs[0].Opt != 2 || strings.ContainsRune(h.pycs[0].Path, 0x1b) || h.pycs[1].Path != "/work/__pycache__/n0.cpython-311.pyc" {
		t.Errorf("kept %d pairs %q (opt %d): want a.pyc (opt clamped, path cleaned) and n0..n6", len(h.pycs), paths, h.pycs[0].Opt)
	}
	if err := h.takePycs([]byte("[")); !errors.Is(err, errFrame) {
		t.Errorf("bytecode after the end: %v, want a malformed frame", err)
	}

	// past maxPycJSON: none of it
	h = &hostReport{}
	piece := bytes.Repeat([]byte(" "), chunkSize)
	for range maxPycJSON/chunkSize + 1 {
		if err := h.takePycs(piece); err != nil {
			t.Fatal(err)
		}
	}
	_ = h.end([]byte(`{"dropped":0}`))
	if !h.pycCut || h.pycs != nil {
		t.Errorf("past the cap: cut %v, %d pairs kept", h.pycCut, len(h.pycs))
	}
	// malformed: none
	if got := guestPycs([]byte(`[{"path":"/work/__pycache__/a.cpython-311.pyc","pyc":"!!"}]`)); got != nil {
		t.Errorf("malformed: kept %d pairs", len(got))
	}
	// more than MaxPycPairs: the first ones
	var many []observe.PycPair
	for i := range observe.MaxPycPairs + 5 {
		many = append(many, observe.PycPair{Path: fmt.Sprintf("/work/__pycache__/m%d.cpython-311.pyc", i), Pyc: small, Source: small})
	}
	mb, _ := json.Marshal(many)
	if got := guestPycs(mb); len(got) != observe.MaxPycPairs {
		t.Errorf("kept %d of %d pairs, want %d", len(got), len(many), observe.MaxPycPairs)
	}
}
