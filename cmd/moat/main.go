// Command moat runs untrusted Python in a sandbox.
//
//	moat run [flags] SCRIPT.py [ARGS...]
//	moat run [flags] -c CODE [ARGS...]
//	moat run [flags] -m MODULE [ARGS...]
//	moat test [flags] TARGET
//	moat scan [flags] TARGET
//	moat backends [--json]
//	moat audit [--isolation NAME,...] [--json]
//	moat kube-seccomp [DIR]
//	moat version
package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/all"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Exit statuses of moat itself; a run otherwise exits with the program's.
const (
	exitTimeout = 124
	exitFailure = 125 // bad flags, bad file, setup failure
)

// exitError carries an exit status out of a subcommand.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func main() {
	all.Init() // the sandbox init re-executes this binary
	if os.Getenv("MOAT_TRACE") != "" {
		// Each step of a run and its time, on stderr (the program's own
		// output is captured apart and never mixed in).
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug,
			ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey && len(groups) == 0 {
					return slog.Attr{}
				}
				return a
			}})))
	}
	root := &cobra.Command{
		Use:           "moat",
		Short:         "Run untrusted Python in a sandbox",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(runCmd(), backendsCmd(), versionCmd(), gcCmd(), testCmd(), scanCmd(), auditCmd(), serveCmd(), mcpCmd(), kubeSeccompCmd())
	err := root.Execute()
	var ee exitError
	switch {
	case err == nil:
		os.Exit(0)
	case errors.As(err, &ee):
		os.Exit(ee.code)
	default:
		var ue usageError
		if errors.As(err, &ue) && runWantsJSON(os.Args[1:]) {
			// A script that asked for JSON gets it, even for a bad flag.
			_ = printJSON(&moat.Result{Status: moat.StatusError, Error: termsafe.Line(err.Error(), 0)})
		}
		fmt.Fprintln(os.Stderr, "moat: "+termsafe.String(termsafe.Line(err.Error(), 0)))
		os.Exit(exitFailure)
	}
}

// runWantsJSON says whether args are `run ... --json ...` with --json
// among the flags, i.e. before the script or -c/-m and their value.
func runWantsJSON(args []string) bool {
	if len(args) == 0 || args[0] != "run" {
		return false
	}
	valued := map[string]bool{}
	runCmd().Flags().VisitAll(func(f *pflag.Flag) {
		if f.NoOptDefVal == "" { // a flag that takes a value
			valued["--"+f.Name] = true
			if f.Shorthand != "" {
				valued["-"+f.Shorthand] = true
			}
		}
	})
	for i := 1; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--json" || a == "--json=true":
			return true
		case a == "--" || !strings.HasPrefix(a, "-"):
			return false // the script: the rest is the program's
		case a == "-c" || a == "-m" || a == "--code" || a == "--module":
			return false
		case valued[a]:
			i++ // its value
		}
	}
	return false
}

type usageError struct{ error }
