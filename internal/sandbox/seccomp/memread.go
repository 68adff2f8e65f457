package seccomp

import (
	"encoding/binary"
	"os"
	"strings"

	"github.com/moat-sandbox/moat"
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

// LoaderEnv reads, from the envp array at addr, the variables that make
// the dynamic loader map code into whatever the exec runs (LD_PRELOAD,
// LD_AUDIT), joined by newlines: the kernel sees an exec of an ordinary
// program, and the library the run wrote runs inside it. At most
// maxEnv variables are looked at, each by its first bytes, and a value
// is read up to 1000 bytes; an environment that goes on past them (or
// whose array cannot be read to its end) gives moat.EnvUnread first:
// what is not read is not taken as clean (red team, session 19: a
// LD_PRELOAD after 20,000 variables was not seen).
func LoaderEnv(mem *os.File, addr uint64) string {
	if addr == 0 {
		return ""
	}
	var out []string
	var head [16]byte
	ptrs := make([]byte, 512*8)
	for read := 0; read < maxEnv; read += 512 {
		n, _ := mem.ReadAt(ptrs, int64(addr)+int64(read)*8)
		for i := 0; i+8 <= n; i += 8 {
			p := binary.LittleEndian.Uint64(ptrs[i:])
			if p == 0 {
				return strings.Join(out, "\n")
			}
			k, _ := mem.ReadAt(head[:], int64(p))
			h := string(head[:k])
			if strings.HasPrefix(h, "LD_PRELOAD=") || strings.HasPrefix(h, "LD_AUDIT=") {
				out = append(out, ReadString(mem, p, 1000))
			}
		}
		if n < len(ptrs) {
			break // the array's memory ended before its NULL
		}
	}
	return strings.Join(append([]string{moat.EnvUnread}, out...), "\n")
}

// maxEnv bounds the environment variables LoaderEnv looks at (a
// developer's shell has about 100; Linux allows some hundred thousand).
const maxEnv = 8192
