package microvm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

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

// maxEtc bounds what the agent copies of the image's /etc.
const maxEtc = 8 << 20

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
	if err := writableEtc(); err != nil {
		return nil, err
	}
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
	if err := unix.Mount("", "/etc", "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		st.Close(0)
		return nil, fmt.Errorf("remount /etc read-only: %w", err)
	}
	return n, nil
}

// stop ends the sink once the program and everything it started are
// gone, and returns its events and the count of those dropped.
func (n *guestNet) stop() ([]moat.Event, int) {
	n.stack.Close(netDrain)
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.events, n.rec.Dropped()
}

// writableEtc puts a tmpfs with a copy of the image's /etc (a few small
// files) over it, for the resolver's and the CA's files.
func writableEtc() error {
	type entry struct {
		rel, link string
		mode      fs.FileMode
		data      []byte
	}
	var ents []entry
	total := 0
	err := filepath.WalkDir("/etc", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "/etc" {
			return err
		}
		rel, _ := filepath.Rel("/etc", p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := entry{rel: rel, mode: fi.Mode()}
		switch {
		case d.IsDir():
		case d.Type()&fs.ModeSymlink != 0:
			if e.link, err = os.Readlink(p); err != nil {
				return err
			}
		case d.Type().IsRegular():
			total += int(fi.Size())
			if total > maxEtc {
				return errors.New("the image's /etc is too big to copy")
			}
			if e.data, err = os.ReadFile(p); err != nil {
				return err
			}
		default:
			return nil
		}
		ents = append(ents, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("copy /etc: %w", err)
	}
	if err := unix.Mount("etc", "/etc", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=16m"); err != nil {
		return fmt.Errorf("mount /etc: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join("/etc", e.rel)
		switch {
		case e.mode.IsDir():
			err = os.Mkdir(p, e.mode.Perm())
		case e.link != "":
			err = os.Symlink(e.link, p)
		default:
			err = os.WriteFile(p, e.data, e.mode.Perm())
		}
		if err != nil {
			return fmt.Errorf("copy /etc: %w", err)
		}
	}
	return nil
}
