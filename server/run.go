package server

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/moat-sandbox/moat"
)

// Run states.
const (
	stateQueued  = "queued"
	stateRunning = "running"
	stateDone    = "done"
)

// run is one run or test and what the API shows of it.
type run struct {
	id, owner, kind string
	created         time.Time
	cancel          context.CancelFunc

	mu        sync.Mutex
	state     string
	started   time.Time
	ended     time.Time
	isolation string
	pooled    bool
	result    any    // *moat.Result or *pkgtest.Report
	raw       []byte // result as JSON, made once when the run ends; never changed
	errText   string
	pieces    []piece
	outBytes  int64
	outCap    int64
	dropped   bool
	changed   chan struct{} // closed and replaced on every change
	done      chan struct{}
}

// chunk is a piece of the program's output as the stream sends it.
type chunk struct {
	Stream string `json:"stream"`
	Data   string `json:"data"`
}

// piece is the output of one stream between two writes of the other:
// consecutive writes to one stream are appended to one piece, so that a
// program that writes a byte at a time costs a byte a write, not a chunk.
type piece struct {
	stream string
	data   []byte
}

// pieceCost is what a piece costs of a run's output cap beyond its bytes
// (its header, roughly): a program that alternates stdout and stderr a
// byte at a time reaches the cap sooner, not the server's memory.
const pieceCost = 64

func newRun(id, owner, kind string, outCap int64, cancel context.CancelFunc) *run {
	return &run{id: id, owner: owner, kind: kind, created: time.Now(), cancel: cancel, state: stateQueued,
		outCap: outCap, changed: make(chan struct{}), done: make(chan struct{})}
}

// notify wakes the streams; r.mu is held.
func (r *run) notify() {
	close(r.changed)
	r.changed = make(chan struct{})
}

func (r *run) setRunning(isolation string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state, r.started, r.isolation = stateRunning, time.Now(), isolation
	r.notify()
}

func (r *run) finish(res any, pooled bool, errText string) {
	// The result as JSON, once: every answer that shows it writes these
	// bytes, rather than encode a copy each (a result of control
	// characters is six times its output as JSON).
	raw, err := json.Marshal(res)
	if err != nil || string(raw) == "null" {
		raw = nil
	}
	r.mu.Lock()
	r.state, r.ended, r.result, r.pooled, r.errText, r.raw = stateDone, time.Now(), res, pooled, errText, raw
	r.notify()
	r.mu.Unlock()
	close(r.done)
}

// writer is an io.Writer that appends to the run's output for streaming,
// up to the cap (the Result holds the capped copy in any case).
type writer struct {
	r      *run
	stream string
}

func (w writer) Write(p []byte) (int, error) {
	r := w.r
	r.mu.Lock()
	defer r.mu.Unlock()
	last := len(r.pieces) - 1
	merge := last >= 0 && r.pieces[last].stream == w.stream
	cost := int64(len(p))
	if !merge {
		cost += pieceCost
	}
	if r.outBytes+cost > r.outCap {
		r.dropped = true
		return len(p), nil
	}
	r.outBytes += cost
	if merge {
		r.pieces[last].data = append(r.pieces[last].data, p...)
	} else {
		r.pieces = append(r.pieces, piece{stream: w.stream, data: append([]byte(nil), p...)})
	}
	r.notify()
	return len(p), nil
}

// view is a run as GET shows it.
type view struct {
	ID        string     `json:"id"`
	Kind      string     `json:"kind"`
	State     string     `json:"state"`
	Created   time.Time  `json:"created"`
	Started   *time.Time `json:"started,omitempty"`
	Ended     *time.Time `json:"ended,omitempty"`
	Isolation string     `json:"isolation,omitempty"`
	Pooled    bool       `json:"pooled"`
	Error     string     `json:"error,omitempty"`
	// raw is the result as JSON (see run.raw); writeView puts it in.
	raw []byte
}

// outcome is the run's result as it is (*moat.Result, *pkgtest.Report
// or nil) and its error text.
func (r *run) outcome() (any, bool, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.result, r.pooled, r.errText
}

// writeView answers with v, its result spliced in from the run's own
// bytes.
func writeView(w http.ResponseWriter, code int, v view) {
	head, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	if v.raw == nil {
		_, _ = w.Write(append(head, '\n'))
		return
	}
	_, _ = w.Write(head[:len(head)-1])
	_, _ = w.Write([]byte(`,"result":`))
	_, _ = w.Write(v.raw)
	_, _ = w.Write([]byte("}\n"))
}

func (r *run) view() view {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := view{ID: r.id, Kind: r.kind, State: r.state, Created: r.created, Isolation: r.isolation, Pooled: r.pooled, Error: r.errText, raw: r.raw}
	if !r.started.IsZero() {
		t := r.started
		v.Started = &t
	}
	if !r.ended.IsZero() {
		t := r.ended
		v.Ended = &t
	}
	return v
}

// resultJSON is the finished result alone, as `moat run --json` prints it.
// The bytes are shared: never change them.
func (r *run) resultJSON() ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.raw != nil {
		return r.raw, nil
	}
	return json.Marshal(&moat.Result{Status: moat.StatusError, Error: r.errText, Findings: []moat.Finding{}})
}

// size is what a finished run holds in memory: its streamed output and
// its result as JSON.
func (r *run) size() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outBytes + int64(len(r.errText)+len(r.raw)) + 1<<10 // the rest, roughly
}
