package seccomp

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// MaxExecHash bounds the files ExecHashes hashes (the hash is made while
// the exec waits): a bigger one gets none, and the report then judges it
// by its path and name alone.
const MaxExecHash = 64 << 20

// ExecHashes caches the sha256 of each version of a file an exec runs
// (device, inode, size, modification and change time: a file the run
// rewrites is another version), so that each is read once: the
// interpreter once, however often a suite runs it. At most Max versions
// are kept (0: 4096). Safe for concurrent use; the zero value is ready.
type ExecHashes struct {
	Max   int
	mu    sync.Mutex
	m     map[execKey]string
	reads int
}

type execKey struct {
	dev, ino     uint64
	size         int64
	mtime, ctime unix.Timespec
}

// Sum returns the hex sha256 of the open regular file f whose status is
// st, "" past MaxExecHash or where it cannot be read.
func (h *ExecHashes) Sum(f *os.File, st *unix.Stat_t) string {
	k := execKey{dev: st.Dev, ino: st.Ino, size: st.Size, mtime: st.Mtim, ctime: st.Ctim}
	h.mu.Lock()
	sum, ok := h.m[k]
	h.mu.Unlock()
	if ok || st.Size > MaxExecHash {
		return sum
	}
	d := sha256.New()
	if _, err := io.Copy(d, io.LimitReader(f, MaxExecHash)); err != nil {
		return ""
	}
	sum = hex.EncodeToString(d.Sum(nil))
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	if h.m == nil {
		h.m = map[execKey]string{}
	}
	if max := h.Max; len(h.m) < max || max == 0 && len(h.m) < 4096 {
		h.m[k] = sum
	}
	return sum
}

// Reads is how many files Sum read whole.
func (h *ExecHashes) Reads() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.reads
}

// Exec judges the file an exec runs, f as OpenExec opened it (err where it
// could not): its hash, or failed when the exec cannot succeed (no such
// file, not a regular file, no execute bit). A file that cannot be read
// gives neither.
func (h *ExecHashes) Exec(f *os.File, err error) (sum string, failed bool) {
	if err != nil {
		return "", ExecMissing(err)
	}
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return "", false
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mode&0o111 == 0 {
		return "", true
	}
	return h.Sum(f, &st), false
}
