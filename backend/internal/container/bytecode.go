package container

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/bits"
	"os"
	"path/filepath"
	"sync"

	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// HookBytecode keeps the audit hook as compiled by one image's python3 on
// one engine, between runs, in moat's cache: the init compiles it once
// (before the program starts, so the result is as trusted as the image
// itself; see ctrinit.Report.Compile) and later runs get the bytecode in
// their header, which saves every Python process of theirs compiling the
// hook. An image whose python3 cannot compile it is remembered too.
//
// An entry is the work of one image, so it is keyed by the image's ID (the
// digest of its content, interpreter included), never its name: a name
// that moves to another image finds no entry of the old one, and a
// malicious image's bytecode serves no other. Each entry is checked before
// use and before it is kept: a .pyc whose embedded source hash is not the
// hook's is not believed.
type HookBytecode struct {
	engine string
	image  func() string // the image's ID; "" when unknown: no cache
	once   sync.Once
	path   string
}

// NewHookBytecode returns the cache of the image whose ID imageID returns
// (called once, when the header is made; "" for none) on engine.
func NewHookBytecode(engine string, imageID func() string) *HookBytecode {
	return &HookBytecode{engine: engine, image: imageID}
}

// entry is the cache file, "" when there is none to use.
func (b *HookBytecode) entry() string {
	b.once.Do(func() {
		dir, id := stampDir(), b.image()
		if dir == "" || id == "" {
			return
		}
		h := sha256.Sum256([]byte(b.engine + "\x00" + id + "\x00" + audit.Hook()))
		b.path = filepath.Join(dir, "hook-"+hex.EncodeToString(h[:16]))
	})
	return b.path
}

// none marks an image whose python3 did not compile the hook.
const noneCompiled = "none\n"

// fill sets the bytecode, or the code to compile it with, in rh. Without
// an image ID it sets neither: each Python process compiles the hook.
func (b *HookBytecode) fill(rh *ctrinit.Report) {
	if b == nil || b.entry() == "" {
		return
	}
	data, err := os.ReadFile(b.entry())
	switch {
	case err != nil:
		rh.Compile = audit.CompileCode
	case string(data) == noneCompiled:
	default:
		if bc, err := checkCompiled(data); err == nil {
			rh.PycTag, rh.Pyc = bc.Tag, bc.Data
		} else {
			rh.Compile = audit.CompileCode
		}
	}
}

// store keeps what the init sent as its P frame, when it is the compiled
// hook (checked: it comes out of the container), or that there is none.
func (b *HookBytecode) store(frame []byte) {
	if b == nil || b.entry() == "" {
		return
	}
	data := []byte(noneCompiled)
	if _, err := checkCompiled(frame); err == nil {
		data = frame
	}
	_ = writeStamp(b.entry(), string(data))
}

// checkCompiled parses CompileCode's output and checks that the .pyc is of
// the hook's source: its header's source hash (CPython's keyed SipHash of
// the source, keyed by the .pyc's magic number; SipHash-1-3 from 3.11,
// 2-4 before) is the hook's.
func checkCompiled(b []byte) (*audit.Bytecode, error) {
	bc, err := audit.ParseCompiled(b)
	if err != nil {
		return nil, err
	}
	key := uint64(binary.LittleEndian.Uint32(bc.Data[:4]))
	got := binary.LittleEndian.Uint64(bc.Data[8:16])
	if got != sipHash(1, 3, key, []byte(audit.Hook())) && got != sipHash(2, 4, key, []byte(audit.Hook())) {
		return nil, errors.New("the .pyc is not of the hook's source")
	}
	return bc, nil
}

// sipHash is SipHash-c-d of m under the key (k0, 0), as CPython's
// _Py_KeyedHash.
func sipHash(c, d int, k0 uint64, m []byte) uint64 {
	var k1 uint64
	v0, v1, v2, v3 := k0^0x736f6d6570736575, k1^0x646f72616e646f6d, k0^0x6c7967656e657261, k1^0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13) ^ v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16) ^ v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21) ^ v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17) ^ v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	n := len(m)
	for ; len(m) >= 8; m = m[8:] {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		for range c {
			round()
		}
		v0 ^= w
	}
	var last [8]byte
	copy(last[:], m)
	last[7] = byte(n)
	w := binary.LittleEndian.Uint64(last[:])
	v3 ^= w
	for range c {
		round()
	}
	v0 ^= w
	v2 ^= 0xff
	for range d {
		round()
	}
	return v0 ^ v1 ^ v2 ^ v3
}
