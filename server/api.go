package server

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

//go:embed openapi.json
var openAPI []byte

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /v1/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPI)
	})
	m.HandleFunc("GET /v1/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	m.HandleFunc("GET /v1/ready", s.ready)
	m.Handle("POST /v1/runs", s.auth(s.createRun))
	m.Handle("GET /v1/runs/{id}", s.auth(s.getRun))
	m.Handle("GET /v1/runs/{id}/stream", s.auth(s.streamRun))
	m.Handle("POST /v1/runs/{id}/cancel", s.auth(s.cancelRun))
	m.Handle("DELETE /v1/runs/{id}", s.auth(s.cancelRun))
	m.Handle("POST /v1/tests", s.auth(s.createTest))
	m.Handle("GET /v1/backends", s.auth(s.backends))
	m.Handle("GET /v1/metrics", s.admin(s.metrics.handler))
	m.Handle("/v1/mcp", s.auth(s.mcpHandler()))
	s.mux = m
}

type ownerFunc func(w http.ResponseWriter, r *http.Request, owner string)

// auth lets through a request from a Unix socket peer (its identity is
// its uid) or with one of the bearer tokens; anything else is 401.
func (s *Server) auth(h ownerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		owner := ""
		if uid, ok := r.Context().Value(peerUIDKey{}).(int); ok {
			owner = "uid:" + strconv.Itoa(uid)
		} else if s.cfg.Tokens != nil {
			owner = s.cfg.Tokens.owner(r.Header.Get("Authorization"))
		}
		if owner == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="moat"`)
			writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer TOKEN)")
			return
		}
		h(w, r, owner)
	})
}

// admin lets through the operator: a Unix socket peer (the server's own
// user or root, see PeerContext) or one of the AdminTokens. A run token
// gets 403: what h shows counts every token's runs.
func (s *Server) admin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Context().Value(peerUIDKey{}).(int); ok {
			h.ServeHTTP(w, r)
			return
		}
		auth := r.Header.Get("Authorization")
		if s.cfg.AdminTokens != nil && s.cfg.AdminTokens.owner(auth) != "" {
			h.ServeHTTP(w, r)
			return
		}
		if s.cfg.Tokens != nil && s.cfg.Tokens.owner(auth) != "" {
			writeError(w, http.StatusForbidden, "the metrics count every token's runs: only the socket's user and the tokens of --admin-token-file may read them")
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="moat"`)
		writeError(w, http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer TOKEN)")
	})
}

type peerUIDKey struct{}

// PeerContext is the http.Server ConnContext of a Unix socket listener:
// it records the peer's uid (SO_PEERCRED), which is then its identity.
// A peer whose credentials cannot be read gets none, and so no access.
func PeerContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	uid := -1
	_ = raw.Control(func(fd uintptr) {
		if cred, err := getPeerUID(int(fd)); err == nil {
			uid = cred
		}
	})
	// Only the server's own user (and root): the socket's mode says so
	// too; this holds even if someone loosens it.
	if uid < 0 || (uid != os.Geteuid() && uid != 0) {
		return ctx
	}
	return context.WithValue(ctx, peerUIDKey{}, uid)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": termsafe.Line(msg, 500)})
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		writeError(w, http.StatusServiceUnavailable, errClosing.Error())
		return
	}
	if _, err := s.selectBackend(r.Context(), &moat.Spec{}, ""); err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	out := map[string]any{"status": "ready"}
	if p := s.cfg.Pool; p != nil {
		// Without a token: how many are ready, not how many ran (the
		// counters of everyone's runs are the operator's, /v1/metrics).
		st := p.Stats()
		out["pool"] = map[string]int{"Size": st.Size, "Ready": st.Ready}
	}
	if p := s.cfg.ZygotePool; p != nil {
		st := p.Stats()
		out["zygote"] = map[string]int{"Size": st.Size, "Ready": st.Ready}
	}
	writeJSON(w, http.StatusOK, out)
}

// runRequest is the body of POST /v1/runs.
type runRequest struct {
	Code      string            `json:"code,omitempty"`
	Module    string            `json:"module,omitempty"`
	Script    string            `json:"script,omitempty"`
	Args      []string          `json:"args,omitempty"`
	Files     map[string]string `json:"files,omitempty"`
	Stdin     string            `json:"stdin,omitempty"`
	Env       []string          `json:"env,omitempty"`
	Isolation string            `json:"isolation,omitempty"`
	Image     string            `json:"image,omitempty"`
	Network   string            `json:"network,omitempty"`
	Limits    limitsRequest     `json:"limits"`
	NoReport  bool              `json:"no_report,omitempty"`
}

