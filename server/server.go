// Package server is moat as a service: an HTTP+JSON API under /v1 (runs,
// tests of uploaded packages, backends, health, Prometheus metrics, and
// the MCP tools), described by the OpenAPI document at /v1/openapi.json.
//
// A Server runs each request's Spec on a backend chosen with moat.Select,
// native runs through a warm pool (internal/pool) when one fits. It is
// built to face untrusted callers on a loopback address: every request
// but health and the API document needs a bearer token; a run is visible
// only to the token (or socket user) that created it; request bodies and
// uploads are bounded; a run's limits may not exceed the server's maxima;
// the queue is bounded (429 with Retry-After when full); and Shutdown
// cancels what is left and waits until every sandbox is gone.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/pool"
)

// Config is a Server's settings. The zero value of each field is the
// restrictive default.
type Config struct {
	// Tokens are accepted on TCP; nil refuses every TCP request (Unix
	// socket requests are authenticated by the peer's uid instead).
	Tokens *Tokens
	// AdminTokens may read the server-wide metrics (/v1/metrics), which
	// count every token's runs; nothing else. The run tokens (Tokens) see
	// only their own runs and get 403 there; the socket's user (the
	// operator) may read them too.
	AdminTokens *Tokens
	// Isolation is the backend of a request that names none ("auto").
	Isolation string
	// Max caps every run's limits; a request above it is refused. Zero
	// fields are moat's defaults.
	Max moat.Limits
	// Workers is how many runs go at once (default 2); Queue how many
	// more may wait (default 64). Beyond that: 429.
	Workers, Queue int
	// MaxBody bounds a run request (default 1MiB), MaxUpload a package
	// upload (default 64MiB), MaxMCPBody an MCP request (default 4MiB,
	// the MCP SDK's own default, made explicit: a test_package upload
	// over MCP is base64 in it, so at most about 3MiB of package; larger
	// ones go through POST /v1/tests). Beyond: 413 with the limit.
	MaxBody, MaxUpload, MaxMCPBody int64
	// StateDir holds uploads while their test runs; required for tests.
	StateDir string
	// Pool, if set, serves the runs of backend PoolBackend (default
	// native) that it fits.
	Pool        *pool.Pool
	PoolBackend string
	// ZygotePool, if set, serves first the native runs it fits (no
	// report: `moat serve --zygote`, backend/native's Zygote); its misses
	// go on to Pool or cold.
	ZygotePool *pool.Pool
	// Image, if set, is the image of every run (Spec.Image): for the
	// backends that run images (docker, podman, gVisor through Docker,
	// kubernetes), and a container pool's. A request that names another
	// image is refused: the server pulls nothing a caller asks for.
	Image string
	// Keep is how many finished runs are kept for GET (default 1000),
	// KeepFor how long (default 1h), KeepBytes how much of their output
	// (default 256MiB); the oldest go first.
	Keep      int
	KeepFor   time.Duration
	KeepBytes int64
	// WriteStall is how long a response that waits for a run (wait=true,
	// a stream, MCP) may wait for its client to read, per piece it
	// writes (default 60s); beyond, the connection is closed.
	WriteStall time.Duration
	// MinReadRate bounds a client that reads, but slowly (a trickle):
	// the time a response spends waiting for its client to read may not
	// exceed WriteStall plus what it wrote at MinReadRate bytes a second
	// (default 256KiB/s); beyond, the connection is closed. A client
	// that keeps up never waits, whatever the size of the output.
	MinReadRate int64
	Log         *slog.Logger
}

// Server is the service; see the package doc.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	mux     *http.ServeMux

	ctx    context.Context // canceled by Shutdown: every run ends
	cancel context.CancelFunc
	sem    chan struct{}
	queued atomic.Int64 // waiting for a worker
	// uploads are the packages being received and checked, before the
	// queue admits their test: as many as the queue holds, else 429 (the
	// disk and the archive checks of uploads are bounded too).
	uploads chan struct{}
	active  sync.WaitGroup

	mu   sync.Mutex
	runs map[string]*run
	// waitingBy and uploadsBy count each owner's places in the queue and
	// in the uploads (under mu): no owner takes more than share() of
	// either, so one token's flood leaves room for the others.
	waitingBy, uploadsBy map[string]int
	finished             []string // ids, oldest first
	kept                 int64    // bytes of output the finished runs hold
	closing              bool

	selMu sync.Mutex
	sel   map[selKey]selEntry
}

