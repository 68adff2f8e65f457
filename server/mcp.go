package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
	"github.com/moat-sandbox/moat/pkgtest"
)

// The MCP tools: run_python and test_package, over stdio (`moat mcp`) or
// streamable HTTP at /v1/mcp of `moat serve`. Both go through the same
// queue, limits and pool as the HTTP API.

// RunPythonInput is the run_python tool's input.
type RunPythonInput struct {
	Code      string            `json:"code" jsonschema:"the Python program to run"`
	Args      []string          `json:"args,omitempty" jsonschema:"sys.argv[1:]"`
	Stdin     string            `json:"stdin,omitempty" jsonschema:"the program's standard input"`
	Files     map[string]string `json:"files,omitempty" jsonschema:"extra files in the working directory: plain name to content"`
	TimeoutMS int64             `json:"timeout_ms,omitempty" jsonschema:"wall-clock limit in milliseconds (default: the server's)"`
	Network   string            `json:"network,omitempty" jsonschema:"none (default) or sinkhole: nothing leaves the machine either way"`
}

// RunPythonOutput is the tool's structured result: moat's Result.
type RunPythonOutput struct {
	RunID  string       `json:"run_id"`
	Pooled bool         `json:"pooled"`
	Result *moat.Result `json:"result"`
}

// TestPackageInput is the test_package tool's input.
type TestPackageInput struct {
	Filename      string `json:"filename" jsonschema:"the package's file name: NAME.whl or NAME.tar.gz"`
	ContentBase64 string `json:"content_base64" jsonschema:"the package file, base64"`
	Phases        string `json:"phases,omitempty" jsonschema:"comma-separated phases among install,import,test (default all)"`
}

// TestPackageOutput is pkgtest's report.
type TestPackageOutput struct {
	RunID  string          `json:"run_id"`
	Report *pkgtest.Report `json:"report"`
}

// MCPServer returns an MCP server whose tools run as owner.
func (s *Server) MCPServer(owner, version string) *mcp.Server {
	ms := mcp.NewServer(&mcp.Implementation{Name: "moat", Version: version}, nil)
	mcp.AddTool(ms, &mcp.Tool{Name: "run_python", Description: "Run untrusted Python in a moat sandbox: no network (or a sinkhole), nothing of the host but the Python runtime, limits on time, memory, processes, disk and output. Returns exit status, stdout, stderr and the behaviour report's findings."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in RunPythonInput) (*mcp.CallToolResult, RunPythonOutput, error) {
			return s.mcpRun(ctx, owner, in)
		})
	mcp.AddTool(ms, &mcp.Tool{Name: "test_package", Description: "Install, import and test a Python package (wheel or sdist) in moat sandboxes, each phase in its own, and report what it did."},
		func(ctx context.Context, _ *mcp.CallToolRequest, in TestPackageInput) (*mcp.CallToolResult, TestPackageOutput, error) {
			return s.mcpTest(ctx, owner, in)
		})
	return ms
}

// DefaultMaxMCPBody is the default of Config.MaxMCPBody: the MCP SDK's
// own limit (mcp.DefaultMaxRequestBodyBytes), made ours and explicit.
const DefaultMaxMCPBody = 4 << 20

func (s *Server) mcpHandler() ownerFunc {
	return func(w http.ResponseWriter, r *http.Request, owner string) {
		// The whole request, up to the limit, before the SDK sees it: one
		// over gets a 413 that says what the limit is and where larger
		// packages go. The SDK keeps the same limit (it reads what is
		// read here).
		limit := s.cfg.MaxMCPBody
		if r.ContentLength > limit {
			writeError(w, http.StatusRequestEntityTooLarge, mcpTooLarge(limit))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err != nil {
			writeError(w, http.StatusBadRequest, "read request: "+err.Error())
			return
		}
		if int64(len(body)) > limit {
			writeError(w, http.StatusRequestEntityTooLarge, mcpTooLarge(limit))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		w = s.extendWrite(w)
		h := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return s.MCPServer(owner, "serve") },
			&mcp.StreamableHTTPOptions{Stateless: true, JSONResponse: true, MaxRequestBodyBytes: limit})
		h.ServeHTTP(w, r)
	}
}

func mcpTooLarge(limit int64) string {
	return fmt.Sprintf("MCP request over %d bytes (the server's MCP limit; a package's base64 counts 4/3 of its size): upload larger packages with POST /v1/tests", limit)
}

