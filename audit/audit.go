// Package audit is moat's built-in battery of containment probes: small
// Python programs that each try one thing a sandbox must stop (read a
// host secret, reach the host's network, fork or allocate without bound,
// outlive the run, call a denied system call, ...), run under a backend,
// and judged from outside: by the program's own report where the attempt
// is the finding, and by the host itself where it can witness (a listener
// that received a token, a daemon still alive, a file left behind).
//
// Every probe is safe to run where nothing contains it (the venv backend):
// the bombs are bounded, a denied system call is made with arguments that
// fail harmlessly right after the permission check, files are opened for
// writing and closed without a byte written, signals are 0 and SIGCONT,
// and what a probe leaves on the host (a daemon of its own, a marked file)
// is found and removed by the audit. The probes are embedded in the moat
// binary, so `moat audit` needs nothing else; moattest's adversarial
// suite runs the same Python (prelude and system calls).
//
// An outcome is contained, not contained, or an error of the backend
// (counted as not contained: fail closed). A probe that a backend's policy
// refused before it could act (RestrictedPython) is contained and marked
// refused.
package audit

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moat-sandbox/moat"
)

//go:embed probes/*.py
var probeFS embed.FS

// Prelude is the Python every probe starts with: helpers that never raise
// and describe an outcome as "ok", "read:…" or "err:ERRNAME", a dict R and
// done(), which prints R as one JSON line.
var Prelude = mustRead("prelude")

// Source returns the Python of the named probe, with the prelude unless
// the probe is plain Python that needs no module (the bombs, which a
// software restriction such as RestrictedPython lets run).
func Source(name string) string {
	for _, p := range Probes {
		if p.Name == name && p.plain {
			return mustRead(name)
		}
	}
	return Prelude + mustRead(name)
}

func mustRead(name string) string {
	b, err := probeFS.ReadFile("probes/" + name + ".py")
	if err != nil {
		panic("audit: no probe " + name) // a programming error, found by the tests
	}
	return string(b)
}

// Outcome is what one probe found.
type Outcome struct {
	Probe     string `json:"probe"`
	Contained bool   `json:"contained"`
	// Refused: the backend's policy refused the probe's program before
	// it could act (restricted).
	Refused bool `json:"refused,omitempty"`
	// Detail says what was seen: what got through, or how it was stopped.
	Detail string `json:"detail"`
}

// Row is one backend's line of the comparison.
type Row struct {
	Backend   string     `json:"backend"`
	Title     string     `json:"title"`
	Level     moat.Level `json:"level"`
	Available bool       `json:"available"`
	// Reason says why the backend was not audited.
	Reason       string    `json:"reason,omitempty"`
	Contained    int       `json:"contained"`
	Total        int       `json:"total"`
	NotContained []string  `json:"not_contained"`
	Refused      []string  `json:"refused,omitempty"`
	Layers       []string  `json:"layers"`
	Probes       []Outcome `json:"probes,omitempty"`
}

// Options of a battery. The zero value runs every probe.
type Options struct {
	// Probes, if not empty, selects probes by name.
	Probes []string
	// Image is given to backends that run container images
	// ([moat.Imager]); empty means their default.
	Image string
	// Progress, if set, is told about each probe as it ends.
	Progress func(backend string, o Outcome)
}

// Backend runs the battery against b (named name) and returns its row.
func Backend(ctx context.Context, name string, b moat.Backend, opts Options) (Row, error) {
	names, progress := opts.Probes, opts.Progress
	image := ""
	if _, ok := b.(moat.Imager); ok {
		image = opts.Image
	}
	t, _ := moat.LookupTechnique(name)
	row := Row{Backend: name, Title: t.Title, Level: t.Level, Available: true, NotContained: []string{}, Layers: []string{}}
	h, err := newHost()
	if err != nil {
		return row, fmt.Errorf("audit: prepare the host's side: %w", err)
	}
	defer h.close()
	layers := map[string]bool{}
	for _, p := range Probes {
		if len(names) > 0 && !slices.Contains(names, p.Name) {
			continue
		}
		if ctx.Err() != nil {
			return row, ctx.Err()
		}
		o, res := p.run(ctx, h, b, image)
		if res != nil {
			for _, l := range res.Layers {
				if !layers[l.Name] {
					layers[l.Name] = true
					row.Layers = append(row.Layers, l.Name)
				}
			}
		}
		row.Total++
		if o.Contained {
			row.Contained++
		} else {
			row.NotContained = append(row.NotContained, p.Name)
		}
		if o.Refused {
			row.Refused = append(row.Refused, p.Name)
		}
		row.Probes = append(row.Probes, o)
		if progress != nil {
			progress(name, o)
		}
	}
	return row, nil
}

// Names lists the probes, in the order they run.
func Names() []string {
	var n []string
	for _, p := range Probes {
		n = append(n, p.Name)
	}
	return n
}

// run runs one probe: the spec, the run, the judgement, the cleanup.
func (p *Probe) run(ctx context.Context, h *host, b moat.Backend, image string) (Outcome, *moat.Result) {
	mark := randomID()
	spec := &moat.Spec{Args: []string{"-c", Source(p.Name)}, Env: []string{"MARK=" + mark}, Image: image,
		Limits: moat.Limits{Timeout: 60 * time.Second}}
	if p.setup != nil {
		p.setup(spec, h, mark)
	}
	rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	res, err := b.Run(rctx, spec)
	o := Outcome{Probe: p.Name}
	defer func() {
		if p.after != nil {
			p.after(h, mark)
		}
	}()
	if err != nil {
		o.Detail = "the run failed: " + oneLine(err.Error())
		return o, res
	}
	if res.Status == moat.StatusRefused {
		o.Contained, o.Refused = true, true
		o.Detail = oneLine(res.Error)
		return o, res
	}
	var rep map[string]string
	if p.report {
		if rep = lastJSON(res.Stdout); rep == nil {
			o.Detail = fmt.Sprintf("no report from the probe (status %s, exit %d): %s", res.Status, res.ExitCode, oneLine(lastLine(res.Stderr)))
			return o, res
		}
	}
	o.Contained, o.Detail = p.judge(res, rep, h, mark)
	return o, res
}

// lastJSON decodes the last line of stdout as the probe's report.
func lastJSON(stdout string) map[string]string {
	var m map[string]string
	if json.Unmarshal([]byte(lastLine(stdout)), &m) != nil {
		return nil
	}
	return m
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// oneLine bounds a message from the run for a table or a progress line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func randomID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}
