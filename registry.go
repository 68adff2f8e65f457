package moat

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// Level is a security grade as the seed document grades the techniques.
type Level int

// Levels, weakest first.
const (
	LevelNone    Level = iota // dependency isolation only
	LevelLow                  // software restriction, hard to close every escape
	LevelMedium               // OS-level isolation on a shared kernel
	LevelHigh                 // a jail, or a user-space kernel between code and host
	LevelHighest              // own kernel (micro-VM) or own machine
)

func (l Level) String() string {
	switch l {
	case LevelNone:
		return "none"
	case LevelLow:
		return "low"
	case LevelMedium:
		return "medium"
	case LevelHigh:
		return "high"
	case LevelHighest:
		return "highest"
	}
	return fmt.Sprintf("level(%d)", int(l))
}

// MarshalText makes a Level print as its name in JSON.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// Technique is one row of the seed's comparison of isolation techniques.
type Technique struct {
	Name        string `json:"name"`
	Title       string `json:"title"`
	Level       Level  `json:"level"`
	Description string `json:"description"`
	// Rank orders techniques of one level for `auto`: lower is preferred.
	Rank int `json:"-"`
	// Explicit: never picked by `auto`, only by name: it sends the code
	// elsewhere (a cluster, a remote host).
	Explicit bool `json:"explicit,omitempty"`
}

// Techniques is the seed's table, every row, whether built or not, and
// kubernetes: the same sandbox as a Pod on a cluster.
var Techniques = []Technique{
	{Name: "venv", Title: "venv / conda", Level: LevelNone, Description: "dependency management only; the code has the user's full access"},
	{Name: "restricted", Title: "RestrictedPython", Level: LevelLow, Description: "software-level restriction; hard to close all escape vectors (moat stacks it on native)"},
	{Name: "native", Title: "moat native sandbox", Level: LevelMedium, Rank: 0, Description: "namespaces, seccomp, Landlock, cgroups, rlimits; shares the host kernel"},
	{Name: "podman", Title: "Podman (rootless)", Level: LevelMedium, Rank: 1, Description: "daemonless rootless containers; shares the host kernel"},
	{Name: "docker", Title: "Docker", Level: LevelMedium, Rank: 2, Description: "containers through a root daemon; shares the host kernel"},
	{Name: "jail", Title: "FreeBSD jail", Level: LevelHigh, Rank: 1, Description: "OS-level virtualisation on FreeBSD"},
	{Name: "gvisor", Title: "gVisor (runsc)", Level: LevelHigh, Rank: 0, Description: "user-space kernel intercepts every system call"},
	{Name: "kubernetes", Title: "Kubernetes Pods", Level: LevelHigh, Rank: 2, Explicit: true, Description: "a Pod per run on a cluster, under a gVisor RuntimeClass (plain runc Pods are medium)"},
	{Name: "microvm", Title: "Firecracker / micro-VM", Level: LevelHighest, Rank: 0, Description: "own kernel in a small virtual machine"},
	{Name: "ssh", Title: "dedicated disposable host (over SSH)", Level: LevelHigh, Rank: 2, Explicit: true, Description: "a separate machine reached over SSH, wiped (and reset) after the run: the device is what is isolated"},
}

// Factory builds a backend. It must be cheap: no probing of the host.
type Factory func() Backend

var (
	mu       sync.RWMutex
	registry = map[string]Factory{}
)

// Register makes a backend available under the name of its Technique.
// It panics on a duplicate or on a name missing from Techniques, as both
// are programming errors found at init.
func Register(name string, f Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, ok := registry[name]; ok {
		panic("moat: backend registered twice: " + name)
	}
	if _, ok := LookupTechnique(name); !ok {
		panic("moat: backend for unknown technique: " + name)
	}
	registry[name] = f
}

// LookupTechnique returns the row of the table with that name.
func LookupTechnique(name string) (Technique, bool) {
	for _, t := range Techniques {
		if t.Name == name {
			return t, true
		}
	}
	return Technique{}, false
}

// Get returns a new instance of the named backend.
func Get(name string) (Backend, error) {
	mu.RLock()
	f, ok := registry[name]
	mu.RUnlock()
	if !ok {
		if _, known := LookupTechnique(name); known {
			return nil, fmt.Errorf("%q: not in this build of moat: %w", name, ErrUnavailable)
		}
		return nil, fmt.Errorf("%q (see `moat backends`): %w", name, ErrUnknownBackend)
	}
	return f(), nil
}

// Registered lists the names of registered backends, sorted.
func Registered() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Check reports whether b works here: nil if b has no Checker.
func Check(ctx context.Context, b Backend) error {
	if c, ok := b.(Checker); ok {
		return c.Check(ctx)
	}
	return nil
}

// Strongest lists the registered backends that isolate (level medium or
// more), strongest first; among equals, the lower Rank comes first. It
// checks nothing: [Select] checks in this order and stops at the first that
// works, so a run pays for no more probes than it needs.
func Strongest() []string {
	ts := append([]Technique(nil), Techniques...)
	sort.SliceStable(ts, func(i, j int) bool {
		if ts[i].Level != ts[j].Level {
			return ts[i].Level > ts[j].Level
		}
		return ts[i].Rank < ts[j].Rank
	})
	var names []string
	for _, t := range ts {
		if t.Level < LevelMedium || t.Explicit {
			continue // never pick a technique that does not isolate, or one that must be named
		}
		if _, err := Get(t.Name); err == nil {
			names = append(names, t.Name)
		}
	}
	return names
}
