package container

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// HookSite is where one image's python3 runs the audit hook from with
// nothing on PYTHONPATH: an empty site directory of the image (Debian's
// /usr/local/lib/python3.X/dist-packages is one), on which the engine
// mounts a small tmpfs; the init writes the hook there as a module and its
// .pth line (audit.PthLine). Python runs the line while site.py processes
// the directory, for every interpreter of the image but those started
// with -S or in a venv without the system site packages; nothing of the
// hook is then on PYTHONPATH, in /proc/PID/environ or added to sys.path.
//
// The image's site directories are learnt once per image ID and engine:
// a run without an entry asks its init to list them (ctrinit.Report's
// SiteProbe, before any code of the program runs, so the answer is as
// trusted as the image) and uses PYTHONPATH; later runs mount the tmpfs.
// Such a run comes before an image's first run (Learn).
// The directory is the program's to write (the init runs as its uid), so
// both walks take it as a root of its own and any change to it is an
// evasion finding, as for the hook's directory.
type HookSite struct {
	entry string // the cache file; "" for none
	// Dir is the site directory to mount the tmpfs on; "" for none
	// (PYTHONPATH).
	Dir   string
	probe bool // no entry: ask the init
	asked bool
	saw   bool
}

// siteTmpfsSize is the size of the site directory's tmpfs: the hook, its
// bytecode and one .pth line.
const siteTmpfsSize = 1 << 20

// noSite marks an image with no empty site directory.
const noSite = "none\n"

// NewHookSite returns what is known of the site directories of the image
// imageID (its ID, never its name; "" for unknown: PYTHONPATH, no probe)
// on engine.
func NewHookSite(engine, imageID string) *HookSite {
	s := &HookSite{}
	dir := stampDir()
	if dir == "" || imageID == "" {
		return s
	}
	h := sha256.Sum256([]byte(engine + "\x00" + imageID + "\x00site"))
	s.entry = filepath.Join(dir, "site-"+hex.EncodeToString(h[:16]))
	data, err := os.ReadFile(s.entry)
	if err != nil {
		s.probe = true
		return s
	}
	if d := strings.TrimSuffix(string(data), "\n"); validSite(d) {
		s.Dir = d
	}
	return s
}

// Tmpfs is the tmpfs to mount at Dir (when Dir is set), writable by the
// program's user as the init is.
func (s *HookSite) Tmpfs() Mount {
	return Mount{Path: s.Dir, Size: siteTmpfsSize,
		Options: fmt.Sprintf("rw,nosuid,nodev,size=%d,uid=1000,gid=1000,mode=0755", siteTmpfsSize)}
}

// fill sets the report header's site fields; channel is the hook's FIFO.
// It reports whether the hook is in a site directory (else it goes on
// PYTHONPATH).
func (s *HookSite) fill(rh *ctrinit.Report, channel string) bool {
	if s == nil {
		return false
	}
	if s.probe {
		rh.SiteProbe = siteProbe
		s.asked = true
	}
	if s.Dir == "" {
		return false
	}
	rh.Site, rh.SiteModule, rh.SitePthName, rh.SitePth = s.Dir, audit.Module, audit.PthFile, audit.PthLine(channel)
	return true
}

// siteProbe lists the site directories of the image's python3 (run with
// -I -S) with how many entries each has (-1: none there).
const siteProbe = `import json, os, site
out = []
for d in site.getsitepackages():
    try:
        n = len(os.listdir(d))
    except OSError:
        n = -1
    out.append([d, n])
print(json.dumps(out))
`

// store keeps what the init's probe found (its S frame): the first empty
// site directory, else the first absent one, else none. The frame comes
// out of the container, so every directory is checked (validSite).
func (s *HookSite) store(frame []byte) {
	if s == nil || s.entry == "" {
		return
	}
	var dirs [][2]json.RawMessage
	_ = json.Unmarshal(frame, &dirs)
	pick := map[int]string{}
	for _, d := range dirs {
		var p string
		var n int
		if json.Unmarshal(d[0], &p) != nil || json.Unmarshal(d[1], &n) != nil || !validSite(p) {
			continue
		}
		if _, ok := pick[n]; !ok && n <= 0 {
			pick[n] = p
		}
	}
	data := noSite
	if p, ok := pick[0]; ok {
		data = p + "\n"
	} else if p, ok := pick[-1]; ok {
		data = p + "\n"
	}
	_ = writeStamp(s.entry, data)
}

// validSite reports whether p may be a site directory to mount a tmpfs
// on: absolute and clean, of plain characters (it goes into the engines'
// mount options), and in none of the places the sandbox makes itself.
func validSite(p string) bool {
	if p == "" || len(p) > 200 || !path.IsAbs(p) || path.Clean(p) != p || strings.Count(p, "/") < 3 {
		return false
	}
	for _, r := range p {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+", r)) {
			return false
		}
	}
	for _, d := range []string{"/tmp", "/dev", "/proc", "/sys", "/home", "/run", "/etc", WorkDir} {
		if p == d || strings.HasPrefix(p, d+"/") {
			return false
		}
	}
	return true
}
