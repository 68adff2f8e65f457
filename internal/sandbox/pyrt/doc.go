// Package pyrt finds the host's real Python interpreter and computes the
// smallest set of host paths a sandbox must bind read-only so that the
// interpreter runs inside a fresh, empty root.
//
// # Resolving
//
// Ask for an interpreter by name ("" means "python3" on PATH) or by path:
//
//	rt, err := pyrt.Resolve("", os.Getenv("PATH"), cacheDir)
//	if errors.Is(err, pyrt.ErrNoPython) {
//		// tell the user to install Python or fix PATH
//	}
//
// Resolve follows symlinks, runs pyenv-style shim scripts once to learn
// which interpreter they select, and recognises virtual environments by
// their pyvenv.cfg. The interpreter is always asked about itself once
// (`python -I -S -c ...`, 5 s timeout) because only it knows its prefixes
// for sure; the answer, together with the shared-library walk, is cached
// under cacheDir so later calls cost a few stats and one small file read.
//
// # Building the sandbox root
//
// A Runtime says what to put in the empty root:
//
//	for _, p := range rt.Paths {
//		// bind p read-only at the same path (mkdir -p its parents first)
//	}
//	for link, target := range rt.Links {
//		// mkdir -p filepath.Dir(link); os.Symlink(target, link)
//	}
//	// then exec rt.Command inside the root
//
// Paths are real (symlink-free), sorted, and minimal: none lies under
// another. They hold the interpreter's prefixes, the directory of every
// shared library the interpreter, its lib-dynload extension modules and
// the extension modules of its site directories (and of each prefix's
// site-packages, a venv's) need (found with debug/elf the way ld.so
// would), the directory of the ELF interpreter (ld.so) and
// /etc/ld.so.cache.
//
// Links holds the symlinks met while resolving the paths the host spells
// (PT_INTERP's /lib64/ld-linux-x86-64.so.2, the library search
// directories, the requested name). Only links outside every bound path
// are listed: a link inside a bound directory arrives with the bind, and a
// sandbox could not create it on a read-only mount anyway. Every key's
// parent directory is a real directory on the host, so creating the parent
// as a plain directory reproduces the host's resolution.
//
// # A userland
//
// ResolveUserland finds a fixed list of host tools (UserlandTools: sh and
// core utilities) the same way, for a sandbox that should let programs
// shell out; Runtime.WithUserland merges its paths and links into a
// Runtime's. Each tool's real file is bound alone, never its directory,
// and a set-uid, set-gid, foreign-owned or group/world-writable file is
// skipped, as is a script whose #! interpreter is not a bound tool.
//
// # Security notes
//
// Resolution runs the interpreter (or shim) on the host, outside any
// sandbox: only resolve interpreters the operator chose, never a path
// supplied by untrusted code. The cache trusts files under cacheDir; keep
// it private (it is created 0700).
package pyrt
