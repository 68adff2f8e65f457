package native

import (
	"encoding/json"
	"os"
	"sync/atomic"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
	"github.com/moat-sandbox/moat/internal/sandbox/nsinit"
)

// The sandbox's network in modes sinkhole and allow=... (internal/observe/egress).
// In mode none nothing here runs: no socket pair, no proxy, no rules.
//
// Parent side: a SOCK_SEQPACKET pair whose init end is nsinit.FDNet. The parent
// receives the network events over it and, in allow mode, dials allowed
// endpoints from the host's network namespace for the init, checking the
// list itself, and passes the connected socket back. Init side: after lo
// is up and while /etc is still writable, the init writes resolv.conf,
// adds the local route and tproxy rules in the sandbox's own network
// namespace (it holds CAP_NET_ADMIN there, never on the host) and serves
// the resolver and proxy until the program is reaped.

// netDrain is how long the init waits, after the program is gone, for
// the last flows to be recorded.
const netDrain = time.Second

// netRun is the parent's side of one run's network; nil in mode none.
type netRun struct {
	cfg     *egress.Config
	parent  *os.File
	child   *os.File
	mono0   atomic.Int64 // the zero of the events' times
	done    chan struct{}
	events  []moat.Event
	dropped int
}

// startNet prepares the network of a run: it fills cfg.Net and returns
// the parent's side, or nil for mode none. A sinkhole serves md at the
// metadata address, and the program's environment points the usual CA
// variables at the trust store that holds the run's CA (egress.CAEnv).
func startNet(spec *moat.Spec, cfg *nsinit.Config, mono0 int64, md *honeytoken.Metadata) (*netRun, error) {
	ec, err := egress.FromNetwork(spec.Network)
	if err != nil || ec == nil {
		return nil, err
	}
	if ec.Mode == egress.ModeSinkhole {
		ec.Metadata = md // and the CA variables go into the Start (startMessage)
	}
	p, c, err := egress.SocketPair()
	if err != nil {
		return nil, err
	}
	if cfg.Net, err = json.Marshal(ec); err != nil {
		return nil, err
	}
	n := &netRun{cfg: ec, parent: p, child: c, done: make(chan struct{})}
	n.mono0.Store(mono0)
	return n, nil
}

// files puts the init's end at nsinit.FDNet among the init's extra files.
func (n *netRun) files(extra []*os.File) []*os.File {
	if n == nil {
		return extra
	}
	for len(extra) <= nsinit.FDNet-3 {
		extra = append(extra, nil)
	}
	extra[nsinit.FDNet-3] = n.child
	return extra
}

// started runs once the init has started: the parent closes its copy of
// the init's end (so that EOF means the init is gone) and serves the link.
func (n *netRun) started() {
	if n == nil {
		return
	}
	n.child.Close()
	go func() {
		defer close(n.done)
		n.dropped = egress.Serve(n.parent, n.cfg, func(ev moat.Event, mono int64) {
			if len(n.events) >= egress.MaxEvents {
				n.dropped++
				return
			}
			ev.Source = "network"
			ev.TimeMS = max(0, (mono-n.mono0.Load())/1e6)
			n.events = append(n.events, ev)
		})
	}()
}

// setMono0 moves the zero of the events' times to the start of a run
// prepared ahead.
func (n *netRun) setMono0(mono int64) {
	if n != nil {
		n.mono0.Store(mono)
	}
}

// close releases both ends; deferred, for runs that end before started.
func (n *netRun) close() {
	if n != nil {
		n.child.Close()
		n.parent.Close()
	}
}

// finish waits for the link to end (the init has exited) and adds the
// network events to the run's report.
func (r *runner) finishNet(n *netRun) {
	if n == nil {
		return
	}
	<-n.done
	r.events = append(r.events, n.events...)
	r.eventsDropped += n.dropped
}

// initNet is the init's side of the network.
type initNet struct {
	stack *egress.Stack
	link  *egress.Link
	rec   *egress.Recorder
}

// startInitNet brings the sandbox's network up for the config the parent
// made (startNet). It is the init's nsinit.NetworkFunc (see Init).
func startInitNet(raw json.RawMessage) (nsinit.Network, string, error) {
	var cfg egress.Config
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return nil, "", err
	}
	link, err := egress.NewLink(os.NewFile(nsinit.FDNet, "egress"))
	if err != nil {
		return nil, "", err
	}
	if err := egress.WriteResolvConf("/etc"); err != nil {
		return nil, "", err
	}
	rec := egress.NewRecorder(link.Event)
	st, err := egress.Start(&cfg, rec, link)
	if err != nil {
		return nil, "", err
	}
	if pem := st.CAPEM(); pem != nil {
		// The root is remounted read-only before the program starts.
		if err := egress.WriteCA("/etc", pem); err != nil {
			st.Close(0)
			return nil, "", err
		}
	}
	return &initNet{stack: st, link: link, rec: rec}, cfg.Describe(), nil
}

// Stop ends the network once the program and all its processes are gone,
// recording the flows that were still open.
func (n *initNet) Stop() {
	n.stack.Close(netDrain)
	n.rec.Flush()
	n.link.Finish(n.rec.Dropped())
}
