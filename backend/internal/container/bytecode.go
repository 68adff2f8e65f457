package container

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"

	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// HookBytecode keeps the audit hook as compiled by one image's python3 on
// one engine, between runs, in moat's cache: the init compiles it once
// (before the program starts, so the result is as trusted as the image
// itself; see ctrinit.Report.Compile) and later runs get the bytecode in
// their header, which saves every Python process of theirs compiling the
// hook. An image whose python3 cannot compile it is remembered too. A
// stale entry (the name now points to another Python) is harmless: Python
// does not look up a .pyc of another version's cache tag.
type HookBytecode struct{ path string }

// NewHookBytecode returns the cache entry of image on engine.
func NewHookBytecode(engine, image string) *HookBytecode {
	dir := stampDir()
	if dir == "" {
		return nil
	}
	h := sha256.Sum256([]byte(engine + "\x00" + image + "\x00" + audit.Hook))
	return &HookBytecode{path: filepath.Join(dir, "hook-"+hex.EncodeToString(h[:12]))}
}

// none marks an image whose python3 did not compile the hook.
const noneCompiled = "none\n"

// fill sets the bytecode, or the code to compile it with, in rh.
func (b *HookBytecode) fill(rh *ctrinit.Report) {
	if b == nil {
		return
	}
	data, err := os.ReadFile(b.path)
	switch {
	case err != nil:
		rh.Compile = audit.CompileCode
	case string(data) == noneCompiled:
	default:
		if bc, err := audit.ParseCompiled(data); err == nil {
			rh.PycTag, rh.Pyc = bc.Tag, bc.Data
		} else {
			rh.Compile = audit.CompileCode
		}
	}
}

// store keeps what the init sent as its P frame, when it is a compiled
// hook (checked: it comes out of the container), or that there is none.
func (b *HookBytecode) store(frame []byte) {
	if b == nil {
		return
	}
	data := []byte(noneCompiled)
	if _, err := audit.ParseCompiled(frame); err == nil {
		data = frame
	}
	_ = writeStamp(b.path, string(data))
}
