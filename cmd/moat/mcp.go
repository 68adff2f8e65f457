package main

import (
	"context"
	"errors"
	"fmt"
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
			err = s.MCPServer("stdio", version).Run(ctx, &mcp.StdioTransport{})
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
