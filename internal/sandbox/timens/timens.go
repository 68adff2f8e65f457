// Package timens makes a sandbox's machine look as old as its persona
// says (observe.Persona's Uptime). A sandbox that starts its own kernel
// (the micro-VM) or that a program can compare with its start (a fresh
// machine) shows an uptime of seconds, which sandbox-aware programs
// check. A time namespace (Linux 5.6, CONFIG_TIME_NS) moves
// CLOCK_BOOTTIME and CLOCK_MONOTONIC by an offset for every process in
// it, and the kernel applies it to what is derived from them: /proc/uptime,
// sysinfo(2), /proc/stat's btime and each /proc/PID/stat start time.
//
// What it does not move, and a determined program can still compare: the
// offsets themselves (/proc/self/timens_offsets, readable by every
// process), the namespace's inode (/proc/self/ns/time is not the initial
// one), the idle time of /proc/uptime and the CPU times of /proc/stat
// (which total the real uptime), and CLOCK_REALTIME (file times). See
// docs/report.md, "The persona".
package timens

import "errors"

// ErrUnsupported is Ahead's error on a kernel without time namespaces.
var ErrUnsupported = errors.New("timens: the kernel has no time namespaces")
