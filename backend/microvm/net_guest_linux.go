package microvm

import (
	"fmt"
	"sync"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/egress"
)

// The sinkhole in the guest. The guest has no network device at all: the
// agent sets up, in the guest kernel's one network namespace, what
// native's sandbox init sets up in its own (internal/observe/egress): a
// local route of every address to the loopback, nftables tproxy rules that
// steer every TCP and UDP flow to the agent's listeners, the resolver at
// 127.0.0.53, and the run's CA in the trust store. Every flow ends in the
// agent, in the guest; nothing can leave it, since there is nowhere to go.
// The events go to the host in the report.

// netDrain is how long the agent waits, after the program is gone, for
// the last flows to be recorded.
const netDrain = time.Second

// guestNet is the sink of one run.
type guestNet struct {
	stack  *egress.Stack
	rec    *egress.Recorder
	t0     time.Time
	mu     sync.Mutex
	events []moat.Event
}

// startNet brings the sink up for cfg. The job was just taken: nothing
// of the program runs yet.
func startNet(cfg *egress.Config, t0 time.Time) (*guestNet, error) {
	if cfg.Mode != egress.ModeSinkhole {
		return nil, fmt.Errorf("network mode %q: the guest has the sinkhole only", cfg.Mode)
	}
	// /etc is the agent's tmpfs (personaEtc), read-only after this.
	if err := egress.WriteResolvConf("/etc"); err != nil {
		return nil, err
	}
	n := &guestNet{t0: t0}
	n.rec = egress.NewRecorder(func(ev moat.Event) {
		ev.TimeMS = time.Since(n.t0).Milliseconds()
		n.mu.Lock()
		n.events = append(n.events, ev)
		n.mu.Unlock()
	})
	st, err := egress.Start(cfg, n.rec, nil)
	if err != nil {
		return nil, err
	}
	n.stack = st
	if err := egress.WriteCA("/etc", st.CAPEM()); err != nil {
		st.Close(0)
		return nil, err
	}
	return n, nil
}

// stop ends the sink once the program and everything it started are
// gone, and returns its events and the count of those dropped.
func (n *guestNet) stop() ([]moat.Event, int) {
	n.stack.Close(netDrain)
	n.rec.Flush()
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.events, n.rec.Dropped()
}
