package nsinit

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/sandbox/cgroup"
)

// progPlace is how the program is kept apart from the init in memory:
// its own cgroup (cgroup.Split), whose limit is the run's, while the init
// keeps a reserve the program cannot take; and an OOM score that makes
// any of its processes the OOM killer's choice before the init. A program
// that fills the writable tmpfs, a memfd or its heap up to the limit is
// then killed alone, and the init still has the memory to report on it
// (the tmpfs pages it wrote stay charged to the program's group).
type progPlace struct {
	enter  []*os.File
	leave  []*os.File
	oom    *os.File
	oomWas []byte
}

// enterProg runs on the thread that forks the program, before confine
// (the cgroup namespace needs CAP_SYS_ADMIN, the files are opened before
// Landlock): it raises the init's oom_score_adj to 1000, which the
// program inherits, and enters the program's group (cfg.ProgEnter) with
// a cgroup namespace rooted there, so the program sees its group as "/".
// Nothing untrusted runs before leave.
func enterProg(cfg *Config) (*progPlace, error) {
	oom, err := os.OpenFile("/proc/self/oom_score_adj", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("oom score: %w", err)
	}
	p := &progPlace{oom: oom}
	var b [16]byte
	n, err := oom.ReadAt(b[:], 0)
	if n == 0 {
		oom.Close()
		return nil, fmt.Errorf("oom score: read: %w", err)
	}
	p.oomWas = bytes.TrimSpace(b[:n])
	if _, err := oom.WriteAt([]byte("1000"), 0); err != nil {
		oom.Close()
		return nil, fmt.Errorf("oom score: %w", err)
	}
	if cfg.ProgEnter == 0 {
		return p, nil
	}
	p.enter = fdFiles(FDProg, cfg.ProgEnter, "cgroup prog")
	p.leave = fdFiles(FDProg+cfg.ProgEnter, cfg.ProgLeave, "cgroup init")
	err = p.in()
	if err == nil {
		err = unix.Unshare(unix.CLONE_NEWCGROUP)
	}
	if err != nil {
		p.close()
		return nil, fmt.Errorf("program's cgroup: %w", err)
	}
	return p, nil
}

// in enters the program's group again (the thread that forks, on v1;
// the init's process, on v2): for what the init writes on the program's
// behalf, the workspace, which the program's limit has always covered.
func (p *progPlace) in() error { return cgroup.Enter(p.enter) }

// out, once the program has started, takes the init back to its own
// group and, the first time, its own OOM score. It fails if the init
// could not leave: its reserve would then not be its own.
func (p *progPlace) out() error {
	err := cgroup.Enter(p.leave)
	if len(p.oomWas) > 0 {
		// Lowering back to the value it had needs no privilege.
		if _, oerr := p.oom.WriteAt(p.oomWas, 0); oerr != nil {
			err = errors.Join(err, fmt.Errorf("oom score: %w", oerr))
		}
		p.oomWas = nil
	}
	return err
}

// close closes the files; the init stays where it is.
func (p *progPlace) close() {
	for _, f := range append(p.enter, p.leave...) {
		f.Close()
	}
	p.enter, p.leave = nil, nil
	p.oom.Close()
}

// fdFiles are n inherited descriptors from first on.
func fdFiles(first, n int, name string) []*os.File {
	fs := make([]*os.File, n)
	for i := range fs {
		fs[i] = os.NewFile(uintptr(first+i), name)
	}
	return fs
}
