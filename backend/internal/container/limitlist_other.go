//go:build !linux

package container

import "github.com/moat-sandbox/moat/internal/sandbox/survivors"

// daemonsAtLimit lists nothing where the host cannot read a container's
// processes.
func (c Cgroup) daemonsAtLimit() []survivors.Process { return nil }
