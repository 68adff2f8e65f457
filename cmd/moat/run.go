package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/microvm"
	sshbackend "github.com/moat-sandbox/moat/backend/ssh"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// maxScript bounds a script file read from the host.
const maxScript = 64 << 20

type runFlags struct {
	isolation, timeout, network string
	limitFlags
	env                                                 []string
	workspace, out, python, policy, code, module, image string
	kernel                                              string
	asJSON, allowDegraded, userland, noIsolation        bool
	report                                              reportFlags // report.go
}

func runCmd() *cobra.Command {
	f := &runFlags{}
	c := &cobra.Command{
		Use:   "run [flags] (SCRIPT.py | -c CODE | -m MODULE) [ARGS...]",
		Short: "Run untrusted Python in a sandbox",
		Long: `Run a Python script, code string or module in a sandbox: no network,
nothing of the host readable but the Python runtime, limits on time, memory,
processes, disk and output. Flags go before the script; everything after it
is passed to the program.`,
		RunE: func(c *cobra.Command, args []string) error { return doRun(c, f, args) },
	}
	c.Flags().SetInterspersed(false)
	fl := c.Flags()
	fl.StringVar(&f.isolation, "isolation", "auto", "backend: auto or a name from `moat backends`")
	fl.StringVar(&f.timeout, "timeout", "60s", "wall-clock limit")
	addLimitFlags(fl, &f.limitFlags, "all processes together")
	fl.StringVar(&f.network, "network", "none", "network policy: none, sinkhole or allow=HOST:PORT,...")
	fl.StringArrayVar(&f.env, "env", nil, "KEY=VALUE, or KEY to pass the host's value (repeatable)")
	fl.StringVar(&f.workspace, "workspace", "", "directory copied in as the working directory")
	fl.StringVar(&f.out, "out", "", "empty or new directory that receives the working directory after the run")
	fl.StringVar(&f.image, "image", "", "container image for container backends (default: the backend's)")
	fl.StringVar(&f.kernel, "kernel", "", "guest kernel for microvm: a bzImage, or a vmlinux with a PVH entry (default: one moat finds; see docs/microvm.md)")
	fl.StringVar(&f.python, "python", "", "host Python interpreter to use (default: python3 on PATH, resolved)")
	fl.StringVar(&f.policy, "policy", "", "TOML policy file with the same settings (flags win)")
	fl.StringVarP(&f.code, "code", "c", "", "program passed in as a string")
	fl.StringVarP(&f.module, "module", "m", "", "run a module as a script")
	fl.BoolVar(&f.asJSON, "json", false, "print one JSON result instead of the program's output")
	fl.BoolVar(&f.allowDegraded, "allow-degraded", false, "run even if a protection layer cannot be had (the result lists what was in effect)")
	fl.BoolVar(&f.userland, "userland", false, "also bind the host's /bin/sh and core utilities read-only (native, gvisor, microvm; images have their own)")
	addReportFlags(fl, &f.report)
	addAckFlag(fl, &f.noIsolation)
	return c
}

