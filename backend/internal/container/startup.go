package container

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path"
	"path/filepath"

	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// HookStartup puts the hook in the interpreters of an image that skip
// site (-S), where no .pth line of the site directory (HookSite) runs: the
// image's encodings package with the hook's loader appended
// (audit.Startup), compiled by the image's python3 once per image ID,
// engine and site directory (the init does it before the program, as it
// compiles the hook, and sends it as the E frame), is bound read-only
// over the image's encodings/__init__.py (and its .pyc where the image
// has one: an engine binds a file over an existing one only) in the
// later runs, the image's first run among them (Learn). An image whose package is not where its python3 said, or
// whose compile failed, keeps today's behaviour: its -S interpreters run
// without the hook, and the kernel's exec without a hello is a finding.
type HookStartup struct {
	entry string
	site  string
	st    *audit.Startup
	asked bool
	saw   bool
}

// noStartup marks an image whose python3 did not compile the package.
const noStartup = "none\n"

// NewHookStartup returns what is known of the startup hook of the image
// imageID on engine with the hook in site ("" for none: no startup hook).
func NewHookStartup(engine, imageID, site string) *HookStartup {
	s := &HookStartup{site: site}
	dir := stampDir()
	if dir == "" || imageID == "" || !audit.PlainSite(site) {
		return s
	}
	h := sha256.Sum256([]byte(engine + "\x00" + imageID + "\x00startup\x00" + audit.StartupLoader(site) + "\x00" + audit.StartupCode))
	s.entry = filepath.Join(dir, "startup-"+hex.EncodeToString(h[:16]))
	data, err := os.ReadFile(s.entry)
	if err != nil {
		return s
	}
	if st, err := checkStartup(data, site); err == nil {
		s.st = st
	}
	if string(data) != noStartup && s.st == nil {
		_ = os.Remove(s.entry) // not believed: ask again
	}
	return s
}

// Bind is a file to bind read-only over one of the image's.
type Bind struct {
	Target string
	Data   []byte
}

// Binds are the files to bind over the image's package; nil when there
// is no startup hook for the image yet.
func (s *HookStartup) Binds() []Bind {
	if s == nil || s.st == nil {
		return nil
	}
	b := []Bind{{Target: s.st.Path, Data: s.st.Source}}
	if s.st.HasPyc {
		b = append(b, Bind{Target: path.Join(path.Dir(s.st.Path), s.st.PycName()), Data: s.st.Pyc})
	}
	return b
}

// fill asks the init for the compile when nothing is known of the image.
func (s *HookStartup) fill(rh *ctrinit.Report) {
	if s == nil || s.entry == "" || rh.Site != s.site {
		return
	}
	if _, err := os.Stat(s.entry); err == nil {
		return
	}
	rh.StartupCompile, rh.StartupLoader = audit.StartupCode, audit.StartupLoader(s.site)
	s.asked = true
}

// store keeps the init's E frame when it checks out (it comes out of the
// container), or that there is none.
func (s *HookStartup) store(frame []byte) {
	if s == nil || s.entry == "" {
		return
	}
	data := []byte(noStartup)
	if _, err := checkStartup(frame, s.site); err == nil {
		data = frame
	}
	_ = writeStamp(s.entry, string(data))
}

// checkStartup parses audit.StartupCode's output and checks it: the
// source ends with the loader of the hook in site, its .pyc is of that
// source (the header's keyed hash, as checkCompiled), and the package is
// at a path an engine can bind over (validSite's characters).
func checkStartup(b []byte, site string) (*audit.Startup, error) {
	st, err := audit.ParseStartup(b)
	if err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(st.Source, []byte(audit.StartupLoader(site))) {
		return nil, errors.New("the source does not end with the loader")
	}
	if !validSite(path.Dir(st.Path)) {
		return nil, errors.New("the package's path")
	}
	key := uint64(binary.LittleEndian.Uint32(st.Pyc[:4]))
	got := binary.LittleEndian.Uint64(st.Pyc[8:16])
	if got != sipHash(1, 3, key, st.Source) && got != sipHash(2, 4, key, st.Source) {
		return nil, errors.New("the .pyc is not of the source")
	}
	return st, nil
}
