package main

import (
	"errors"
	"fmt"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"os"
	"strings"

	"github.com/BurntSushi/toml"

	sshbackend "github.com/moat-sandbox/moat/backend/ssh"
)

// policy is the TOML policy file: the same settings as the flags of
// `moat run`, which win over it. Unknown keys are an error. moat never
// reads a policy it was not pointed at: a moat.toml shipped inside the
// code under test must not loosen its own sandbox.
type policy struct {
	Isolation     string   `toml:"isolation"`
	Timeout       string   `toml:"timeout"`
	Memory        string   `toml:"memory"`
	Pids          int      `toml:"pids"`
	CPUs          float64  `toml:"cpus"`
	Disk          string   `toml:"disk"`
	OutputLimit   string   `toml:"output_limit"`
	Network       string   `toml:"network"`
	Env           []string `toml:"env"`
	Workspace     string   `toml:"workspace"`
	Out           string   `toml:"out"`
	Python        string   `toml:"python"`
	Image         string   `toml:"image"`
	Kernel        string   `toml:"kernel"` // microvm's guest kernel
	AllowDegraded bool     `toml:"allow_degraded"`
	Userland      bool     `toml:"userland"`
	// SSH configures the ssh backend (host, user, port, key, known_hosts,
	// reset, dir), over its MOAT_SSH_* variables.
	SSH *sshbackend.Config `toml:"ssh"`
}

func loadPolicy(path string) (*policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if len(b) > 1<<20 {
		return nil, fmt.Errorf("policy %s: larger than 1MiB", path)
	}
	var p policy
	md, err := toml.Decode(string(b), &p)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return nil, fmt.Errorf("policy %s: line %d: %s", path, perr.Position.Line, termsafe.Line(perr.Message, 0))
		}
		return nil, fmt.Errorf("policy %s: %s", path, termsafe.Line(err.Error(), 0))
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("policy %s: unknown key %s", path, strings.Join(keys, ", "))
	}
	return &p, nil
}
