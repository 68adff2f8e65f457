package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/pool"
	"github.com/moat-sandbox/moat/server"
)

func mcpCmd() *cobra.Command {
	var isolation, maxTimeout, stateDir string
	var poolSize int
	var lf limitFlags
	c := &cobra.Command{
		Use:   "mcp [flags]",
		Short: "Serve moat's tools (run_python, test_package) to an AI agent over MCP on stdio",
		Long: `An MCP server on stdin/stdout with the tools run_python and test_package:
the same runs, limits and warm pool as moat serve, for an agent that starts
moat itself. Logs go to stderr. See docs/serve.md.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			var max moat.Limits
			var err error
			if max.Timeout, err = time.ParseDuration(maxTimeout); err != nil || max.Timeout <= 0 {
				return fmt.Errorf("--max-timeout: invalid duration %q", maxTimeout)
			}
			if err := lf.limits(&max); err != nil {
				return err
			}
			cfg := server.Config{Isolation: isolation, Max: max, Workers: 4, Queue: 16, Log: log}
			if stateDir != "" {
				if err := os.MkdirAll(stateDir, 0o700); err != nil {
					return fmt.Errorf("--state-dir: %w", err)
				}
				cfg.StateDir = stateDir
			} else {
				d, err := os.MkdirTemp("", "moat-mcp-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(d)
				cfg.StateDir = d
			}
			if poolSize > 0 {
				if b, err := moat.Get("native"); err == nil && moat.Check(c.Context(), b) == nil {
					tmpl := moat.Spec{Limits: moat.Limits{Memory: min(max.Memory, moat.DefaultMemory), Pids: min(max.Pids, moat.DefaultPids),
						Disk: min(max.Disk, moat.DefaultDisk), CPUs: max.CPUs}}
					if cfg.Pool, err = pool.New(b, tmpl, poolSize, 1); err != nil {
						return err
					}
				}
			}
			s, err := server.New(cfg)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			err = s.MCPServer("stdio", version).Run(ctx, &mcp.IOTransport{Reader: jsonLines(os.Stdin, os.Stderr), Writer: os.Stdout})
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s.Shutdown(sctx)
			if err != nil && !errors.Is(err, ctx.Err()) && ctx.Err() == nil {
				return fmt.Errorf("mcp: %w", err)
			}
			return nil
		},
	}
	fl := c.Flags()
	fl.StringVar(&isolation, "isolation", "auto", "backend of the runs")
	fl.IntVar(&poolSize, "pool", 2, "native sandboxes kept prepared (0: none)")
	fl.StringVar(&maxTimeout, "max-timeout", "60s", "largest wall clock a run may ask for (and the default)")
	fl.StringVar(&stateDir, "state-dir", "", "directory for uploaded packages (default: a temporary one)")
	addLimitFlags(fl, &lf, "the largest a run may ask for")
	return c
}

// maxMCPLine bounds one JSON-RPC message read from stdin.
const maxMCPLine = 16 << 20

// jsonLines passes the lines of r that are JSON on to the MCP session and
// drops the others with one line on warn: the SDK ends the session at a
// line it cannot parse, and with it every call still running, whose
// answers an agent then never gets (an agent's stray log line on stdin
// would cost it all of them).
func jsonLines(r io.Reader, warn io.Writer) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), maxMCPLine)
		for sc.Scan() {
			line := bytes.TrimSpace(sc.Bytes())
			if len(line) == 0 {
				continue
			}
			if !json.Valid(line) {
				fmt.Fprintf(warn, "moat: mcp: ignored a line of stdin that is not JSON (%d bytes)\n", len(line))
				continue
			}
			if _, err := pw.Write(append(line, '\n')); err != nil {
				return
			}
		}
		err := sc.Err()
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line of stdin is longer than %d bytes", maxMCPLine)
		}
		pw.CloseWithError(err) // nil: EOF
	}()
	return pr
}
