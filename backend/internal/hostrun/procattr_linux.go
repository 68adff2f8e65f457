package hostrun

import "syscall"

// procAttr: a process group of its own, killed with moat if moat dies.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
