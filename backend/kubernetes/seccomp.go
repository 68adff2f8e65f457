package kubernetes

import (
	"fmt"
	"os"
	"path/filepath"

	ctr "github.com/moat-sandbox/moat/backend/internal/container"
)

// SeccompDir is where the kubelet reads Localhost seccomp profiles by
// default (its root directory's seccomp/).
const SeccompDir = "/var/lib/kubelet/seccomp"

// seccompProfile is the Localhost profile a run's Pod names, relative to
// the kubelet's seccomp directory: moat's own (ctr.SeccompProfile), named
// by its content, so that a node with another moat's profile, or none,
// refuses to start the Pod rather than run it under the wrong one.
func seccompProfile() (string, error) {
	if seccompOverride != "" {
		return seccompOverride, nil
	}
	name, err := ctr.SeccompName()
	if err != nil {
		return "", err
	}
	return "moat/" + name, nil
}

// seccompOverride, if set, is named instead (tests: a node without it).
var seccompOverride string

// InstallSeccomp writes moat's seccomp profile, in the form the node's
// runtime reads, into the kubelet's seccomp directory dir (SeccompDir if
// ""), where the Pods of this backend name it, and returns its path. Run it
// on every node (the profile is resolved for the machine it is made on).
func InstallSeccomp(dir string) (string, error) {
	if dir == "" {
		dir = SeccompDir
	}
	rel, err := seccompProfile()
	if err != nil {
		return "", fmt.Errorf("kubernetes: seccomp profile: %w", err)
	}
	body, err := ctr.SeccompOCI()
	if err != nil {
		return "", fmt.Errorf("kubernetes: seccomp profile: %w", err)
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("kubernetes: seccomp profile: %w", err)
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, append(body, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("kubernetes: seccomp profile: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return "", fmt.Errorf("kubernetes: seccomp profile: %w", err)
	}
	return p, nil
}
