package seccomp

import (
	"encoding/binary"
	"os"
	"strings"
)

// ReadString reads the NUL-terminated string at addr of a notified
// process's memory (its /proc/PID/mem), at most max bytes. What is read is
// evidence, never a decision: another thread may change it meanwhile.
func ReadString(mem *os.File, addr uint64, max int) string {
	if addr == 0 {
		return ""
	}
	buf := make([]byte, max)
	n, _ := mem.ReadAt(buf, int64(addr))
	buf = buf[:n]
	if i := strings.IndexByte(string(buf), 0); i >= 0 {
		return string(buf[:i])
	}
	return string(buf)
}

// ReadArgv reads the argv array at addr (up to 16 arguments of 1000 bytes
// each), joined by spaces.
func ReadArgv(mem *os.File, addr uint64) string {
	if addr == 0 {
		return ""
	}
	var ptrs [16 * 8]byte
	n, _ := mem.ReadAt(ptrs[:], int64(addr))
	var parts []string
	for i := 0; i+8 <= n; i += 8 {
		p := binary.LittleEndian.Uint64(ptrs[i:])
		if p == 0 {
			break
		}
		parts = append(parts, ReadString(mem, p, 1000))
	}
	return strings.Join(parts, " ")
}

// Clone3Flags reads the flags of clone3(args, size), the first field of
// struct clone_args at args, from the caller's memory (its /proc/PID/mem);
// ok is false when they cannot be read. Evidence only: clone3 is refused
// (ENOSYS) whatever they say.
func Clone3Flags(mem *os.File, args [6]uint64) (flags uint64, ok bool) {
	if args[0] == 0 || args[1] < 8 {
		return 0, false
	}
	var b [8]byte
	if n, _ := mem.ReadAt(b[:], int64(args[0])); n != len(b) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:]), true
}
