package gvisor

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/local"
	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
)

// installHint says how to get runsc on Debian.
const installHint = "install it: apt-get install runsc (Debian), or a newer one: apt-get download runsc/sid && dpkg -i runsc_*.deb"

// platforms are probed in this order. kvm is never probed: under nested
// virtualisation it can hang rather than fail; set Backend.Platform to use it.
var platforms = []string{"systrap", "ptrace"}

// host is what the probe found out about one runsc binary.
type host struct {
	Runsc    string   `json:"runsc"`
	Stamp    string   `json:"stamp"`   // size and mtime of the binary probed
	Version  string   `json:"version"` // first line of runsc --version
	Platform string   `json:"platform"`
	Overlay2 bool     `json:"overlay2"` // runsc has --overlay2
	Tried    []string `json:"tried"`
}

var (
	probeMu    sync.Mutex
	probeCache = map[string]*host{} // runsc path + platform → host
)

func (b *Backend) findRunsc() (string, error) {
	if b.Runsc != "" {
		return b.Runsc, nil
	}
	if p, err := exec.LookPath("runsc"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/bin/runsc", "/usr/local/bin/runsc"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("gvisor: runsc not found: %s: %w", installHint, moat.ErrUnavailable)
}

// probe finds runsc, checks that moat is root and picks the platform by
// running a trivial sandbox on each. The result is cached per binary.
func (b *Backend) probe(ctx context.Context) (*host, error) {
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("gvisor: needs root (runsc's sandbox and moat's size-limited tmpfs for the writable space); run moat as root: %w", moat.ErrUnavailable)
	}
	runsc, err := b.findRunsc()
	if err != nil {
		return nil, err
	}
	key := runsc + "\x00" + b.Platform
	probeMu.Lock()
	defer probeMu.Unlock()
	if h := probeCache[key]; h != nil {
		return h, nil
	}
	// A probe costs a sandbox start: its result is kept on disk (root
	// only) for as long as the binary is the same.
	stamp := binStamp(runsc)
	diskCache := filepath.Join(stateBase(), "probe-"+hashKey(key)+".json")
	if b, err := os.ReadFile(diskCache); err == nil {
		var h host
		if json.Unmarshal(b, &h) == nil && h.Runsc == runsc && h.Stamp == stamp && h.Platform != "" {
			probeCache[key] = &h
			return &h, nil
		}
	}
	h := &host{Runsc: runsc, Stamp: stamp}
	out, err := exec.CommandContext(ctx, runsc, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("gvisor: %s --version: %w: %w", runsc, err, moat.ErrUnavailable)
	}
	h.Version, _, _ = strings.Cut(strings.TrimSpace(string(out)), "\n")
	flags, _ := exec.CommandContext(ctx, runsc, "flags").CombinedOutput()
	h.Overlay2 = bytes.Contains(flags, []byte("-overlay2"))
	if _, err := cgroup.Probe(); err != nil {
		return nil, fmt.Errorf("gvisor: limits need cgroups: %w: %w", err, moat.ErrUnavailable)
	}
	cands := platforms
	if b.Platform != "" {
		cands = []string{b.Platform}
	}
	var fails []string
	for _, p := range cands {
		if err := h.try(ctx, p); err != nil {
			fails = append(fails, p+": "+err.Error())
			continue
		}
		h.Platform = p
		break
	}
	h.Tried = fails
	if h.Platform == "" {
		return nil, fmt.Errorf("gvisor: %s: no platform works here (%s): %w", h.Version, strings.Join(fails, "; "), moat.ErrUnavailable)
	}
	probeCache[key] = h
	if b, err := json.Marshal(h); err == nil {
		tmp := diskCache + "." + local.NewID()
		if os.WriteFile(tmp, b, 0o600) == nil {
			_ = os.Rename(tmp, diskCache)
		}
	}
	return h, nil
}

func binStamp(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d-%d", fi.Size(), fi.ModTime().UnixNano())
}

func hashKey(k string) string {
	sum := sha256.Sum256([]byte(k))
	return hex.EncodeToString(sum[:8])
}

// try runs `true` in a throwaway sandbox on platform p. A minute: under
// emulation (a TCG guest) on a busy host ptrace's first sandbox has taken
// more than 20 s; the answer is cached, so a hanging platform costs it once.
func (h *host) try(ctx context.Context, p string) error {
	root, err := os.MkdirTemp(stateBase(), "probe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(root)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	args := []string{"--root", root, "--network=none", "--platform=" + p}
	truePath := "/bin/true"
	if _, err := os.Stat(truePath); err != nil {
		truePath = "/usr/bin/true"
	}
	cmd := exec.CommandContext(ctx, h.Runsc, append(args, "do", truePath)...)
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return errors.New("timed out")
	}
	if err != nil {
		msg := strings.TrimSpace(string(out))
		if i := strings.LastIndexByte(msg, '\n'); i >= 0 {
			msg = msg[i+1:]
		}
		if len(msg) > 200 {
			msg = msg[:200]
		}
		return fmt.Errorf("%w %s", err, msg)
	}
	return nil
}

func (b *Backend) describe(ctx context.Context) []string {
	runsc, err := b.findRunsc()
	if err != nil {
		return []string{err.Error()}
	}
	h, err := b.probe(ctx)
	if err != nil {
		return []string{"runsc at " + runsc}
	}
	notes := []string{h.Version + " at " + runsc, "platform " + h.Platform}
	for _, f := range h.Tried {
		notes = append(notes, "platform "+f)
	}
	return notes
}

// stateBase is where bundles, scratch mounts and runsc's state live.
func stateBase() string {
	d := "/run/moat/gvisor"
	_ = os.MkdirAll(d, 0o700)
	return d
}

// runscRoot is runsc's --root: its own state, apart from other runsc users
// (Docker's), so `runsc list` shows moat's sandboxes only.
func runscRoot() string { return filepath.Join(stateBase(), "state") }
