package timens

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Ahead puts the processes the calling thread starts from now on into a
// new time namespace whose CLOCK_BOOTTIME and CLOCK_MONOTONIC run d ahead
// of the caller's (the caller stays where it is). The caller must be
// locked to its thread (runtime.LockOSThread), start the processes from
// it, and hold CAP_SYS_TIME in its user namespace; /proc must be its PID
// namespace's. A kernel without time namespaces, or that cannot start a
// process into one as os/exec does (vforkable), gives ErrUnsupported.
func Ahead(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("timens: offset %v is not ahead", d)
	}
	if err := vforkable(); err != nil {
		return err
	}
	return ahead(d)
}

// AheadForking is [Ahead] for a caller that starts its processes with a
// real fork, which every kernel with time namespaces allows into one:
// os/exec forks, rather than vforks, when it also makes the child a user
// namespace (SysProcAttr.Cloneflags CLONE_NEWUSER). For kernels that
// refuse the vfork (Ahead's ErrUnsupported), Debian 12's 6.1 among them.
// A kernel without time namespaces gives ErrUnsupported.
func AheadForking(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("timens: offset %v is not ahead", d)
	}
	return ahead(d)
}

// ahead unshares the calling thread's time namespace for its children
// and sets the offsets.
func ahead(d time.Duration) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		if errors.Is(err, unix.EINVAL) {
			return ErrUnsupported
		}
		return fmt.Errorf("timens: unshare: %w", err)
	}
	// The offsets are set once, before any process enters the namespace,
	// in one write (numeric clock ids: every kernel with time namespaces
	// reads them), at /proc/TID: the calling thread's (the kernel has no
	// /proc/thread-self/timens_offsets; /proc/self's is the main thread's).
	f, err := os.OpenFile(fmt.Sprintf("/proc/%d/timens_offsets", unix.Gettid()), os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("timens: %w", err)
	}
	s, ns := int64(d/time.Second), int64(d%time.Second)
	_, err = fmt.Fprintf(f, "%d %d %d\n%d %d %d\n", unix.CLOCK_MONOTONIC, s, ns, unix.CLOCK_BOOTTIME, s, ns)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("timens: write offsets: %w", err)
	}
	return nil
}

// vforkable tells whether a thread that has unshared its time namespace
// can start a process the way os/exec does (vfork, then exec, which moves
// the child into the namespace): kernels before the 2022 change that
// allowed it (Debian 12's 6.1 among them) refuse the vfork with EINVAL,
// and a thread that has unshared cannot go back. So it is tried first on
// a thread of its own, thrown away with its namespace: a kernel without
// time namespaces, or that refuses, gives ErrUnsupported.
func vforkable() error {
	res := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
			if errors.Is(err, unix.EINVAL) {
				err = ErrUnsupported
			}
			res <- err
			return
		}
		// No such file: the vfork is made, the exec fails (ENOENT);
		// a refused vfork fails before (EINVAL).
		p, err := os.StartProcess("/nonexistent/timens-probe", []string{"probe"}, &os.ProcAttr{})
		if p != nil {
			_ = p.Kill()
			_, _ = p.Wait()
		}
		switch {
		case errors.Is(err, syscall.EINVAL):
			res <- ErrUnsupported
		case err == nil || errors.Is(err, syscall.ENOENT):
			res <- nil
		default:
			res <- fmt.Errorf("timens: probe: %w", err)
		}
	}()
	err := <-res
	if err != nil && !errors.Is(err, ErrUnsupported) {
		return fmt.Errorf("timens: unshare: %w", err)
	}
	return err
}
