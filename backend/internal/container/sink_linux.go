package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/sandbox/osthread"
	"github.com/moat-sandbox/moat/internal/termsafe"

	"github.com/moat-sandbox/moat/internal/transfer/capture"
)

// The sinkhole of a container run (--network sinkhole). The engine gives
// the container a network namespace of its own with a loopback only
// (network none); moat, on the host, enters that namespace on one thread
// of its own (setns), and there brings up internal/observe/egress's stack
// as native's sandbox init does in its namespace: a route that makes every
// address local to the loopback, nftables tproxy rules that steer every
// TCP and UDP flow not for 127.0.0.0/8 to moat's sockets, the resolver on
// 127.0.0.53 (and port 53 of any address, where the engine's
// resolv.conf points), and the sink with its per-run CA. The sockets stay
// in that namespace once made; the thread that entered it ends with the
// setup. Nothing of the program runs in moat's process, and the
// namespace still has no route out: what the sink does not answer goes
// nowhere.
//
// Entering another process's network namespace takes CAP_SYS_ADMIN, and
// the rules CAP_NET_ADMIN over it: moat runs as root (rootful engines, or
// rootless podman as MOAT_PODMAN_USER from a root moat), or, for rootless
// podman run by moat's own user, serves it through a helper in podman's
// user namespace (SinkHelperArg). A moat that is not root but may drive
// the engine (a user of the docker group) has the engine start the helper:
// moat's binary from the init volume as pid 1 of a container of its own
// that joins the run's network namespace with CAP_NET_ADMIN there and
// nothing else (SinkHelperHere, StartSinkVia); the program's container
// keeps all of its hardening.

// sinkDrain is how long the stack waits, after the container is gone, for
// the last flows to be recorded.
const sinkDrain = time.Second

// Sink is the host side of one run's sinkhole: a container's
// (startSink) or gVisor's, in a namespace its backend made (StartSinkIn).
type Sink struct {
	stack *egress.Stack
	rec   *egress.Recorder
	start time.Time
	// helper, if set, serves the sink from another process (a helper in
	// the engine's user namespace, or a container of its own: startVia);
	// the fields above and below are then unused.
	helper    *SinkProc
	helperOut *json.Decoder
	ca        []byte
	// sockets asks the thread in the container's namespace, kept for
	// the stack's life, for a socket there (egress.StartIn).
	sockets chan sockReq
	done    chan struct{}

	mu     sync.Mutex
	events []moat.Event
	closed bool
}

// SinkSupported says whether this moat can serve a container's sinkhole:
// only as root (see above).
func SinkSupported() error {
	if os.Geteuid() != 0 {
		return errors.New("the sinkhole of a container is served by moat in the container's network namespace, which takes root: run moat as root, or use the native backend")
	}
	return nil
}

// sinkSupported is SinkSupported for a backend that can start moat in the
// user namespace owning its containers' network namespaces (rootless
// podman's), when enter says it can: then a moat without root serves the
// sinkhole too, through a helper (SinkHelperArg).
func sinkSupported(enter bool) error {
	if enter && os.Geteuid() != 0 {
		return nil
	}
	return SinkSupported()
}

// startSink brings the sinkhole up in the network namespace of pid (the
// container's init, as this host sees it); see StartSinkIn. enter, if
// set, starts a command in the user namespace that owns that network
// namespace: without root, moat serves the sink through a helper it
// starts there (startSinkHelper).
func startSink(pid int, md *honeytoken.Metadata, start time.Time, enter func(args ...string) *exec.Cmd) (*Sink, error) {
	if os.Geteuid() != 0 && enter != nil {
		return startSinkHelper(pid, md, start, enter)
	}
	if pid <= 1 {
		return nil, fmt.Errorf("container init pid %d", pid)
	}
	ns, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open the container's network namespace: %w", err)
	}
	defer unix.Close(ns)
	return StartSinkIn(ns, md, start)
}