// limitsRequest is a run's limits; zero fields are the server's defaults.
type limitsRequest struct {
	TimeoutMS   int64   `json:"timeout_ms,omitempty"`
	Memory      int64   `json:"memory,omitempty"`
	Pids        int     `json:"pids,omitempty"`
	CPUs        float64 `json:"cpus,omitempty"`
	Disk        int64   `json:"disk,omitempty"`
	OutputLimit int64   `json:"output_limit,omitempty"`
}

// spec turns a request into a Spec within the server's maxima. Every
// error is the caller's (400).
func (s *Server) spec(req *runRequest) (*moat.Spec, error) {
	sp := &moat.Spec{Env: req.Env, NoReport: req.NoReport, Image: s.cfg.Image}
	if req.Image != "" && req.Image != s.cfg.Image {
		if s.cfg.Image == "" {
			return nil, fmt.Errorf("image %q: this server runs no image a request names (start it with --image)", req.Image)
		}
		return nil, fmt.Errorf("image %q: this server runs the image %s only", req.Image, s.cfg.Image)
	}
	n := 0
	for _, set := range []bool{req.Code != "", req.Module != "", req.Script != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, errors.New("give exactly one of code, module or script")
	}
	switch {
	case req.Code != "":
		sp.Args = append([]string{"-c", req.Code}, req.Args...)
	case req.Module != "":
		sp.Args = append([]string{"-m", req.Module}, req.Args...)
	default:
		if _, ok := req.Files[req.Script]; !ok {
			return nil, fmt.Errorf("script %q is not among the files", req.Script)
		}
		sp.Args = append([]string{req.Script}, req.Args...)
	}
	if len(req.Files) > 0 {
		sp.Files = make(map[string][]byte, len(req.Files))
		for k, v := range req.Files {
			sp.Files[k] = []byte(v)
		}
	}
	if req.Stdin != "" {
		sp.Stdin = strings.NewReader(req.Stdin)
	}
	for _, kv := range req.Env {
		if !strings.Contains(kv, "=") {
			return nil, fmt.Errorf("env entry %q is not KEY=VALUE (nothing of the server's environment is passed)", kv)
		}
	}
	// Only modes that reach nothing of the host: an allow list would let
	// a caller dial the server's own loopback services.
	switch req.Network {
	case "", "none":
	case "sinkhole":
		sp.Network = moat.NetworkSinkhole
	default:
		return nil, fmt.Errorf("network %q: the service allows none or sinkhole", req.Network)
	}
	l, max := req.Limits, s.cfg.Max
	over := func(name string, v, m int64) error {
		if v < 0 {
			return fmt.Errorf("limit %s is negative", name)
		}
		if v > m {
			return fmt.Errorf("limit %s %d is above the server's maximum %d", name, v, m)
		}
		return nil
	}
	for _, c := range []struct {
		name string
		v, m int64
	}{{"timeout_ms", l.TimeoutMS, max.Timeout.Milliseconds()}, {"memory", l.Memory, max.Memory}, {"pids", int64(l.Pids), int64(max.Pids)},
		{"disk", l.Disk, max.Disk}, {"output_limit", l.OutputLimit, max.OutputLimit}} {
		if err := over(c.name, c.v, c.m); err != nil {
			return nil, err
		}
	}
	// 0.01 is the kernel's smallest CFS quota (1ms per 100ms): below it
	// the request, not the run, is wrong (400, not a run that errors).
	if l.CPUs < 0 || (l.CPUs > 0 && l.CPUs < 0.01) || (max.CPUs > 0 && l.CPUs > max.CPUs) || l.CPUs > 1e6 {
		top := max.CPUs
		if top <= 0 {
			top = 1e6
		}
		return nil, fmt.Errorf("limit cpus %g is outside 0.01..%g (0 for the default)", l.CPUs, top)
	}
	// A zero field is the server's maximum where that is below moat's
	// default, else the default.
	def := moat.Limits{}.WithDefaults()
	pick := func(v, d, m int64) int64 {
		if v != 0 {
			return v
		}
		return min(d, m)
	}
	sp.Limits = moat.Limits{
		Timeout:     time.Duration(pick(l.TimeoutMS, def.Timeout.Milliseconds(), max.Timeout.Milliseconds())) * time.Millisecond,
		Memory:      pick(l.Memory, def.Memory, max.Memory),
		Pids:        int(pick(int64(l.Pids), int64(def.Pids), int64(max.Pids))),
		CPUs:        l.CPUs,
		Disk:        pick(l.Disk, def.Disk, max.Disk),
		OutputLimit: pick(l.OutputLimit, def.OutputLimit, max.OutputLimit),
	}
	if sp.Limits.CPUs == 0 {
		sp.Limits.CPUs = max.CPUs
	}
	if err := sp.Validate(); err != nil {
		return nil, err
	}
	return sp, nil
}

