package timens

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Ahead puts the processes the calling thread starts from now on into a
// new time namespace whose CLOCK_BOOTTIME and CLOCK_MONOTONIC run d ahead
// of the caller's (the caller stays where it is). The caller must be
// locked to its thread (runtime.LockOSThread), start the processes from
// it, and hold CAP_SYS_TIME in its user namespace; /proc must be its PID
// namespace's. A kernel without time namespaces gives ErrUnsupported.
func Ahead(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("timens: offset %v is not ahead", d)
	}
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
