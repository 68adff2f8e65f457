//go:build !linux

package hostrun

import "syscall"

// procAttr: a process group of its own (no parent-death signal here).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
