package container

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

func contentFrame(path string, off int64, data []byte) []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(off))
	return append(append(append(b, path...), 0), data...)
}

// The init's 'c' frames, spooled on the host, are read by the diff as
// native reads files: a secret past a big file's first MiB and one behind
// a GiB hole are found, and both files are read whole. A file the init
// cut short (its budget) is not read whole; frames out of order, after a
// file's end or past the budget are dropped, and an offset (a hole) the
// frames claim costs the host nothing.
func TestSpoolDiff(t *testing.T) {
	const secret = "Q7hZk2mVfP9xLr4TnW8bYc3JdS6gHa1Ee5uKo0Ri"
	enc := []byte(base64.StdEncoding.EncodeToString([]byte(secret)))
	s := newSpool(8 << 20)
	defer s.close()
	// /work/cache.bin: 3 MiB of padding, then the secret, in chunks
	big := append(bytes.Repeat([]byte{0xfe}, 3<<20), enc...)
	for off := 0; off < len(big); off += 1 << 20 {
		s.frame(contentFrame("/work/cache.bin", int64(off), big[off:min(len(big), off+1<<20)]))
	}
	s.frame(contentFrame("/work/cache.bin", int64(len(big)), nil))
	// /tmp/sparse: the secret behind a hole of a GiB
	s.frame(contentFrame("/tmp/sparse", 1<<30, enc))
	s.frame(contentFrame("/tmp/sparse", 1<<30+int64(len(enc)), nil))
	// /tmp/cut: the init's budget ran out in its middle (no end frame)
	s.frame(contentFrame("/tmp/cut", 0, bytes.Repeat([]byte{'x'}, 100)))
	before := s.dropped
	s.frame(contentFrame("/tmp/cut", 50, []byte("again")))          // out of order
	s.frame(contentFrame("/work/cache.bin", 1<<40, []byte("late"))) // after its end
	s.frame(contentFrame("/tmp/huge", 0, make([]byte, 5<<20)))      // past the budget
	s.frame([]byte{0, 0, 0})                                        // no header
	if s.dropped-before != 4 {
		t.Errorf("dropped %d frames, want 4", s.dropped-before)
	}
	if want := int64(len(big) + len(enc) + 100); s.size != want {
		t.Errorf("the spool holds %d bytes, want %d", s.size, want)
	}
	after := observe.Snapshot{
		"/work/cache.bin": {Size: int64(len(big)), Ino: 1},
		"/tmp/sparse":     {Size: 1<<30 + int64(len(enc)), Ino: 2},
		"/tmp/cut":        {Size: 1000, Ino: 3},
	}
	d := observe.Differ{Tokens: []honeytoken.Token{{ID: "aws", Value: secret}}, Deadline: time.Now().Add(time.Minute),
		Read:   func(p string, n int64) ([]byte, error) { return s.readAt(p, 0, n) },
		ReadAt: s.readAt, Data: s.data}
	evs, _ := d.Diff(observe.Snapshot{}, after)
	found := map[string]bool{}
	for _, e := range evs {
		if e.Kind == "honeytoken-written" {
			found[e.Path] = true
		}
		whole := !strings.HasSuffix(e.Detail, observe.NotReadWhole)
		if e.Kind == "file-created" && whole != (e.Path != "/tmp/cut") {
			t.Errorf("%s read whole: %v", e.Path, whole)
		}
	}
	if !found["/work/cache.bin"] || !found["/tmp/sparse"] {
		t.Errorf("secrets found in %v, want in /work/cache.bin and /tmp/sparse: %+v", found, evs)
	}
}
