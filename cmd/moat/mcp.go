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
	"sync"
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
			calls := &pendingCalls{}
			err = s.MCPServer("stdio", version).Run(ctx, &mcp.IOTransport{Reader: jsonLines(os.Stdin, os.Stderr, calls), Writer: &answerWriter{w: os.Stdout, calls: calls}})
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
// would cost it all of them). At r's end it waits for the answers to the
// requests it passed (calls) before the session sees the end, which also
// ends the session and its calls: `moat mcp < requests` answers them all.
// A signal still ends the session at once.
func jsonLines(r io.Reader, warn io.Writer, calls *pendingCalls) io.ReadCloser {
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
			calls.request(line)
			if _, err := pw.Write(append(line, '\n')); err != nil {
				return
			}
		}
		err := sc.Err()
		if err == nil {
			calls.wait()
		}
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("a line of stdin is longer than %d bytes", maxMCPLine)
		}
		pw.CloseWithError(err) // nil: EOF
	}()
	return pr
}

// pendingCalls counts the requests passed to the session that it has not
// answered yet.
type pendingCalls struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    int
}

// message is what pendingCalls reads of a JSON-RPC message.
type message struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
}

func (p *pendingCalls) add(d int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cond == nil {
		p.cond = sync.NewCond(&p.mu)
	}
	p.n += d
	p.cond.Broadcast()
}

// request counts line when it is a request (a method and an id).
func (p *pendingCalls) request(line []byte) {
	var m message
	if json.Unmarshal(line, &m) == nil && m.Method != "" && len(m.ID) > 0 && string(m.ID) != "null" {
		p.add(1)
	}
}

// wait returns once every request counted has been answered.
func (p *pendingCalls) wait() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cond == nil {
		p.cond = sync.NewCond(&p.mu)
	}
	for p.n > 0 {
		p.cond.Wait()
	}
}

// answerWriter writes the session's messages to w and counts the answers
// among them (an id and no method) off calls.
type answerWriter struct {
	w     io.Writer
	calls *pendingCalls
	buf   []byte
}

func (a *answerWriter) Write(b []byte) (int, error) {
	n, err := a.w.Write(b)
	a.buf = append(a.buf, b[:n]...)
	for {
		i := bytes.IndexByte(a.buf, '\n')
		if i < 0 {
			break
		}
		var m message
		if json.Unmarshal(a.buf[:i], &m) == nil && m.Method == "" && len(m.ID) > 0 && string(m.ID) != "null" {
			a.calls.add(-1)
		}
		a.buf = a.buf[i+1:]
	}
	return n, err
}

func (a *answerWriter) Close() error { return nil }
