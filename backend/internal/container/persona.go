package container

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
	"github.com/moat-sandbox/moat/internal/observe"
)

// Persona is how a container presents itself from inside, a different
// ordinary machine each run (observe.Persona): its host name, user name
// and home; pid 1's command line (the init re-executes itself under it);
// the init volume mounted at the persona's tools directory; the audit
// hook in a directory of Python's tempfile shape on /tmp. Nothing the
// program can see is named after moat.
type Persona struct{ observe.Persona }

// NewPersona draws a run's persona: a CI runner's, as a container's
// marks (/.dockerenv, /run/.containerenv) are a CI job's, not a laptop's.
func NewPersona(key string) Persona { return Persona{observe.NewRunnerPersonaFor(key)} }

// InitPath is the init binary, in the init volume where this run mounts it.
func (p Persona) InitPath() string { return p.Tools + "/" + ctrinit.Bin }

// HookDir holds the hook (py/sitecustomize.py) and its FIFO (audit); see
// report.go.
func (p Persona) HookDir() string { return p.Scratch }

// PasswdEntry is the sandbox user's line of /etc/passwd (for an engine
// that can add one: podman's --passwd-entry).
func (p Persona) PasswdEntry() string {
	return fmt.Sprintf("%s:x:1000:1000:%s:%s:/bin/bash", p.User, p.Gecos, p.Home)
}

// GroupEntry is the sandbox user's line of /etc/group.
func (p Persona) GroupEntry() string { return p.User + ":x:1000:" }

// EtcMax bounds what is read of an image's /etc/passwd or /etc/group
// (the kubernetes backend's loader reads as much in the Pod).
const EtcMax = 1 << 20

// WithEntries returns the image's /etc/passwd and /etc/group (as read
// from it, at most EtcMax bytes each) with the persona's lines for uid
// and gid 1000 in place of any the image has for that id or name: the
// program's getpwuid, getlogin, whoami and `id -un` then answer the
// persona's user, whose home is the persona's.
func (p Persona) WithEntries(passwd, group []byte) (newPasswd, newGroup []byte) {
	return withEntry(passwd, p.User, "1000", p.PasswdEntry()), withEntry(group, p.User, "1000", p.GroupEntry())
}

// withEntry keeps the lines of file (an /etc/passwd or /etc/group: name
// first, the id third) but those of name or id, and appends line.
func withEntry(file []byte, name, id, line string) []byte {
	file = file[:min(len(file), EtcMax)]
	var b []byte
	for _, l := range strings.Split(string(file), "\n") {
		f := strings.SplitN(l, ":", 4)
		if l == "" || f[0] == name || (len(f) > 2 && f[2] == id) {
			continue
		}
		b = append(append(b, l...), '\n')
	}
	return append(append(b, line...), '\n')
}

// ImageEtc returns an image's /etc/passwd and /etc/group: read with read
// once per engine and image ID, then from a cache file. imageID "" is
// not cached.
func ImageEtc(engine, imageID string, read func() (passwd, group []byte, err error)) (passwd, group []byte, err error) {
	dir := stampDir()
	var entry string
	if dir != "" && imageID != "" {
		h := sha256.Sum256([]byte(engine + "\x00" + imageID + "\x00etc"))
		entry = filepath.Join(dir, "etc-"+hex.EncodeToString(h[:16]))
		if data, err := os.ReadFile(entry); err == nil {
			var c etcCache
			if json.Unmarshal(data, &c) == nil {
				return c.Passwd, c.Group, nil
			}
		}
	}
	if passwd, group, err = read(); err != nil {
		return nil, nil, err
	}
	passwd, group = passwd[:min(len(passwd), EtcMax)], group[:min(len(group), EtcMax)]
	if entry != "" {
		if data, err := json.Marshal(etcCache{passwd, group}); err == nil {
			_ = writeStamp(entry, string(data))
		}
	}
	return passwd, group, nil
}

type etcCache struct{ Passwd, Group []byte }
