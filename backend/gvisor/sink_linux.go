package gvisor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	ctr "github.com/moat-sandbox/moat/backend/internal/container"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/sandbox/netns"
	"github.com/moat-sandbox/moat/internal/sandbox/osthread"
)

// The sinkhole of a direct-mode run (--network sinkhole).
//
// The Sentry's own network stack (runsc --network=sandbox) is not used:
// its loopback is inside the Sentry, and no namespace of the host holds
// the program's flows for moat to intercept. Instead runsc runs with
// --network=host (hostinet: the Sentry makes the program's sockets as
// sockets of the host kernel) in a network namespace moat made for the
// run, which holds only lo, and in which moat serves internal/observe/
// egress's stack exactly as native's sandbox init does in its own: a
// route that makes every address local, nftables tproxy rules that steer
// every TCP and UDP flow not for 127.0.0.0/8 to moat's sockets, the
// resolver on 127.0.0.53, the sink with the run's CA and the metadata
// address (the container sink's code, ctr.StartSinkIn). So the Sentry's
// sockets can reach nothing but moat's sink and the sandbox's own
// loopback: the namespace has no other interface and no route out.
//
// What it costs: the program's socket calls are served by the host
// kernel's network stack (in that namespace) rather than by the Sentry's
// netstack, so that stack is kernel surface the program reaches, through
// the Sentry and runsc's seccomp filter for hostinet; every other system
// call is still the Sentry's. The layer says so.
//
// runsc is forked from a thread that entered the namespace, and the
// bundle names no network namespace, so runsc's sandbox stays in it
// (hostinet uses the namespace runsc runs in): even a runsc that ignored
// --network would be in the empty namespace, never the host's. After
// the start, runsc's namespace is checked; a mismatch kills it.

// newNetns makes a network namespace for one run, with lo up, and returns
// it open. The thread that made it ends with its goroutine: no goroutine
// of moat ever runs in it.
func newNetns() (*os.File, error) {
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	osthread.Go(func() { // the thread ends with this function
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ch <- result{err: fmt.Errorf("new network namespace: %w", err)}
			return
		}
		fd, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- result{err: fmt.Errorf("open the new network namespace: %w", err)}
			return
		}
		f := os.NewFile(uintptr(fd), "netns")
		if err := netns.LoopbackUp(); err != nil {
			f.Close()
			ch <- result{err: fmt.Errorf("lo up in the new network namespace: %w", err)}
			return
		}
		ch <- result{f: f}
	})
	r := <-ch
	return r.f, r.err
}

// startSink makes the run's network namespace and serves the sinkhole in
// it: resolv.conf, nsswitch.conf and the run's CA go into etc (the run's
// own /etc files, bound file by file: egress.EtcFiles), and env gets the
// CA variables. Anything that fails is an error: the run never starts
// with more network than asked.
func (r *runner) startSink(etc string, env []string) ([]string, error) {
	ns, err := newNetns()
	if err != nil {
		return nil, err
	}
	r.netns = ns
	sk, err := ctr.StartSinkIn(int(ns.Fd()), r.metadata(), r.start)
	if err != nil {
		return nil, fmt.Errorf("sinkhole: %w", err)
	}
	r.sink = sk
	if err := egress.WriteResolvConf(etc); err != nil {
		return nil, fmt.Errorf("sinkhole: %w", err)
	}
	if err := egress.WriteCA(etc, sk.CAPEM()); err != nil {
		return nil, fmt.Errorf("sinkhole: %w", err)
	}
	for _, n := range egress.EtcFiles() {
		if _, err := os.Lstat(filepath.Join(etc, n)); err != nil {
			return nil, fmt.Errorf("sinkhole: %w", err)
		}
	}
	r.tr.step("sinkhole")
	return egress.CAEnv(env), nil
}

// stopSink ends the sinkhole once everything of the sandbox is dead and
// returns its events; nil after the first call, or without a sinkhole.
func (r *runner) stopSink() ([]moat.Event, int) {
	if r.sink == nil {
		return nil, 0
	}
	evs, dropped := r.sink.Stop()
	r.sink = nil
	return evs, dropped
}

// inNetns runs start on a thread of its own in the run's network
// namespace (none: the caller's thread). The thread stays locked, and
// alive until done is closed: runsc's parent-death signal is tied to the
// thread that forked it. It never serves another goroutine.
func inNetns(ns *os.File, done <-chan struct{}, start func() error) error {
	if ns == nil {
		// runsc's parent-death signal is its thread's: a thread that
		// never ends (osthread.Start's), as start is cmd.Start.
		return osthread.Do(start)
	}
	errc := make(chan error, 1)
	osthread.Go(func() { // the thread ends with this function
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter the run's network namespace: %w", err)
			return
		}
		err := start()
		errc <- err
		if err == nil {
			<-done
		}
	})
	return <-errc
}

// checkNetns says whether process pid is in the network namespace ns.
func checkNetns(pid int, ns *os.File) error {
	var want, got unix.Stat_t
	if err := unix.Fstat(int(ns.Fd()), &want); err != nil {
		return err
	}
	if err := unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &got); err != nil {
		return err
	}
	if want.Ino != got.Ino || want.Dev != got.Dev {
		return errors.New("runsc is not in the run's network namespace")
	}
	return nil
}
