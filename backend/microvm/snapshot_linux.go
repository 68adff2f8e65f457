package microvm

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/moat-sandbox/moat/internal/local"
	"golang.org/x/sys/unix"
)

// Snapshots. The first run of a VM configuration (the QEMU command line
// but for the run's own paths: kernel, initramfs, runtime image, memory,
// vCPUs, accelerator) boots cold; once its guest reports ready and waits
// for its job, moat stops the VM, saves it with QEMU's migration to a file
// in its cache, lets it go on and gives it its job. Every later run of that
// configuration starts QEMU with -incoming from that file: the guest wakes
// where it waited, takes its job and is thrown away after it, as a cold
// one is. A snapshot is used by many runs, one restore each; nothing of a
// run goes back into it.
//
// What restored guests share: everything the kernel and the agent did
// before the job, among it the kernel's address layout (KASLR) and the
// random values drawn at boot. The agent mixes fresh randomness from the
// host into the kernel's pool and forces the CRNG to reseed, and sets the
// clock, before the program starts (Job.Seed, Job.NowNS), so no two runs
// draw the same random bytes. MOAT_MICROVM_SNAPSHOT=0 turns snapshots off.

// maxSnapshots is how many saved guests the cache keeps (newest first).
const maxSnapshots = 6

func snapshotsOn() bool { return os.Getenv("MOAT_MICROVM_SNAPSHOT") != "0" }

// snapPlan is what a run does about snapshots.
type snapPlan struct {
	path    string   // the saved state of this configuration
	restore bool     // boot from path
	lock    *os.File // held while this run saves path
}

// planSnapshot decides, for a qemu run of cfg, to restore (a snapshot is
// there), to save (none is, and no other run is saving it: cfg gets a QMP
// socket) or neither (nil).
func planSnapshot(q *qemu, version string, cfg *vmConfig, dir string, allowRestore bool) *snapPlan {
	if !snapshotsOn() {
		return nil
	}
	key, err := snapshotKey(q, version, cfg)
	if err != nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil
	}
	p := &snapPlan{path: filepath.Join(dir, "snap-"+key+".state")}
	if _, err := os.Stat(p.path); err == nil {
		if !allowRestore {
			return nil
		}
		p.restore = true
		cfg.Incoming = p.path
		return p
	}
	lock, err := os.OpenFile(p.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		return nil // another run is saving it
	}
	if _, err := os.Stat(p.path); err == nil { // saved meanwhile
		lock.Close()
		if !allowRestore {
			return nil
		}
		p.restore = true
		cfg.Incoming = p.path
		return p
	}
	p.lock = lock
	cfg.QMP = true
	return p
}

// snapshotKey names a VM configuration: QEMU's version, the kernel file
// (path, size, time), the initramfs and the runtime image (their paths
// name their content) and the command line with the run's own parts left
// out.
func snapshotKey(q *qemu, version string, cfg *vmConfig) (string, error) {
	fi, err := os.Stat(cfg.Kernel)
	if err != nil {
		return "", err
	}
	c := *cfg
	c.Dir, c.Console, c.QMP, c.Incoming, c.Name = "", "", false, "", ""
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00", version, cfg.Kernel, fi.Size(), fi.ModTime().UnixNano())
	// QEMU's command line names its files by descriptor: the initramfs and
	// the runtime image (named by their content) go in by path.
	fmt.Fprintf(h, "%s\x00%s\x00", cfg.Initrd, cfg.Root)
	for _, a := range q.args(&c) {
		fmt.Fprintf(h, "%s\x00", a)
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

// save saves the running VM (its guest waiting for the job) to p.path
// through QMP on conn, QEMU's monitor, and lets it run on. QEMU writes the
// state to a file moat opened and passed over the monitor (getfd): it can
// neither open moat's cache nor start a program. It always releases the
// lock.
func (p *snapPlan) save(conn *net.UnixConn) error {
	defer p.lock.Close()
	if conn == nil {
		return errors.New("no QMP connection")
	}
	tmp := p.path + ".tmp-" + local.NewID()
	defer os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	q, err := newQMP(conn, 60*time.Second)
	if err != nil {
		return err
	}
	defer q.c.SetDeadline(time.Time{})
	if err := q.sendFD("snapshot", f); err != nil {
		return err
	}
	// Saved running (a live migration of an idle guest: it converges at
	// once, and QEMU stops the VM at the end): a state saved stopped
	// would restore stopped.
	err = q.migrate("fd:snapshot")
	if _, cerr := q.exec("cont", nil); err == nil && cerr != nil {
		err = fmt.Errorf("continue after saving: %w", cerr)
	}
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, p.path); err != nil {
		return err
	}
	pruneSnapshots(filepath.Dir(p.path))
	return nil
}

// pruneSnapshots keeps the newest maxSnapshots saved guests in dir.
func pruneSnapshots(dir string) {
	files, _ := filepath.Glob(filepath.Join(dir, "snap-*.state"))
	if len(files) <= maxSnapshots {
		return
	}
	mtime := map[string]time.Time{}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			mtime[f] = fi.ModTime()
		}
	}
	sort.Slice(files, func(i, j int) bool { return mtime[files[i]].After(mtime[files[j]]) })
	for _, f := range files[maxSnapshots:] {
		_ = os.Remove(f) // a restore that has it open reads on
	}
}