// StartSinkIn brings the sinkhole up in the network namespace ns (a
// descriptor of it, which the caller keeps). It refuses, and does
// nothing, when that namespace is moat's own or has an interface other
// than lo: the rules must never go into the host's namespace, and a
// sandbox with a real route out is no sinkhole. Events are timed from
// start.
func StartSinkIn(ns int, md *honeytoken.Metadata, start time.Time) (*Sink, error) {
	if err := SinkSupported(); err != nil {
		return nil, err
	}
	var theirs, ours unix.Stat_t
	if err := unix.Fstat(ns, &theirs); err != nil {
		return nil, err
	}
	if err := unix.Stat("/proc/self/ns/net", &ours); err != nil {
		return nil, err
	}
	if theirs.Ino == ours.Ino && theirs.Dev == ours.Dev {
		return nil, errors.New("the sandbox shares moat's network namespace: refusing to set up a sinkhole there")
	}
	s := newSink(start)
	cfg := &egress.Config{Mode: egress.ModeSinkhole, Metadata: md}
	type result struct {
		st  *egress.Stack
		err error
	}
	ch := make(chan result, 1)
	osthread.Go(func() {
		// Locked and never unlocked: the thread ends with this function,
		// and no other goroutine ever runs in the sandbox's namespace.
		st, err := s.startIn(ns, &theirs, cfg)
		ch <- result{st, err}
		if err != nil {
			return
		}
		for {
			select {
			case r := <-s.sockets:
				fd, err := unix.Socket(r.domain, r.typ, r.proto)
				r.reply <- sockRes{fd, err}
			case <-s.done:
				return
			}
		}
	})
	r := <-ch
	if r.err != nil {
		return nil, r.err
	}
	s.stack = r.st
	return s, nil
}

func newSink(start time.Time) *Sink {
	s := &Sink{start: start, sockets: make(chan sockReq), done: make(chan struct{})}
	s.rec = egress.NewRecorder(s.record)
	return s
}

// startSinkHere brings the sinkhole up in the network namespace this
// process runs in: the helper's, pid 1 of a container of its own that
// joined the run's namespace (SinkHelperHere). It refuses, and does
// nothing, unless this process is pid 1 (of a pid namespace of its own:
// never moat on the host, where the rules would take the host's network)
// and the namespace has no interface but lo. Every socket of the stack is
// made here, by any thread: the whole process is in that namespace.
func startSinkHere(md *honeytoken.Metadata, start time.Time) (*Sink, error) {
	if os.Getpid() != 1 {
		return nil, errors.New("the sink helper serves the network namespace it runs in only as pid 1 of a container of its own")
	}
	if err := loopbackOnly(); err != nil {
		return nil, err
	}
	s := newSink(start)
	st, err := egress.Start(&egress.Config{Mode: egress.ModeSinkhole, Metadata: md}, s.rec, nil)
	if err != nil {
		return nil, fmt.Errorf("sinkhole: %w", err)
	}
	s.stack = st
	return s, nil
}

// loopbackOnly says why the calling thread's network namespace is no
// sinkhole's: an interface other than lo (a route out), or none listed.
func loopbackOnly() error {
	ifs, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("list the sandbox's interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Name != "lo" {
			return fmt.Errorf("the sandbox's network namespace has interface %q besides lo: not a sinkhole", i.Name)
		}
	}
	return nil
}

type sockReq struct {
	domain, typ, proto int
	reply              chan sockRes
}

type sockRes struct {
	fd  int
	err error
}

// socket makes a socket in the container's network namespace.
func (s *Sink) socket(domain, typ, proto int) (int, error) {
	r := sockReq{domain, typ, proto, make(chan sockRes, 1)}
	select {
	case s.sockets <- r:
	case <-s.done:
		return -1, net.ErrClosed
	}
	res := <-r.reply
	return res.fd, res.err
}