// buildSpec merges policy and flags (flags win) into a Spec and the name
// of the backend. Every error is the user's and ends in exit 125.
func buildSpec(c *cobra.Command, f *runFlags, args []string) (*moat.Spec, string, error) {
	if f.policy != "" {
		p, err := loadPolicy(f.policy)
		if err != nil {
			return nil, "", err
		}
		set := func(name string, dst *string, v string) {
			if v != "" && !c.Flags().Changed(name) {
				*dst = v
			}
		}
		set("isolation", &f.isolation, p.Isolation)
		set("timeout", &f.timeout, p.Timeout)
		set("memory", &f.memory, p.Memory)
		set("disk", &f.disk, p.Disk)
		set("output-limit", &f.outputLimit, p.OutputLimit)
		set("network", &f.network, p.Network)
		set("workspace", &f.workspace, p.Workspace)
		set("out", &f.out, p.Out)
		set("python", &f.python, p.Python)
		set("image", &f.image, p.Image)
		set("kernel", &f.kernel, p.Kernel)
		if p.Pids != 0 && !c.Flags().Changed("pids") {
			f.pids = p.Pids
		}
		if p.CPUs != 0 && !c.Flags().Changed("cpus") {
			f.cpus = p.CPUs
		}
		if !c.Flags().Changed("env") {
			f.env = p.Env
		}
		if p.AllowDegraded && !c.Flags().Changed("allow-degraded") {
			f.allowDegraded = true
		}
		if p.Userland && !c.Flags().Changed("userland") {
			f.userland = true
		}
		if p.SSH != nil {
			sshbackend.Configure(*p.SSH)
		}
	}
	s := &moat.Spec{Python: f.python, Image: f.image, AllowDegraded: f.allowDegraded, Userland: f.userland, Files: map[string][]byte{}, NoReport: f.report.noReport()}
	var err error
	if s.Limits.Timeout, err = time.ParseDuration(f.timeout); err != nil || s.Limits.Timeout <= 0 {
		return nil, "", fmt.Errorf("--timeout: invalid duration %q (use e.g. 30s, 5m)", f.timeout)
	}
	if err := f.limits(&s.Limits); err != nil {
		return nil, "", err
	}
	if s.Network, err = moat.ParseNetwork(f.network); err != nil {
		return nil, "", fmt.Errorf("--network: %w", err)
	}
	for _, e := range f.env {
		k, _, hasValue := strings.Cut(e, "=")
		if k == "" {
			return nil, "", fmt.Errorf("--env %q: empty name", e)
		}
		if !hasValue {
			v, ok := os.LookupEnv(k)
			if !ok {
				continue // like docker: an unset variable is not passed
			}
			e = k + "=" + v
		}
		s.Env = append(s.Env, e)
	}
	if f.python != "" {
		if _, err := os.Stat(f.python); err != nil {
			return nil, "", fmt.Errorf("--python %s: no such interpreter", f.python)
		}
	}
	if f.kernel != "" {
		if err := microvm.CheckKernel(f.kernel); err != nil {
			return nil, "", fmt.Errorf("--kernel %s: %w", f.kernel, err)
		}
		abs, err := filepath.Abs(f.kernel)
		if err != nil {
			return nil, "", fmt.Errorf("--kernel: %w", err)
		}
		microvm.SetKernel(abs)
	}
	if f.workspace != "" {
		if s.Workspace, err = filepath.Abs(f.workspace); err != nil {
			return nil, "", err
		}
	}
	s.OutDir = f.out
	switch {
	case f.code != "" && f.module != "":
		return nil, "", errors.New("-c and -m cannot be used together")
	case f.code != "":
		s.Args = append([]string{"-c", f.code}, args...)
	case f.module != "":
		s.Args = append([]string{"-m", f.module}, args...)
	case len(args) == 0:
		return nil, "", errors.New("nothing to run: give SCRIPT.py, -c CODE or -m MODULE (see moat run --help)")
	default:
		name, err := placeScript(s, args[0])
		if err != nil {
			return nil, "", err
		}
		s.Args = append([]string{name}, args[1:]...)
	}
	return s, f.isolation, nil
}

// placeScript makes the script reachable inside: by its path relative to
// the workspace when it lies in it, else as a file of its own.
func placeScript(s *moat.Spec, script string) (string, error) {
	abs, err := filepath.Abs(script)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", fmt.Errorf("script %s: no such file", script)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("script %s is a directory", script)
	}
	if s.Workspace != "" {
		if rel, err := filepath.Rel(s.Workspace, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return rel, nil
		}
	}
	if fi.Size() > maxScript {
		return "", fmt.Errorf("script %s is larger than %d bytes", script, maxScript)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		return "", fmt.Errorf("script: %w", err)
	}
	name := filepath.Base(abs)
	if s.Workspace != "" {
		if _, err := os.Lstat(filepath.Join(s.Workspace, name)); err == nil {
			return "", fmt.Errorf("script %s: the workspace already has a file named %s", script, name)
		}
	}
	s.Files[name] = data
	return name, nil
}

// liveWriter is where the program's output goes as it comes: escaped when
// it is a terminal, raw when it is a file or a pipe (data for scripts).
// Its first write error is kept (outputWriter.err): the capture that feeds
// it drops errors so the program never blocks, and the run must still say
// that its output did not all arrive.
func liveWriter(f *os.File) *outputWriter {
	o := &outputWriter{name: f.Name(), w: f}
	if isTerminal(f) {
		o.w = &termsafe.Writer{W: f}
	}
	return o
}

// outputWriter passes the program's output to moat's own stdout or stderr
// and remembers the first error (a full disk, a closed descriptor); after
// one it drops the rest, and it never fails, so the run goes on and its
// result is still reported.
type outputWriter struct {
	name string
	w    io.Writer
	mu   sync.Mutex
	err  error
}

func (o *outputWriter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.err == nil {
		if _, err := o.w.Write(p); err != nil {
			o.err = fmt.Errorf("the program's output to %s was cut short: %w", o.name, err)
		}
	}
	return len(p), nil
}

// flush writes what a terminal's escaping holds back and returns the first
// error of the stream.
func (o *outputWriter) flush() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if tw, ok := o.w.(*termsafe.Writer); ok && o.err == nil {
		if err := tw.Flush(); err != nil {
			o.err = fmt.Errorf("the program's output to %s was cut short: %w", o.name, err)
		}
	}
	return o.err
}

