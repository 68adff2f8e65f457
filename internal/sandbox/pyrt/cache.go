package pyrt

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// cacheFormat changes whenever the cached data or its meaning changes (4:
// Paths hold the directories of the site directories' libraries; 5: and
// /etc/os-release, with its links; 6: and /usr/share/zoneinfo).
const cacheFormat = 6

// cacheEntry is one cached Resolve result, stored as
// <cacheDir>/pyrt-<hash of requested path and context>.json.
type cacheEntry struct {
	Format    int      `json:"format"`
	Requested string   `json:"requested"`
	Context   string   `json:"context,omitempty"`
	Deps      []dep    `json:"deps"`
	Runtime   *Runtime `json:"runtime"`
}

// dep is a file whose identity must be unchanged for the entry to hold.
type dep struct {
	Path string `json:"path"`
	ID   string `json:"id"`
}

// fileID is "size:mtime-ns:dev:inode" of p (symlinks followed), or "" if p
// cannot be stat'ed.
func fileID(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return ""
	}
	dev, ino := inode(fi)
	return fmt.Sprintf("%d:%d:%d:%d", fi.Size(), fi.ModTime().UnixNano(), dev, ino)
}

func cacheFile(dir, requested, ctx string) string {
	sum := sha256.Sum256([]byte(requested + "\x00" + ctx))
	return filepath.Join(dir, "pyrt-"+hex.EncodeToString(sum[:12])+".json")
}

// loadCache returns the cached Runtime, or nil if there is none or any of
// its files changed.
func loadCache(dir, requested, ctx string) *Runtime {
	b, err := os.ReadFile(cacheFile(dir, requested, ctx))
	if err != nil {
		return nil
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil
	}
	if e.Format != cacheFormat || e.Requested != requested || e.Context != ctx || e.Runtime == nil || len(e.Deps) == 0 {
		return nil
	}
	for _, d := range e.Deps {
		if d.ID == "" || fileID(d.Path) != d.ID {
			return nil
		}
	}
	return e.Runtime
}

// storeCache writes the entry atomically; failures are logged, not
// returned, because the cache is only an optimisation.
func storeCache(dir, requested, ctx string, deps []string, rt *Runtime) {
	e := cacheEntry{Format: cacheFormat, Requested: requested, Context: ctx, Runtime: rt}
	for _, p := range deps {
		id := fileID(p)
		if id == "" {
			return // cannot guard the entry; do not cache
		}
		e.Deps = append(e.Deps, dep{Path: p, ID: id})
	}
	b, err := json.MarshalIndent(&e, "", "  ")
	if err == nil {
		err = writeFileAtomic(dir, cacheFile(dir, requested, ctx), b)
	}
	if err != nil {
		slog.Debug("pyrt: cache not written", "dir", dir, "err", err)
	}
}

// writeFileAtomic writes b to name in dir (created 0700) through a
// temporary file and a rename, so a reader never sees half of it.
func writeFileAtomic(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create cache dir: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".pyrt-*.tmp")
	if err != nil {
		return fmt.Errorf("create cache file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write cache file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write cache file: %w", err)
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return fmt.Errorf("rename cache file: %w", err)
	}
	return nil
}

// DefaultCacheDir is where backends keep Resolve's cache: moat's directory
// in the user's cache directory, or "" (no cache) when there is none.
func DefaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "moat")
}