// startIn runs on a locked thread: it enters the namespace ns (whose
// identity is want), checks it, and starts the stack there.
func (s *Sink) startIn(ns int, want *unix.Stat_t, cfg *egress.Config) (*egress.Stack, error) {
	if err := unix.Setns(ns, unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("enter the sandbox's network namespace: %w", err)
	}
	var now unix.Stat_t
	if err := unix.Stat("/proc/thread-self/ns/net", &now); err != nil || now.Ino != want.Ino || now.Dev != want.Dev {
		return nil, errors.New("enter the sandbox's network namespace: this thread is not in it")
	}
	if err := loopbackOnly(); err != nil {
		return nil, err
	}
	st, err := egress.StartIn(cfg, s.rec, nil, s.socket)
	if err != nil {
		return nil, fmt.Errorf("sinkhole: %w", err)
	}
	return st, nil
}

func (s *Sink) record(ev moat.Event) {
	ev.Source = moat.SourceNetwork
	ev.TimeMS = time.Since(s.start).Milliseconds()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.events = append(s.events, ev)
	}
}

// CAPEM is the certificate of the run's CA, which the container trusts.
func (s *Sink) CAPEM() []byte {
	if s.helper != nil {
		return s.ca
	}
	return s.stack.CAPEM()
}

// Stop ends the sinkhole once every process of the container is gone and
// returns its events and how many were dropped. Safe on a nil sink.
func (s *Sink) Stop() ([]moat.Event, int) {
	if s == nil {
		return nil, 0
	}
	if s.helper != nil {
		return s.stopHelper()
	}
	s.stack.Close(sinkDrain)
	s.rec.Flush()
	close(s.done)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.events, s.rec.Dropped()
}

// Messages between moat and the sink helper, one JSON value each.
type (
	sinkRequest struct {
		Metadata *honeytoken.Metadata `json:"metadata,omitempty"`
		StartNS  int64                `json:"start_ns"` // the run's start, unix ns
	}
	sinkReady struct {
		CA    []byte `json:"ca,omitempty"`
		Error string `json:"error,omitempty"`
	}
	sinkDone struct {
		Events  []moat.Event `json:"events"`
		Dropped int          `json:"dropped"`
	}
)

// maxSinkDone bounds the helper's messages together.
const maxSinkDone = 256 << 20

// sinkStopBound bounds the wait for the helper's last message once moat
// ended its stdin: the sink's drain and the events' encoding take far
// less; a helper still silent then is ended.
const sinkStopBound = 30 * time.Second

func init() {
	if len(os.Args) == 3 && os.Args[1] == SinkHelperArg {
		os.Exit(sinkHelper(os.Args[2]))
	}
}

// sinkHelper is the helper's main: the sink in the network namespace of
// the container whose init is pid (as this host's /proc names it), or,
// for SinkHelperHere, in its own.
func sinkHelper(where string) int {
	in := json.NewDecoder(os.Stdin)
	out := json.NewEncoder(os.Stdout)
	var req sinkRequest
	err := in.Decode(&req)
	var s *Sink
	switch {
	case err != nil:
	case where == SinkHelperHere:
		s, err = startSinkHere(req.Metadata, time.Unix(0, req.StartNS))
	default:
		var pid int
		if pid, err = strconv.Atoi(where); err == nil {
			s, err = startSink(pid, req.Metadata, time.Unix(0, req.StartNS), nil)
		}
	}
	if err != nil {
		_ = out.Encode(sinkReady{Error: err.Error()})
		return 1
	}
	if err := out.Encode(sinkReady{CA: s.CAPEM()}); err != nil {
		s.Stop()
		return 1
	}
	// Until moat is done with it. The helper's stdin is moat's alone:
	// nothing of the program reaches it.
	_, _ = io.Copy(io.Discard, os.Stdin)
	evs, dropped := s.Stop()
	if evs == nil {
		evs = []moat.Event{}
	}
	if err := out.Encode(sinkDone{Events: evs, Dropped: dropped}); err != nil {
		return 1
	}
	return 0
}