func doRun(c *cobra.Command, f *runFlags, args []string) error {
	spec, isolation, err := buildSpec(c, f, args)
	if err != nil {
		return reportFailure(f.asJSON, nil, err)
	}
	ctx, stop := interruptContext(c.Context(), os.Stdout, os.Stderr)
	defer stop()
	choice, err := moat.Select(ctx, isolation, spec)
	if err != nil {
		return reportFailure(f.asJSON, nil, err)
	}
	name := choice.Name
	if err := gateNoIsolation(name, f.noIsolation); err != nil {
		return reportFailure(f.asJSON, nil, err)
	}
	if c.Flags().Changed("kernel") && name != "microvm" {
		return reportFailure(f.asJSON, nil, fmt.Errorf("--kernel: only the microvm backend boots a kernel of its own, and this run's is %s (add --isolation microvm)", name))
	}
	spec.Stdin = os.Stdin
	var live []*outputWriter
	if !f.asJSON {
		live = []*outputWriter{liveWriter(os.Stdout), liveWriter(os.Stderr)}
		spec.Stdout, spec.Stderr = live[0], live[1]
	}
	// A local `moat serve` runs it in its warm pool when it can
	// (runserver.go); else it runs here.
	res, _, served := viaServer(ctx, spec, name)
	var runErr error
	if !served {
		res, runErr = choice.Backend.Run(ctx, spec)
	}
	var liveErr error
	for _, o := range live {
		if err := o.flush(); err != nil && liveErr == nil {
			liveErr = err
		}
	}
	if res != nil && res.Isolation == "" {
		res.Isolation = name
	}
	if runErr != nil {
		return reportFailure(f.asJSON, res, runErr)
	}
	if f.asJSON {
		if err := printJSON(res); err != nil {
			return err
		}
	} else {
		explain(res, spec)
	}
	if err := writeReports(&f.report, res, spec, f.asJSON, args); err != nil {
		return reportFailure(false, nil, err)
	}
	// Output that could not be written is lost to the user: the run is
	// not reported as a success (125), unless it was interrupted (a reader
	// gone is SIGPIPE's 130) or ended by moat's own failure code.
	if liveErr != nil && res.Status != moat.StatusCanceled {
		fmt.Fprintln(os.Stderr, "moat: "+termsafe.String(termsafe.Line(liveErr.Error(), 0)))
		return exitError{125}
	}
	return exitError{res.ExitStatus()}
}

// explain tells, on stderr, why a run ended when the program did not end
// it itself. The program's own output has already passed.
func explain(res *moat.Result, spec *moat.Spec) {
	for _, d := range res.Degraded {
		fmt.Fprintln(os.Stderr, "moat: warning: degraded: "+termsafe.String(d))
	}
	if res.Out != nil {
		for _, s := range res.Out.Skipped {
			fmt.Fprintln(os.Stderr, "moat: --out: skipped "+termsafe.String(s))
		}
		if res.Out.Error != "" {
			fmt.Fprintln(os.Stderr, "moat: --out: copy incomplete: "+termsafe.String(res.Out.Error))
		}
	}
	l := spec.Limits.WithDefaults()
	switch res.Status {
	case moat.StatusTimeout:
		fmt.Fprintf(os.Stderr, "moat: timeout: killed after %s\n", l.Timeout)
	case moat.StatusMemory:
		fmt.Fprintf(os.Stderr, "moat: memory limit of %d bytes reached: killed\n", l.Memory)
	case moat.StatusPids:
		fmt.Fprintf(os.Stderr, "moat: process limit of %d reached: killed\n", l.Pids)
	case moat.StatusOutputLimit:
		fmt.Fprintf(os.Stderr, "moat: output limit of %d bytes reached: killed\n", l.OutputLimit)
	case moat.StatusCanceled:
		fmt.Fprintln(os.Stderr, "moat: interrupted: sandbox killed")
	case moat.StatusSignaled:
		fmt.Fprintf(os.Stderr, "moat: program killed by signal %d\n", res.Signal)
	case moat.StatusError, moat.StatusRefused:
		fmt.Fprintln(os.Stderr, "moat: "+termsafe.String(res.Error))
	}
}

func printJSON(res *moat.Result) error {
	if res.Layers == nil {
		res.Layers = []moat.Layer{} // always a list, even when nothing ran
	}
	if res.Findings == nil {
		res.Findings = []moat.Finding{}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// reportFailure prints a sandbox failure as one line (and, with --json,
// as a result object so scripts always get one) and picks the exit code.
func reportFailure(asJSON bool, res *moat.Result, err error) error {
	if res == nil {
		res = &moat.Result{}
	}
	res.Status = moat.StatusError
	if res.Error == "" {
		res.Error = err.Error()
	}
	if asJSON {
		_ = printJSON(res)
	}
	fmt.Fprintln(os.Stderr, "moat: "+termsafe.String(termsafe.Line(err.Error(), 0)))
	return exitError{res.ExitStatus()}
}
