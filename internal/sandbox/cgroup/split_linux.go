package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Split divides a run's group between a supervisor (a sandbox's init) and
// the program it starts, so that the program can never take the memory the
// supervisor needs to report on it:
//
//	<outer>         limit: the program's memory plus the supervisor's reserve
//	<outer>/prog    limit: the program's memory (Prog)
//	<outer>/init    v2 only, no limit of its own: the supervisor (Init)
//
// On v1 the supervisor stays in the outer group itself (v1 allows
// processes next to child groups) and only the memory hierarchy is split;
// on v2 the no-internal-processes rule puts it in a leaf of its own.
//
// Invariants: the program's pages (tmpfs and memfd files it wrote
// included, which stay charged to Prog after it dies) count against Prog;
// the outer limit is Prog's plus the reserve, so the supervisor always has
// at least the reserve, whatever the program did. Every process the
// program forks is born in Prog.
type Split struct {
	Prog Group // the program's group
	Init Group // v2: the supervisor's leaf; nil on v1 (the outer group)

	outer Group
}

// NewSplit makes the groups of a Split inside outer, which must hold no
// process yet and whose memory limit is progMemory plus the supervisor's
// reserve. progMemory must be positive. On error nothing it made is left;
// outer's Destroy removes them otherwise.
func NewSplit(outer Group, progMemory int64) (*Split, error) {
	if progMemory <= 0 {
		return nil, fmt.Errorf("cgroup: split: program memory %d is not positive", progMemory)
	}
	switch g := outer.(type) {
	case *v1Group:
		mem, ok := g.ctl["memory"]
		if !ok {
			return nil, fmt.Errorf("cgroup: split: %w: the group has no memory hierarchy", ErrUnavailable)
		}
		dir := filepath.Join(mem, "prog")
		if err := g.h.mkdir(dir); err != nil {
			return nil, fmt.Errorf("cgroup: split: create %s: %w", dir, err)
		}
		prog := &v1Group{h: g.h, ctl: map[string]string{"memory": dir}, dirs: []string{dir}, limited: []string{"memory"}}
		v := strconv.FormatInt(progMemory, 10)
		err := v1Set("prog", "memory", dir, "memory.limit_in_bytes", v)
		if sw := filepath.Join(dir, "memory.memsw.limit_in_bytes"); err == nil && exists(sw) {
			err = v1Set("prog", "memory", dir, "memory.memsw.limit_in_bytes", v)
		}
		if err != nil {
			_ = g.h.removeTree(dir)
			return nil, err
		}
		return &Split{Prog: prog, outer: outer}, nil
	case *v2Group:
		// Enabled before either leaf exists, while the outer group is
		// still empty (the no-internal-processes rule).
		if err := enableControllers(g.dir, []string{"memory", "pids"}); err != nil {
			return nil, fmt.Errorf("cgroup: split: %w: %w", ErrUnavailable, err)
		}
		initDir, progDir := filepath.Join(g.dir, "init"), filepath.Join(g.dir, "prog")
		var made []string
		fail := func(err error) (*Split, error) {
			for i := len(made) - 1; i >= 0; i-- {
				_ = g.h.removeTree(made[i])
			}
			return nil, err
		}
		for _, d := range []string{initDir, progDir} {
			if err := g.h.mkdir(d); err != nil {
				return fail(fmt.Errorf("cgroup: split: create %s: %w", d, err))
			}
			made = append(made, d)
		}
		if err := writeFile(filepath.Join(progDir, "memory.max"), strconv.FormatInt(progMemory, 10)); err != nil {
			return fail(fmt.Errorf("cgroup: split: %w: memory limit: %w", ErrUnavailable, err))
		}
		if sw := filepath.Join(progDir, "memory.swap.max"); exists(sw) {
			if err := writeFile(sw, "0"); err != nil {
				return fail(fmt.Errorf("cgroup: split: %w: swap limit: %w", ErrUnavailable, err))
			}
		}
		return &Split{
			Prog:  &v2Group{h: g.h, dir: progDir, limited: []string{"memory"}},
			Init:  &v2Group{h: g.h, dir: initDir},
			outer: outer,
		}, nil
	}
	return nil, fmt.Errorf("cgroup: split: %w: unknown group type %T", ErrUnavailable, outer)
}

// InitEntry is how the supervisor enters its own place: the outer group
// on v1, its leaf on v2.
func (s *Split) InitEntry() (*Entry, error) {
	if s.Init != nil {
		return s.Init.Entry()
	}
	return s.outer.Entry()
}

// ProgFiles opens what the supervisor writes "0" to around the start of
// the program, from the thread that forks it: enter before (the program
// is then born in Prog), leave after (the supervisor back in its own
// place). On v1 these are tasks files of the memory hierarchy and move
// that thread alone; on v2 they are cgroup.procs files and move the
// supervisor's whole process. Opened here, so the kernel checks the
// opener's right to move processes (and, on v2, its cgroup namespace),
// not the supervisor's.
func (s *Split) ProgFiles() (enter, leave []*os.File, err error) {
	var in, out string
	switch p := s.Prog.(type) {
	case *v1Group:
		in = filepath.Join(p.ctl["memory"], "tasks")
		out = filepath.Join(s.outer.(*v1Group).ctl["memory"], "tasks")
	case *v2Group:
		in = filepath.Join(p.dir, "cgroup.procs")
		out = filepath.Join(s.Init.(*v2Group).dir, "cgroup.procs")
	default:
		return nil, nil, errors.New("cgroup: split: unknown group type")
	}
	fs, err := openAll([]string{in, out})
	if err != nil {
		return nil, nil, err
	}
	return fs[:1], fs[1:], nil
}
