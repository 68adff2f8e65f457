package container

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/sandbox/osthread"
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
// the rules CAP_NET_ADMIN over it: moat must run as root (rootful
// engines, or rootless podman as MOAT_PODMAN_USER from a root moat).

// sinkDrain is how long the stack waits, after the container is gone, for
// the last flows to be recorded.
const sinkDrain = time.Second

// Sink is the host side of one run's sinkhole: a container's
// (startSink) or gVisor's, in a namespace its backend made (StartSinkIn).
type Sink struct {
	stack *egress.Stack
	rec   *egress.Recorder
	start time.Time
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

// startSink brings the sinkhole up in the network namespace of pid (the
// container's init, as this host sees it); see StartSinkIn.
func startSink(pid int, md *honeytoken.Metadata, start time.Time) (*Sink, error) {
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
	s := &Sink{start: start, sockets: make(chan sockReq), done: make(chan struct{})}
	s.rec = egress.NewRecorder(s.record)
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
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list the sandbox's interfaces: %w", err)
	}
	for _, i := range ifs {
		if i.Name != "lo" {
			return nil, fmt.Errorf("the sandbox's network namespace has interface %q besides lo: not a sinkhole", i.Name)
		}
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
func (s *Sink) CAPEM() []byte { return s.stack.CAPEM() }

// Stop ends the sinkhole once every process of the container is gone and
// returns its events and how many were dropped. Safe on a nil sink.
func (s *Sink) Stop() ([]moat.Event, int) {
	if s == nil {
		return nil, 0
	}
	s.stack.Close(sinkDrain)
	close(s.done)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.events, s.rec.Dropped()
}
