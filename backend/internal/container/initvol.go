package container

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
)

// The init volume. Each engine gets one volume per build of moat (InitFor
// names it), holding nothing but this binary (read-only to everyone) as
// ctrinit.Bin; every container mounts it read-only at its persona's tools
// directory and runs it from there as its init (Entrypoint). It is an engine-managed volume, not a host
// path: the container sees no file of the host but moat's own, public
// code. `moat gc` removes the volumes of other builds.
//
// Filling a volume takes a second or so, once per engine and build; a
// stamp in moat's cache (Provisioned) says it was done, so a run costs
// nothing for it. A stamp can outlive its volume (`docker volume prune`):
// the engine then creates an empty volume at the run's start, the init is
// not found, and the backend fills it and runs again (InitMissing).

// InitLabel marks init volumes, with the binary's hash as the value.
const InitLabel = "moat.init"

// InitVolumePrefix begins an init volume's name, then 20 hex digits of the
// binary's hash. The program sees the name (the volume's host path in
// /proc/self/mountinfo): nothing in it says moat.
const InitVolumePrefix = "toolcache-"

// InitEnv, set to "python", makes the backends use bootstrap.py instead of
// moat's init (the way for engines of another OS or architecture, and for
// testing it here).
const InitEnv = "MOAT_CONTAINER_INIT"

// InitFor returns the init volume for containers on an engine of goos and
// arch (as Go spells them; "" for the host's own), or "" when they run
// bootstrap.py: the engine runs another OS or architecture, this binary is
// not static (built with cgo: it would need the image's libc), or
// MOAT_CONTAINER_INIT=python.
func InitFor(goos, arch string) (string, error) {
	if os.Getenv(InitEnv) == "python" || runtime.GOOS != "linux" ||
		goos != "" && goos != "linux" || arch != "" && arch != runtime.GOARCH {
		return "", nil
	}
	v, err := initVolume()
	if errors.Is(err, errNotStatic) {
		return "", nil
	}
	return v, err
}

var errNotStatic = errors.New("not a static binary")

// DescribeInit says, for `moat backends`, which init the containers of an
// engine of goos and arch run (python: the backend was told to run
// bootstrap.py).
func DescribeInit(python bool, goos, arch string) string {
	if python {
		return "init: bootstrap.py (as configured)"
	}
	v, err := InitFor(goos, arch)
	switch {
	case err != nil:
		return "init: " + err.Error()
	case v == "":
		return "init: bootstrap.py by the image's python3 (the engine cannot run this moat binary, or " + InitEnv + "=python)"
	}
	return "init: moat's own, from the read-only volume " + v
}

// static says whether the ELF file f has no program interpreter.
func static(f *os.File) bool {
	e, err := elf.NewFile(f)
	if err != nil {
		return false
	}
	for _, p := range e.Progs {
		if p.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}

// GoArch maps an engine's architecture (uname -m: "x86_64", "aarch64") to
// Go's name for it.
func GoArch(machine string) string {
	switch machine {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i386", "i686":
		return "386"
	case "armv7l", "armhf":
		return "arm"
	}
	return machine
}

var initVolume = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("init volume: %w", err)
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return "", fmt.Errorf("init volume: %w", err)
	}
	// Hashing the binary takes tens of ms: once per binary, cached by the
	// file's identity.
	key := fmt.Sprintf("exe-%d-%d", fi.Size(), fi.ModTime().UnixNano())
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key += fmt.Sprintf("-%d-%d", st.Dev, st.Ino)
	}
	dir := stampDir()
	if dir != "" {
		if b, err := os.ReadFile(filepath.Join(dir, key)); err == nil && validVolume(string(b)) {
			return string(b), nil
		}
	}
	f, err := os.Open(exe)
	if err != nil {
		return "", fmt.Errorf("init volume: %w", err)
	}
	defer f.Close()
	if !static(f) {
		return "", errNotStatic
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return "", fmt.Errorf("init volume: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("init volume: %w", err)
	}
	name := InitVolumePrefix + hex.EncodeToString(h.Sum(nil))[:20]
	if dir != "" {
		_ = writeStamp(filepath.Join(dir, key), name)
	}
	return name, nil
})