// New makes a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 64
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 64 << 20
	}
	if cfg.MaxMCPBody <= 0 {
		cfg.MaxMCPBody = DefaultMaxMCPBody
	}
	if cfg.Keep <= 0 {
		cfg.Keep = 1000
	}
	if cfg.KeepFor <= 0 {
		cfg.KeepFor = time.Hour
	}
	if cfg.KeepBytes <= 0 {
		cfg.KeepBytes = 256 << 20
	}
	if cfg.WriteStall <= 0 {
		cfg.WriteStall = 60 * time.Second
	}
	if cfg.MinReadRate <= 0 {
		cfg.MinReadRate = 256 << 10
	}
	if cfg.Isolation == "" {
		cfg.Isolation = "auto"
	}
	cfg.Max = cfg.Max.WithDefaults()
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{cfg: cfg, log: cfg.Log, ctx: ctx, cancel: cancel, sem: make(chan struct{}, cfg.Workers), uploads: make(chan struct{}, cfg.Queue),
		runs: map[string]*run{}, sel: map[selKey]selEntry{}, waitingBy: map[string]int{}, uploadsBy: map[string]int{}}
	s.metrics = newMetrics(s)
	s.routes()
	return s, nil
}

// Handler is the API; serve it with http.Server (see Serve for the
// timeouts moat uses).
func (s *Server) Handler() http.Handler { return s.mux }

// Shutdown refuses new runs, lets runs in progress go on until ctx is
// done, then cancels them, and returns once every run has ended (every
// sandbox is gone) and the pool is emptied.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.active.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.log.Info("shutdown: canceling the runs left")
		s.cancel()
		<-done
	}
	s.cancel()
	if s.cfg.Pool != nil {
		s.cfg.Pool.Close()
	}
	if s.cfg.ZygotePool != nil {
		s.cfg.ZygotePool.Close()
	}
}

// Serve serves h on ln-like servers with moat's timeouts: a slow client
// cannot hold a connection (headers 5s, body 60s, idle 60s); responses
// that wait for a run extend their own write deadline.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "r-" + hex.EncodeToString(b[:])
}

// errBusy: the queue is full.
var errBusy = errors.New("too many runs queued; retry later")

// errClosing: the server is shutting down.
var errClosing = errors.New("the server is shutting down")

// share is the most of n places one owner may hold: a quarter stays for
// the others (all of a place or two: a queue of one serves whoever comes).
func share(n int) int { return n - n/4 }

// admit reserves a place in the queue for owner, or says why not.
func (s *Server) admit(owner string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return errClosing
	}
	if s.queued.Load() >= int64(s.cfg.Queue) {
		return errBusy
	}
	if n := s.waitingBy[owner]; n >= share(s.cfg.Queue) {
		return fmt.Errorf("%w (this caller already has %d runs waiting, its most)", errBusy, n)
	}
	s.waitingBy[owner]++
	s.queued.Add(1)
	s.active.Add(1)
	return nil
}

// dequeued gives owner's place in the queue back: its run went to a
// worker, or was canceled while waiting.
func (s *Server) dequeued(owner string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queued.Add(-1)
	if s.waitingBy[owner]--; s.waitingBy[owner] <= 0 {
		delete(s.waitingBy, owner)
	}
}

