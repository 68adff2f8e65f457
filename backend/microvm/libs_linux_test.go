package microvm

import (
	"debug/elf"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/sandbox/pyrt"
)

// debianPython is the distribution's interpreter, whose dist-packages hold
// Debian's python3-* extension modules (CI installs python3-paramiko, and
// with it python3-nacl: nacl's _sodium needs libsodium, which Python does
// not).
func debianPython(t *testing.T) *pyrt.Runtime {
	t.Helper()
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("no /usr/bin/python3")
	}
	rt, err := pyrt.Resolve("/usr/bin/python3", "/usr/bin:/bin", "")
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// TestStagedLibrariesSatisfied: in the runtime image of the host's Debian
// Python with its site directories (as `moat test` builds it), every ELF
// file's DT_NEEDED is satisfied inside the image, each soname looked up as
// the guest's loader would (RPATH/RUNPATH with $ORIGIN, the ld.so.conf
// directories, the built-in ones), every link resolved inside the image.
// A soname the host cannot satisfy either is not counted.
func TestStagedLibrariesSatisfied(t *testing.T) {
	rt := debianPython(t)
	root := t.TempDir()
	if err := stageRuntime(root, rt, true, nil); err != nil {
		t.Fatal(err)
	}
	search := append(hostConfDirs(t), "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib")
	if runtime.GOARCH != "amd64" {
		t.Skip("the search directories here are amd64's")
	}
	objects, unmet := 0, 0
	sodium := false
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		f, err := elf.Open(p)
		if err != nil {
			return nil
		}
		defer f.Close()
		if f.Machine != elf.EM_X86_64 {
			return nil
		}
		objects++
		guest := strings.TrimPrefix(p, root)
		origin := filepath.Dir(guest)
		needed, _ := f.DynString(elf.DT_NEEDED)
		var dirs []string
		for _, tag := range []elf.DynTag{elf.DT_RPATH, elf.DT_RUNPATH} {
			v, _ := f.DynString(tag)
			for _, s := range v {
				for d := range strings.SplitSeq(s, ":") {
					d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
					if filepath.IsAbs(d) {
						dirs = append(dirs, d)
					}
				}
			}
		}
		dirs = append(dirs, search...)
		for _, so := range needed {
			if strings.HasPrefix(guest, "/usr/lib/python3/dist-packages/nacl/") && so == "libsodium.so.23" {
				sodium = true
			}
			if found(root, so, dirs) || !found("/", so, dirs) {
				continue
			}
			unmet++
			if unmet <= 20 {
				t.Errorf("%s needs %s: not in the image", guest, so)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if unmet > 0 {
		t.Fatalf("%d needs unmet in %d ELF files", unmet, objects)
	}
	t.Logf("%d ELF files, every DT_NEEDED met (nacl's libsodium among them: %v)", objects, sodium)
}

// found reports whether soname is a regular file in one of dirs below
// root, every link resolved inside root.
func found(root, soname string, dirs []string) bool {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer unix.Close(rfd)
	for _, d := range dirs {
		fd, err := unix.Openat2(rfd, filepath.Join(d, soname), &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
		if err != nil {
			continue
		}
		var st unix.Stat_t
		err = unix.Fstat(fd, &st)
		unix.Close(fd)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFREG {
			return true
		}
	}
	return false
}

// hostConfDirs are the directories of /etc/ld.so.conf.d's files (Debian's
// ld.so.conf includes them all, and nothing else).
func hostConfDirs(t *testing.T) []string {
	confs, _ := filepath.Glob("/etc/ld.so.conf.d/*.conf")
	var out []string
	for _, c := range confs {
		b, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			if line = strings.TrimSpace(line); strings.HasPrefix(line, "/") {
				out = append(out, line)
			}
		}
	}
	return out
}

// TestStageLibrariesCap: an extension module's libraries are added to the
// image (nacl's _sodium, libsodium), and more of them than the cap is an
// error that says so, with nothing added.
func TestStageLibrariesCap(t *testing.T) {
	rt := debianPython(t)
	const module = "/usr/lib/python3/dist-packages/nacl/_sodium.abi3.so"
	if _, err := os.Stat(module); err != nil {
		t.Skip("no python3-nacl (CI has it with python3-paramiko)")
	}
	stageModule := func() (*stage, string) {
		root := t.TempDir()
		s := &stage{root: root, seen: map[string]bool{}}
		if err := hostFile(s, module, 0); err != nil {
			t.Fatal(err)
		}
		return s, root
	}
	s, root := stageModule()
	err := stageLibraries(s, rt, 1)
	if err == nil || !strings.Contains(err.Error(), "over the cap of 0 MiB") {
		t.Errorf("a cap of one byte: %v", err)
	}
	if found(root, "libsodium.so.23", []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"}) {
		t.Errorf("libsodium staged although over the cap")
	}
	s, root = stageModule()
	if err := stageLibraries(s, rt, maxStagedLibraries); err != nil {
		t.Fatal(err)
	}
	if !found(root, "libsodium.so.23", []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu"}) {
		t.Errorf("libsodium.so.23 not staged for %s", module)
	}
}