// StartSinkVia starts the sink through a helper that start starts, on the
// run's network namespace (SinkHelperArg SinkHelperHere, in a container
// of its own), and returns once the sink is up there. md and start are as
// StartSinkIn's. Any failure ends the helper: the run must then be
// refused, never run with a network not served.
func StartSinkVia(start func() (*SinkProc, error), md *honeytoken.Metadata, began time.Time) (*Sink, error) {
	p, err := start()
	if err != nil {
		return nil, fmt.Errorf("the sink helper: %w", err)
	}
	return startVia(p, md, began)
}

// startSinkHelper starts the sink through a helper that enter starts in
// the engine's user namespace (SinkHelperArg).
func startSinkHelper(pid int, md *honeytoken.Metadata, start time.Time, enter func(args ...string) *exec.Cmd) (*Sink, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("the sink helper: moat's own binary: %w", err)
	}
	cmd := enter(exe, SinkHelperArg, strconv.Itoa(pid))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("the sink helper: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("the sink helper: %w", err)
	}
	var stderr strings.Builder
	cmd.Stderr = &capture.Head{W: &stderr, N: 4096}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("the sink helper: %w", err)
	}
	return startVia(&SinkProc{
		Stdin:  stdin,
		Stdout: stdout,
		Stderr: stderr.String,
		End: func(kill bool) {
			if kill {
				_ = cmd.Process.Kill()
			}
			_ = cmd.Wait()
		},
	}, md, start)
}

// startVia sends a started helper its request and waits for the sink.
func startVia(p *SinkProc, md *honeytoken.Metadata, start time.Time) (*Sink, error) {
	fail := func(err error) (*Sink, error) {
		_ = p.Stdin.Close()
		p.End(true)
		if p.Stderr != nil {
			if msg := strings.TrimSpace(p.Stderr()); msg != "" {
				err = fmt.Errorf("%w (%s)", err, termsafe.Line(lastLine(msg), 300))
			}
		}
		return nil, fmt.Errorf("the sink helper: %w", err)
	}
	if err := json.NewEncoder(p.Stdin).Encode(sinkRequest{Metadata: md, StartNS: start.UnixNano()}); err != nil {
		return fail(err)
	}
	dec := json.NewDecoder(io.LimitReader(p.Stdout, maxSinkDone))
	var ready sinkReady
	if err := dec.Decode(&ready); err != nil {
		return fail(fmt.Errorf("no answer: %w", err))
	}
	if ready.Error != "" {
		return fail(errors.New(termsafe.Line(ready.Error, 512)))
	}
	if len(ready.CA) == 0 {
		return fail(errors.New("no CA"))
	}
	return &Sink{helper: p, helperOut: dec, ca: ready.CA}, nil
}

// stopHelper ends the helper's sink and takes its events.
func (s *Sink) stopHelper() ([]moat.Event, int) {
	_ = s.helper.Stdin.Close()
	var done sinkDone
	decoded := make(chan error, 1)
	go func() { decoded <- s.helperOut.Decode(&done) }()
	var err error
	select {
	case err = <-decoded:
	case <-time.After(sinkStopBound):
		// End unblocks the decoder (the helper's stdout closes), whose
		// result is then not read.
		err = fmt.Errorf("no events within %s", sinkStopBound)
	}
	s.helper.End(err != nil)
	if err != nil {
		return []moat.Event{{Source: moat.SourceMoat, Kind: moat.KindReportCut,
			Detail: "the sinkhole's helper ended without its events: " + termsafe.Line(err.Error(), 512)}}, 0
	}
	evs := done.Events[:0]
	for _, ev := range done.Events {
		if ev.Source == moat.SourceNetwork { // the sink's own, as record makes them
			evs = append(evs, ev)
		}
	}
	return evs, done.Dropped
}
