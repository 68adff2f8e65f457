package observe

import "syscall"

// ctime is the inode change time: the program cannot set it (unlike mtime).
func ctime(st *syscall.Stat_t) int64 { return st.Ctim.Nano() }