// toolError is a tool result that reports err to the model.
func toolError(err error) *mcp.CallToolResult {
	return &mcp.CallToolResult{IsError: true, Content: []mcp.Content{&mcp.TextContent{Text: termsafe.Line(err.Error(), 500)}}}
}

func (s *Server) mcpRun(ctx context.Context, owner string, in RunPythonInput) (*mcp.CallToolResult, RunPythonOutput, error) {
	req := &runRequest{Code: in.Code, Args: in.Args, Stdin: in.Stdin, Files: in.Files, Network: in.Network, Limits: limitsRequest{TimeoutMS: in.TimeoutMS}}
	spec, err := s.spec(req)
	if err != nil {
		return toolError(err), RunPythonOutput{}, nil
	}
	rn, err := s.submit(ctx, owner, req, spec, true)
	if err != nil {
		return toolError(err), RunPythonOutput{}, nil
	}
	<-rn.done
	result, pooled, errText := rn.outcome()
	res, _ := result.(*moat.Result)
	if res == nil {
		return toolError(fmt.Errorf("run %s: %s", rn.id, errText)), RunPythonOutput{}, nil
	}
	out := RunPythonOutput{RunID: rn.id, Pooled: pooled, Result: res}
	var b strings.Builder
	fmt.Fprintf(&b, "status %s, exit code %d (%s, %d ms)\n", res.Status, res.ExitStatus(), res.Isolation, res.DurationMS)
	if res.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", res.Error)
	}
	fmt.Fprintf(&b, "--- stdout%s\n%s\n--- stderr%s\n%s", trunc(res.StdoutTruncated), res.Stdout, trunc(res.StderrTruncated), res.Stderr)
	for _, f := range res.Findings {
		fmt.Fprintf(&b, "\nfinding: %s %s %s", f.Severity, f.Category, f.Summary)
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: b.String()}}}, out, nil
}

func trunc(t bool) string {
	if t {
		return " (truncated)"
	}
	return ""
}

func (s *Server) mcpTest(ctx context.Context, owner string, in TestPackageInput) (*mcp.CallToolResult, TestPackageOutput, error) {
	if s.cfg.StateDir == "" {
		return toolError(fmt.Errorf("this server has no state directory for uploads")), TestPackageOutput{}, nil
	}
	if !uploadName.MatchString(in.Filename) {
		return toolError(fmt.Errorf("filename: want the plain name of a wheel or sdist")), TestPackageOutput{}, nil
	}
	release, err := s.admitUpload(owner)
	if err != nil {
		return toolError(err), TestPackageOutput{}, nil
	}
	defer release()
	data, err := base64.StdEncoding.DecodeString(in.ContentBase64)
	if err != nil || int64(len(data)) > s.cfg.MaxUpload {
		return toolError(fmt.Errorf("content_base64: not base64 of at most %d bytes", s.cfg.MaxUpload)), TestPackageOutput{}, nil
	}
	dir, err := os.MkdirTemp(s.cfg.StateDir, "upload-")
	if err != nil {
		return toolError(fmt.Errorf("state directory: %w", err)), TestPackageOutput{}, nil
	}
	keep := false
	defer func() {
		if !keep {
			_ = os.RemoveAll(dir)
		}
	}()
	path := filepath.Join(dir, in.Filename)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return toolError(fmt.Errorf("upload: %w", err)), TestPackageOutput{}, nil
	}
	cfg, choice, err := s.testConfig(ctx, path, in.Phases, "", false, false)
	if err != nil {
		return toolError(err), TestPackageOutput{}, nil
	}
	rn, err := s.start(ctx, owner, "test", 1<<20, true, s.execTest(cfg, choice, dir, in.Filename))
	release()
	if err != nil {
		return toolError(err), TestPackageOutput{}, nil
	}
	keep = true
	<-rn.done
	result, _, errText := rn.outcome()
	rep, _ := result.(*pkgtest.Report)
	if rep == nil {
		return toolError(fmt.Errorf("test %s: %s", rn.id, errText)), TestPackageOutput{}, nil
	}
	b, _ := json.MarshalIndent(rep, "", " ")
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(b)}}}, TestPackageOutput{RunID: rn.id, Report: rep}, nil
}
