// Package all registers every backend moat has: import it, and call Init
// first thing in main.
//
// Built with the tag nokube, it leaves the kubernetes backend out, and
// with it Kubernetes' client: 14 MB of the binary and a sixth of the CPU
// of a moat start.
package all

import (
	_ "github.com/moat-sandbox/moat/backend/docker"
	_ "github.com/moat-sandbox/moat/backend/gvisor"
	_ "github.com/moat-sandbox/moat/backend/jail"
	"github.com/moat-sandbox/moat/backend/microvm"
	"github.com/moat-sandbox/moat/backend/native"
	_ "github.com/moat-sandbox/moat/backend/podman"
	_ "github.com/moat-sandbox/moat/backend/restricted"
	_ "github.com/moat-sandbox/moat/backend/ssh"
	_ "github.com/moat-sandbox/moat/backend/venv"
)

// Init runs a backend's sandbox init when this process was started as one
// (the native sandbox re-executes the binary that runs it; the microvm
// backend boots it as the guest's init and agent) and then exits or powers
// the guest off; otherwise it returns at once. A binary that runs backends
// calls it first thing in main, before it parses flags or starts anything.
func Init() {
	microvm.Init()
	native.Init()
}
