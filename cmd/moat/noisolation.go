package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/moat-sandbox/moat"
)

// ackFlag is the flag that lets a run use a backend that does not isolate
// (level none: venv).
const ackFlag = "i-accept-no-isolation"

func addAckFlag(fl *pflag.FlagSet, dst *bool) {
	fl.BoolVar(dst, ackFlag, false, "allow a backend that does not isolate (venv): the program gets your full access")
}

// errNoIsolation is the refusal of a backend of level none without the
// flag; it exits 125 like every other error of moat's.
type errNoIsolation struct{ name string }

func (e errNoIsolation) Error() string {
	return fmt.Sprintf("--isolation %s does not isolate the program from this host; add --%s to run it anyway", e.name, ackFlag)
}

// gateNoIsolation refuses a backend that does not isolate unless the user
// acknowledged it, and warns on stderr every time it is used.
func gateNoIsolation(name string, ack bool) error {
	t, ok := moat.LookupTechnique(name)
	if !ok || t.Level > moat.LevelNone {
		return nil
	}
	if !ack {
		return errNoIsolation{name}
	}
	fmt.Fprintf(os.Stderr, "moat: warning: --isolation %s does not isolate: the program runs on this host with your user's full access to files, network and processes\n", name)
	return nil
}