// decode reads a JSON body of at most the server's MaxBody.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body above %d bytes", s.cfg.MaxBody))
			return false
		}
		writeError(w, http.StatusBadRequest, "bad request body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) createRun(w http.ResponseWriter, r *http.Request, owner string) {
	var req runRequest
	if !s.decode(w, r, &req) {
		return
	}
	spec, err := s.spec(&req)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	wait := r.URL.Query().Get("wait") == "true"
	rn, err := s.submit(r.Context(), owner, &req, spec, wait)
	if err != nil {
		if errors.Is(err, errBusy) || errors.Is(err, errClosing) {
			refuse(w, err)
			return
		}
		code := http.StatusBadRequest
		if errors.Is(err, moat.ErrUnavailable) {
			code = http.StatusServiceUnavailable
		}
		writeError(w, code, err.Error())
		return
	}
	s.respond(w, r, rn, wait)
}

// submit selects the backend of a run and starts it (see start).
func (s *Server) submit(ctx context.Context, owner string, req *runRequest, spec *moat.Spec, wait bool) (*run, error) {
	choice, err := s.selectBackend(ctx, spec, req.Isolation)
	if err != nil {
		return nil, err
	}
	return s.start(ctx, owner, "run", spec.Limits.OutputLimit*2, wait, func(ctx context.Context, rn *run) {
		s.execRun(ctx, rn, spec, choice)
	})
}

// start admits a run, records it and starts it; with wait the run ends
// when reqCtx does (a client that goes away cancels its run). The error
// is errBusy or errClosing.
func (s *Server) start(reqCtx context.Context, owner, kind string, outCap int64, wait bool, exec func(context.Context, *run)) (*run, error) {
	if err := s.admit(owner); err != nil {
		s.metrics.rejected.Inc()
		return nil, err
	}
	ctx, cancel := context.WithCancel(s.ctx)
	if wait {
		context.AfterFunc(reqCtx, cancel)
	}
	rn := newRun(newID(), owner, kind, outCap, cancel)
	s.store(rn)
	s.log.Info("run queued", "run", rn.id, "kind", kind, "owner", owner)
	go func() {
		defer s.active.Done()
		defer cancel()
		select {
		case s.sem <- struct{}{}:
			s.dequeued(owner)
		case <-ctx.Done():
			s.dequeued(owner)
			rn.finish(&moat.Result{Status: moat.StatusCanceled, Error: "canceled while queued", Findings: []moat.Finding{}}, false, "canceled while queued")
			s.finished1(rn)
			s.log.Info("run canceled while queued", "run", rn.id)
			return
		}
		defer func() { <-s.sem }()
		exec(ctx, rn)
		s.finished1(rn)
	}()
	return rn, nil
}

// refuse answers a run the queue did not admit: 429 with Retry-After
// when it is full, 503 while shutting down.
func refuse(w http.ResponseWriter, err error) {
	if errors.Is(err, errBusy) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, err.Error())
		return
	}
	writeError(w, http.StatusServiceUnavailable, err.Error())
}

// poolBackend names the backend whose runs the pool serves.
func (s *Server) poolBackend() string {
	if s.cfg.PoolBackend == "" {
		return "native"
	}
	return s.cfg.PoolBackend
}

