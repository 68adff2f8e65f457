// Command moat-init is the native sandbox's init alone, for moat to start
// in place of itself at every native run: moat's own binary links the
// Docker, Kubernetes and MCP clients, and starting it costs twice the CPU.
// Install it beside moat (`go install .../cmd/moat@VERSION
// .../cmd/moat-init@VERSION`, or `go build -o . ./cmd/moat ./cmd/moat-init`);
// moat uses it only when its build matches moat's, and starts itself
// otherwise (backend/native's InitBinary). It does nothing when run by
// hand.
package main

import (
	"fmt"
	"os"

	"github.com/moat-sandbox/moat/backend/native"
)

func main() {
	// An init without a network ran from package nsinit's init function
	// and never gets here; one with a network runs and exits in Init.
	native.Init()
	fmt.Fprintln(os.Stderr, "moat-init: the sandbox init of moat's native backend; moat starts it, not you")
	os.Exit(125)
}
