// Command moat runs untrusted Python in a sandbox.
//
//	moat run [flags] SCRIPT.py [ARGS...]
//	moat run [flags] -c CODE [ARGS...]
//	moat run [flags] -m MODULE [ARGS...]
//	moat backends [--json]
//	moat version
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat/backend/native"
	"github.com/moat-sandbox/moat/internal/termsafe"

	_ "github.com/moat-sandbox/moat/backend/all"
)

// Exit statuses of moat itself; a run otherwise exits with the program's.
const (
	exitTimeout  = 124
	exitFailure  = 125 // bad flags, bad file, setup failure
	exitCannot   = 126
	exitNotFound = 127
)

// exitError carries an exit status out of a subcommand.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	native.Init() // the sandbox init re-executes this binary
	root := &cobra.Command{
		Use:           "moat",
		Short:         "Run untrusted Python in a sandbox",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(runCmd(), backendsCmd(), versionCmd(), gcCmd())
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		fmt.Fprintln(os.Stderr, "moat: "+termsafe.String(oneLine(err.Error())))
		os.Exit(exitFailure)
	}
}

type usageError struct{ error }

func oneLine(s string) string {
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}