func validVolume(s string) bool {
	return strings.HasPrefix(s, InitVolumePrefix) && len(s) == len(InitVolumePrefix)+20 && !strings.ContainsAny(s, "/\n\x00 ")
}

// InitTar is the volume's content as a tar stream: this binary as ctrinit.Bin,
// mode 0555.
func InitTar() (io.Reader, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: filepath.Base(ctrinit.Path), Mode: 0o555, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(b); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// CheckInitTar checks an init volume's content, as a tar stream (of the
// volume, or of its mount point's directory): this binary as ctrinit.Bin and
// nothing else. A volume is filled empty (NoCopy: an image's own /.moat is
// never copied in) and checked once after, before any run uses it.
func CheckInitTar(r io.Reader) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	f, err := os.Open(exe)
	if err != nil {
		return err
	}
	defer f.Close()
	want := sha256.New()
	size, err := io.Copy(want, f)
	if err != nil {
		return err
	}
	tr := tar.NewReader(r)
	found := false
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("init volume: read its content: %w", err)
		}
		name := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), strings.TrimPrefix(ctrinit.Dir, "/")+"/"), "./")
		name = strings.TrimSuffix(name, "/")
		switch {
		case h.Typeflag == tar.TypeDir && (name == "" || name == "." || name == strings.TrimPrefix(ctrinit.Dir, "/")):
		case name == filepath.Base(ctrinit.Path) && h.Typeflag == tar.TypeReg && h.Size == size && !found:
			got := sha256.New()
			if _, err := io.Copy(got, tr); err != nil {
				return fmt.Errorf("init volume: read its content: %w", err)
			}
			if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
				return errors.New("init volume: its moat is not this binary")
			}
			found = true
		default:
			return fmt.Errorf("init volume: holds %q besides moat", h.Name)
		}
	}
	if !found {
		return errors.New("init volume: no moat binary in it")
	}
	return nil
}

func stampDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "moat", "init")
}

func writeStamp(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d", path, os.Getpid())
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// stampName is where the stamp of volume on engine (a name of the engine
// and of who runs it, e.g. "docker-ID" or "podman-root") lives; "" when
// there is no cache directory (no HOME).
func stampName(engine, volume string) string {
	if stampDir() == "" {
		return ""
	}
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, engine)
	return filepath.Join(stampDir(), "vol-"+clean+"-"+volume)
}

// Provisioner fills init volumes of one engine.
type Provisioner struct {
	// Engine names the engine and who runs it, for the stamp.
	Engine string
	// Fill (re)creates the volume named by its argument with InitTar's
	// content, labelled InitLabel; it replaces an empty or partial one,
	// but leaves one that a container uses alone (it is filled: a run
	// started with it).
	Fill func(volume string) error
}

// Ensure fills the volume unless its stamp says it is done. Several moat
// processes fill it once: the first takes a lock, the others wait on it
// and then find the stamp. A non-zero stale says the volume failed a run
// that started then: a stamp from before it is not believed.
func (p *Provisioner) Ensure(volume string, stale time.Time) error {
	stamp := stampName(p.Engine, volume)
	if stamp == "" {
		// No cache: believe the volume is filled until a run finds it
		// empty.
		if stale.IsZero() {
			return nil
		}
		return p.Fill(volume)
	}
	fresh := func() bool {
		fi, err := os.Stat(stamp)
		return err == nil && (stale.IsZero() || fi.ModTime().After(stale))
	}
	if fresh() {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(stamp), 0o700); err != nil {
		return fmt.Errorf("init volume: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(filepath.Dir(stamp), ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("init volume: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("init volume: lock: %w", err)
	}
	if fresh() {
		return nil // another moat filled it meanwhile
	}
	_ = os.Remove(stamp)
	if err := p.Fill(volume); err != nil {
		return fmt.Errorf("init volume %s: %w", volume, err)
	}
	return writeStamp(stamp, volume)
}

// InitMissing says whether an engine's error (or the container's stderr)
// says the init binary was not found: the volume is gone or empty.
func InitMissing(msg string) bool {
	return strings.Contains(msg, "/"+ctrinit.Bin) && (strings.Contains(msg, "no such file") || strings.Contains(msg, "not found"))
}
