package cgroup

import (
	"errors"
	"fmt"
	"os"
)

// Entry is how a new process enters a group by itself, without the
// whole-process move of [Group.AddProc].
type Entry struct {
	// Dir (v2, Linux 5.7 and later) is the group's directory, for clone3's
	// CLONE_INTO_CGROUP (syscall.SysProcAttr UseCgroupFD and CgroupFD):
	// the child is born in the group. nil on v1.
	Dir *os.File
	// Self are files the new process writes "0" to, in order, with [Enter]
	// before it runs anything of the program's. On v1 they are the tasks
	// files of each hierarchy: a thread writing "0" there moves itself
	// alone, which takes no global lock; that thread must then start the
	// program itself (runtime.LockOSThread), since only it is in the
	// group. On v2 Self is the group's cgroup.procs, for when the child
	// could not be cloned into the group; the write moves the whole
	// process. The files are opened by the caller, so the kernel checks the
	// caller's right to move processes (the opener's credentials), not the
	// child's.
	Self []*os.File
}

// Close closes every file of e.
func (e *Entry) Close() error {
	if e == nil {
		return nil
	}
	var errs []error
	if e.Dir != nil {
		errs = append(errs, e.Dir.Close())
	}
	for _, f := range e.Self {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Enter moves the calling thread (v1 tasks files) or process (v2
// cgroup.procs) into the group whose Entry.Self files are given.
func Enter(self []*os.File) error {
	for _, f := range self {
		if _, err := f.Write([]byte("0")); err != nil {
			return fmt.Errorf("cgroup: enter %s: %w", f.Name(), err)
		}
	}
	return nil
}

// openAll opens paths for writing, or none of them.
func openAll(paths []string) ([]*os.File, error) {
	var fs []*os.File
	for _, p := range paths {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			for _, g := range fs {
				g.Close()
			}
			return nil, fmt.Errorf("cgroup: open %s: %w", p, err)
		}
		fs = append(fs, f)
	}
	return fs, nil
}