func (s *Server) execRun(ctx context.Context, rn *run, spec *moat.Spec, choice *moat.Choice) {
	rn.setRunning(choice.Name)
	spec.Stdout, spec.Stderr = writer{rn, "stdout"}, writer{rn, "stderr"}
	start := time.Now()
	var res *moat.Result
	var err error
	pooled := false
	if zp := s.cfg.ZygotePool; zp != nil && choice.Name == "native" {
		res, pooled, err = zp.TryRun(ctx, spec)
	}
	switch p := s.cfg.Pool; {
	case pooled:
	case p != nil && choice.Name == s.poolBackend():
		res, pooled, err = p.Run(ctx, spec)
	default:
		res, err = choice.Backend.Run(ctx, spec)
	}
	errText := ""
	if err != nil {
		errText = err.Error()
		if res == nil {
			res = &moat.Result{Status: moat.StatusError, Isolation: choice.Name, Error: errText, Findings: []moat.Finding{}}
		}
	}
	s.metrics.observe(choice.Name, string(res.Status), pooled, time.Since(start))
	s.log.Info("run done", "run", rn.id, "backend", choice.Name, "pooled", pooled, "status", res.Status, "exit", res.ExitCode, "ms", time.Since(start).Milliseconds())
	rn.finish(res, pooled, errText)
}

// respond answers a create: 202 with the run, or with wait the finished
// result alone, as `moat run --json` prints it.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, rn *run, wait bool) {
	w.Header().Set("Location", "/v1/runs/"+rn.id)
	w.Header().Set("Moat-Run-Id", rn.id)
	if !wait {
		writeView(w, http.StatusAccepted, rn.view())
		return
	}
	w = s.extendWrite(w)
	select {
	case <-rn.done:
	case <-r.Context().Done():
		<-rn.done // canceled with the request: wait for the sandbox to go
		return
	}
	b, err := rn.resultJSON()
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	rn.mu.Lock()
	if rn.pooled {
		w.Header().Set("Moat-Pooled", "true")
	}
	rn.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

// extendWrite lifts the write deadline of a response that waits for a
// run (the run's own timeout bounds the wait) and returns the writer to
// answer with: each piece of what it writes must go out within the
// server's WriteStall, so that a client that stops reading cannot hold
// the response, and what it holds of a run, for ever.
//
// A client that reads, but slowly (a trickle), is bounded too: the time
// the writes spend waiting for it, in all, may not exceed the stall plus
// what was written at the server's MinReadRate; else the connection is
// closed. Without this, one reading 64 KiB per stall held the response,
// the run's output and a connection for as long as it liked.
func (s *Server) extendWrite(w http.ResponseWriter) http.ResponseWriter {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	return &stallWriter{ResponseWriter: w, rc: http.NewResponseController(w), stall: s.cfg.WriteStall, rate: s.cfg.MinReadRate}
}

// stallWriter sets a write deadline before each piece of at most
// stallPiece bytes it writes, and before each flush: stall, or less, so
// that the time waited in all stays within the budget (budget).
type stallWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	stall   time.Duration
	rate    int64         // bytes a second the client must read on average
	written int64         // bytes written so far
	waited  time.Duration // time spent in writes and flushes so far
	failed  bool
}

const stallPiece = 64 << 10

// errTrickle is the write error once a client read too slowly.
var errTrickle = errors.New("the client reads too slowly")

// deadline sets the deadline of the next write or flush; false when the
// budget is spent.
func (sw *stallWriter) deadline() bool {
	left := sw.stall + time.Duration(float64(sw.written)/float64(max(sw.rate, 1))*float64(time.Second)) - sw.waited
	if sw.failed || left <= 0 {
		sw.failed = true
		return false
	}
	_ = sw.rc.SetWriteDeadline(time.Now().Add(min(sw.stall, left)))
	return true
}

