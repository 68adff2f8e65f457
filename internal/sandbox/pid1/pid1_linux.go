package pid1

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sigaction is the kernel's struct sigaction with every field but the
// handler zero, which reads the same on every layout (with or without
// sa_restorer): no flags, no restorer, an empty mask.
type sigaction struct {
	handler uintptr
	rest    [3]uint64
}

const (
	sigDFL = 0
	sigIGN = 1
)

// IgnoreDefaults sets to SIG_IGN every signal whose action is still the
// default, except SIGKILL and SIGSTOP (which cannot be) and SIGCHLD
// (ignoring it would reap children behind the init's wait). Call it after
// the program is started: a handler set to SIG_IGN survives fork and exec,
// and the program must start with every signal at its default. It returns
// the signals it set.
func IgnoreDefaults() ([]int, error) {
	var set []int
	for sig := 1; sig <= 64; sig++ {
		if sig == int(unix.SIGKILL) || sig == int(unix.SIGSTOP) || sig == int(unix.SIGCHLD) {
			continue
		}
		var old sigaction
		if err := rtSigaction(sig, nil, &old); err != nil {
			return set, fmt.Errorf("read action of signal %d: %w", sig, err)
		}
		if old.handler != sigDFL {
			continue
		}
		if err := rtSigaction(sig, &sigaction{handler: sigIGN}, nil); err != nil {
			return set, fmt.Errorf("ignore signal %d: %w", sig, err)
		}
		set = append(set, sig)
	}
	return set, nil
}

func rtSigaction(sig int, act, old *sigaction) error {
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(sig),
		uintptr(unsafe.Pointer(act)), uintptr(unsafe.Pointer(old)), 8, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}