// qmpClient speaks the QEMU Machine Protocol: one command at a time,
// events skipped. QEMU is moat's own process here, but its answers are
// still bounded by the connection's deadline.
type qmpClient struct {
	c   *net.UnixConn
	dec *json.Decoder
}

func newQMP(c *net.UnixConn, deadline time.Duration) (*qmpClient, error) {
	_ = c.SetDeadline(time.Now().Add(deadline))
	q := &qmpClient{c: c, dec: json.NewDecoder(c)}
	var greeting map[string]json.RawMessage
	if err := q.dec.Decode(&greeting); err != nil {
		return nil, fmt.Errorf("qmp greeting: %w", err)
	}
	if _, err := q.exec("qmp_capabilities", nil); err != nil {
		return nil, err
	}
	return q, nil
}

// sendFD gives QEMU f under name (QMP getfd, the descriptor beside the
// command).
func (q *qmpClient) sendFD(name string, f *os.File) error {
	b, err := json.Marshal(map[string]any{"execute": "getfd", "arguments": map[string]string{"fdname": name}})
	if err != nil {
		return err
	}
	if _, _, err := q.c.WriteMsgUnix(b, unix.UnixRights(int(f.Fd())), nil); err != nil {
		return fmt.Errorf("qmp getfd: %w", err)
	}
	return q.result("getfd")
}

func (q *qmpClient) exec(cmd string, args any) (json.RawMessage, error) {
	req := map[string]any{"execute": cmd}
	if args != nil {
		req["arguments"] = args
	}
	if err := json.NewEncoder(q.c).Encode(req); err != nil {
		return nil, fmt.Errorf("qmp %s: %w", cmd, err)
	}
	return q.answer(cmd)
}

// result reads the answer to cmd, an error or nothing.
func (q *qmpClient) result(cmd string) error {
	_, err := q.answer(cmd)
	return err
}

// answer reads the answer to cmd, events skipped.
func (q *qmpClient) answer(cmd string) (json.RawMessage, error) {
	for {
		var resp struct {
			Return json.RawMessage `json:"return"`
			Error  *struct {
				Desc string `json:"desc"`
			} `json:"error"`
			Event string `json:"event"`
		}
		if err := q.dec.Decode(&resp); err != nil {
			return nil, fmt.Errorf("qmp %s: %w", cmd, err)
		}
		switch {
		case resp.Error != nil:
			return nil, fmt.Errorf("qmp %s: %s", cmd, clean(resp.Error.Desc))
		case resp.Event != "":
			continue
		default:
			return resp.Return, nil
		}
	}
}

// migrate saves the VM to uri and waits until it is written.
func (q *qmpClient) migrate(uri string) error {
	// QEMU's default bandwidth cap is for live migration over a network.
	if _, err := q.exec("migrate-set-parameters", map[string]any{"max-bandwidth": int64(1) << 40}); err != nil {
		return err
	}
	if _, err := q.exec("migrate", map[string]any{"uri": uri}); err != nil {
		return err
	}
	for {
		ret, err := q.exec("query-migrate", nil)
		if err != nil {
			return err
		}
		var st struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		if err := json.Unmarshal(ret, &st); err != nil {
			return fmt.Errorf("qmp query-migrate: %w", err)
		}
		switch st.Status {
		case "completed":
			return nil
		case "failed", "cancelled":
			return errors.New("migration " + st.Status + ": " + clean(st.ErrorDesc))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