func (sw *stallWriter) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), stallPiece)
		if !sw.deadline() {
			return n, errTrickle
		}
		t0 := time.Now()
		m, err := sw.ResponseWriter.Write(p[:k])
		sw.waited += time.Since(t0)
		sw.written += int64(m)
		n += m
		if err != nil {
			sw.failed = true
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

func (sw *stallWriter) Flush() {
	if !sw.deadline() {
		return
	}
	t0 := time.Now()
	if sw.rc.Flush() != nil {
		sw.failed = true
	}
	sw.waited += time.Since(t0)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (sw *stallWriter) Unwrap() http.ResponseWriter { return sw.ResponseWriter }

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, owner string) {
	rn := s.lookup(r.PathValue("id"), owner)
	if rn == nil {
		writeError(w, http.StatusNotFound, "no such run")
		return
	}
	writeView(w, http.StatusOK, rn.view())
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request, owner string) {
	rn := s.lookup(r.PathValue("id"), owner)
	if rn == nil {
		writeError(w, http.StatusNotFound, "no such run")
		return
	}
	rn.cancel()
	s.log.Info("run cancel requested", "run", rn.id)
	if r.URL.Query().Get("wait") == "true" {
		w = s.extendWrite(w)
		select {
		case <-rn.done:
		case <-r.Context().Done():
			return
		}
	}
	writeView(w, http.StatusAccepted, rn.view())
}

// streamRun sends the run's output as it comes, one JSON object per line
// ({"stream","data"}), and at the end {"state":"done","result":...}.
func (s *Server) streamRun(w http.ResponseWriter, r *http.Request, owner string) {
	rn := s.lookup(r.PathValue("id"), owner)
	if rn == nil {
		writeError(w, http.StatusNotFound, "no such run")
		return
	}
	w = s.extendWrite(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	enc := json.NewEncoder(w)
	// Sent so far: the pieces before idx, and off bytes of piece idx
	// (the last one may still grow). Each turn copies at most
	// streamBatch bytes, in chunks of at most streamChunk, so that what a
	// stream holds is bounded whatever the run's output.
	idx, off := 0, 0
	for {
		rn.mu.Lock()
		var chunks []chunk
		budget := streamBatch
		for idx < len(rn.pieces) && budget > 0 {
			d := rn.pieces[idx].data
			for off < len(d) && budget > 0 {
				end := cutAt(d, off, min(streamChunk, budget))
				chunks = append(chunks, chunk{Stream: rn.pieces[idx].stream, Data: string(d[off:end])})
				budget -= end - off
				off = end
			}
			if off < len(d) || idx == len(rn.pieces)-1 {
				break // the rest next turn; the last piece may grow
			}
			idx, off = idx+1, 0
		}
		more := idx < len(rn.pieces) && (off < len(rn.pieces[idx].data) || idx < len(rn.pieces)-1)
		state, changed := rn.state, rn.changed
		rn.mu.Unlock()
		for _, c := range chunks {
			if enc.Encode(c) != nil {
				return
			}
		}
		if more {
			continue
		}
		if state == stateDone {
			v := rn.view()
			tail, _ := json.Marshal(v.Error)
			raw := v.raw
			if raw == nil {
				raw = []byte("null")
			}
			for _, b := range [][]byte{[]byte(`{"error":`), tail, []byte(`,"result":`), raw, []byte(`,"state":"done"}` + "\n")} {
				if _, err := w.Write(b); err != nil {
					return
				}
			}
			return
		}
		_ = rc.Flush()
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) backends(w http.ResponseWriter, r *http.Request, _ string) {
	type row struct {
		Name      string     `json:"name"`
		Level     moat.Level `json:"level"`
		Available bool       `json:"available"`
		Reason    string     `json:"reason,omitempty"`
		Pool      bool       `json:"pool"`
		// The pool's size, how many are ready and its image, when it
		// is this backend's.
		PoolSize  int    `json:"pool_size,omitempty"`
		PoolReady int    `json:"pool_ready,omitempty"`
		PoolImage string `json:"pool_image,omitempty"`
	}
	var rows []row
	for _, n := range moat.Registered() {
		b, err := moat.Get(n)
		if err != nil {
			continue
		}
		t, _ := moat.LookupTechnique(n)
		rw := row{Name: n, Level: t.Level, Available: true, Pool: n == s.poolBackend() && s.cfg.Pool != nil}
		if rw.Pool {
			st := s.cfg.Pool.Stats()
			rw.PoolSize, rw.PoolReady, rw.PoolImage = st.Size, st.Ready, s.cfg.Pool.Template().Image
		}
		if err := moat.Check(r.Context(), b); err != nil {
			rw.Available, rw.Reason = false, err.Error()
		}
		rows = append(rows, rw)
	}
	writeJSON(w, http.StatusOK, map[string]any{"default": s.cfg.Isolation, "backends": rows})
}

// streamBatch and streamChunk bound a stream's turn and its lines.
const (
	streamBatch = 1 << 20
	streamChunk = 32 << 10
)

// cutAt is where a chunk of d from off of at most n bytes ends: at a
// UTF-8 character's start when one is near, so that a character is not
// split between two lines (JSON would turn each half into U+FFFD).
func cutAt(d []byte, off, n int) int {
	end := off + n
	if end >= len(d) {
		return len(d)
	}
	for i := end; i > end-utf8.UTFMax && i > off; i-- {
		if utf8.RuneStart(d[i]) {
			return i
		}
	}
	return end
}

// readAll reads at most n bytes of r.
func readAll(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if int64(len(b)) > n {
		return nil, fmt.Errorf("above %d bytes", n)
	}
	return b, err
}