// admitUpload reserves a place for owner's upload being received and
// checked; release gives it back (once, however often it is called):
// when the queue has taken the test, or refused it.
func (s *Server) admitUpload(owner string) (release func(), err error) {
	s.mu.Lock()
	if n := s.uploadsBy[owner]; n >= share(cap(s.uploads)) {
		s.mu.Unlock()
		s.metrics.rejected.Inc()
		return nil, fmt.Errorf("%w (this caller already has %d uploads under way, its most)", errBusy, n)
	}
	select {
	case s.uploads <- struct{}{}:
	default:
		s.mu.Unlock()
		s.metrics.rejected.Inc()
		return nil, errBusy
	}
	s.uploadsBy[owner]++
	s.mu.Unlock()
	return sync.OnceFunc(func() {
		s.mu.Lock()
		if s.uploadsBy[owner]--; s.uploadsBy[owner] <= 0 {
			delete(s.uploadsBy, owner)
		}
		s.mu.Unlock()
		<-s.uploads
	}), nil
}

// store records r and forgets the oldest finished runs beyond Keep.
func (s *Server) store(r *run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs[r.id] = r
}

func (s *Server) finished1(r *run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finished = append(s.finished, r.id)
	s.kept += r.size()
	now := time.Now()
	for len(s.finished) > 0 {
		old := s.runs[s.finished[0]]
		expired := old == nil || now.Sub(old.ended) >= s.cfg.KeepFor
		byBytes := s.kept > s.cfg.KeepBytes
		if !expired && !byBytes && len(s.finished) <= s.cfg.Keep {
			break
		}
		i := 0
		if !expired {
			i = s.heaviest(byBytes)
		}
		if old := s.runs[s.finished[i]]; old != nil {
			s.kept -= old.size()
		}
		delete(s.runs, s.finished[i])
		s.finished = slices.Delete(s.finished, i, i+1)
	}
}

// heaviest is the index in s.finished of the oldest finished run of the
// owner who keeps the most (bytes, or runs): past the budgets, a flood
// of one token's runs forgets its own results first, not another's.
func (s *Server) heaviest(byBytes bool) int {
	weight := map[string]int64{}
	var top string
	for _, id := range s.finished {
		r := s.runs[id]
		if r == nil {
			continue
		}
		w := int64(1)
		if byBytes {
			w = r.size()
		}
		weight[r.owner] += w
		if weight[r.owner] > weight[top] {
			top = r.owner
		}
	}
	for i, id := range s.finished {
		if r := s.runs[id]; r == nil || r.owner == top {
			return i
		}
	}
	return 0
}

// lookup returns the run id of owner, or nil: another owner's run is
// indistinguishable from none.
func (s *Server) lookup(id, owner string) *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[id]
	if r == nil || r.owner != owner {
		return nil
	}
	return r
}

// selKey and selEntry cache moat.Select for a few seconds: under auto it
// checks every backend, which costs more than a pooled run.
type selKey struct {
	name     string
	network  moat.Network
	userland bool
}

type selEntry struct {
	c   *moat.Choice
	err error
	at  time.Time
}

func (s *Server) selectBackend(ctx context.Context, spec *moat.Spec, name string) (*moat.Choice, error) {
	if name == "" {
		name = s.cfg.Isolation
	}
	k := selKey{name, spec.Network, spec.Userland}
	s.selMu.Lock()
	e, ok := s.sel[k]
	s.selMu.Unlock()
	if ok && time.Since(e.at) < 10*time.Second {
		return e.c, e.err
	}
	c, err := selectIsolating(ctx, name, spec)
	if err != nil {
		err = fmt.Errorf("isolation %s: %w", name, err)
	}
	s.selMu.Lock()
	s.sel[k] = selEntry{c, err, time.Now()}
	s.selMu.Unlock()
	return c, err
}

// StateDir is the directory uploads go to.
func (s *Server) StateDir() string { return s.cfg.StateDir }

// selectIsolating is moat.Select, refusing a backend that does not
// isolate (level none: the program would run as the server's user on
// the host); `moat run --no-isolation` has no counterpart here.
func selectIsolating(ctx context.Context, name string, specs ...*moat.Spec) (*moat.Choice, error) {
	c, err := moat.Select(ctx, name, specs...)
	if err != nil {
		return nil, err
	}
	if t, ok := moat.LookupTechnique(c.Name); ok && t.Level <= moat.LevelNone {
		return nil, fmt.Errorf("%s does not isolate; the service runs only isolating backends: %w", c.Name, moat.ErrUnsupported)
	}
	return c, nil
}
