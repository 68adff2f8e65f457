package container

import (
	"fmt"

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
func NewPersona() Persona { return Persona{observe.NewRunnerPersona()} }

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
