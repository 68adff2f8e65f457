package main

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/moat-sandbox/moat"
)

// limitFlags are the resource limits `run` and `test` share (the wall
// clock is each command's own: one for a run, one per phase of a test).
type limitFlags struct {
	memory, disk, outputLimit string
	pids                      int
	cpus                      float64
}

// addLimitFlags adds the limit flags; each is of what ("all processes
// together", "each phase").
func addLimitFlags(fl *pflag.FlagSet, l *limitFlags, what string) {
	addLimitFlagsMemory(fl, l, what, "512MiB")
}

// addLimitFlagsMemory is addLimitFlags with another default memory limit.
func addLimitFlagsMemory(fl *pflag.FlagSet, l *limitFlags, what, memory string) {
	fl.StringVar(&l.memory, "memory", memory, "memory limit ("+what+")")
	fl.IntVar(&l.pids, "pids", moat.DefaultPids, "limit on processes and threads ("+what+")")
	fl.Float64Var(&l.cpus, "cpus", 0, "CPU limit in cores, 0 for none ("+what+")")
	fl.StringVar(&l.disk, "disk", "1GiB", "limit on all writable space inside ("+what+")")
	fl.StringVar(&l.outputLimit, "output-limit", "16MiB", "limit on stdout and on stderr, each ("+what+")")
}

// limits parses the flags into lim (whose Timeout is left alone). Every
// error is the user's and names its flag.
func (l *limitFlags) limits(lim *moat.Limits) error {
	for _, sz := range []struct {
		flag, v string
		dst     *int64
	}{{"memory", l.memory, &lim.Memory}, {"disk", l.disk, &lim.Disk}, {"output-limit", l.outputLimit, &lim.OutputLimit}} {
		v, err := parseSize(sz.v)
		if err != nil {
			return fmt.Errorf("--%s: %w", sz.flag, err)
		}
		if v == 0 {
			return fmt.Errorf("--%s: must be more than 0", sz.flag)
		}
		if sz.flag == "disk" && v < 1<<20 {
			return fmt.Errorf("--disk: %s is below 1MiB, too small for the sandbox's own files", sz.v)
		}
		*sz.dst = v
	}
	if l.pids <= 0 {
		return errors.New("--pids: must be more than 0")
	}
	// NaN and infinities are refused here: a backend that tests
	// `CPUs > 0` before setting a quota would read NaN as "no limit"
	// (podman ran unbounded), failing open. The lower bound is the
	// kernel's smallest CFS quota (1ms per 100ms), the upper the cgroup
	// code's.
	if l.cpus < 0 {
		return errors.New("--cpus: must not be negative")
	}
	if l.cpus != 0 && !(l.cpus >= 0.01 && l.cpus <= 1e6) {
		return fmt.Errorf("--cpus: %g cores is outside 0.01..1000000 (0 for no limit)", l.cpus)
	}
	lim.Pids, lim.CPUs = l.pids, l.cpus
	return nil
}
