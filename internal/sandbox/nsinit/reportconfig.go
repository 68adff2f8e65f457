package nsinit

import (
	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// ReportConfig is the parent's part of Config for the report.
type ReportConfig struct {
	StartMono int64              `json:"start_mono"` // CLOCK_MONOTONIC of the run's start
	Files     map[string]string  `json:"files"`      // honeytoken files to plant
	Tokens    []honeytoken.Token `json:"tokens"`
	// Bytecode is the hook compiled for the run's interpreter, written
	// beside its source; nil if it could not be had (Python then compiles
	// the source, a little slower).
	Bytecode *audit.Bytecode `json:"bytecode,omitempty"`
	// HookRoot is where the hook (HookRoot/py) and its FIFO
	// (HookRoot/audit) go, in the read-only root: the persona's tools
	// directory; "" is audit.Dir's parent.
	HookRoot string `json:"hook_root,omitempty"`
	// Site is the runtime's site directory the hook is added to (a
	// read-only overlay with HookRoot/site above it: audit.Module and its
	// .pth line), so nothing of it is on PYTHONPATH or sys.path. "", or
	// an overlay that cannot be mounted: the hook goes on PYTHONPATH.
	Site string `json:"site,omitempty"`
	// Startup is the runtime's encodings package with the hook's loader
	// for -S interpreters (audit.Startup), put over the package's own
	// __init__.py by a read-only overlay when the hook is in Site; nil,
	// or an overlay that cannot be mounted: -S interpreters run without
	// the hook (the kernel's exec without a hello stays a finding).
	Startup *audit.Startup `json:"startup,omitempty"`
}
