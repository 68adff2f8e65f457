package native

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// InitBinary is the name of the small binary (cmd/moat-init) started as
// the sandbox init in place of this one, when it lies beside this
// executable and its build matches (initBinary). It links the init and
// its network alone: 10 MB against moat's 81, it starts in about half the
// CPU (the runtime's start and the packages initialized before the init
// runs grow with the binary), and every native run starts one.
const InitBinary = "moat-init"

// EnvInitBinary overrides where the init binary is looked for: a path,
// or "self" for this executable always. The handshake still applies.
const EnvInitBinary = "MOAT_INIT"

// highFD is the least descriptor the helper is held open at.
const highFD = 512

// staleSlack is how much older than this executable a helper of a build
// that cannot name its sources may be: `go build -o . ./cmd/moat
// ./cmd/moat-init` writes the two a little apart, in either order.
const staleSlack = 10 * time.Minute

var initBin struct {
	once sync.Once
	f    *os.File // the verified helper, open for exec by /proc/self/fd; nil: self
	path string
	why  string // why not, for the trace
}

// initBinary returns the file the parent execs as the sandbox init: the
// verified moat-init, held open since its check so that the file checked
// is the file run (/proc/self/fd/N), or this executable (/proc/self/exe).
func initBinary() string {
	initBin.once.Do(func() {
		p := os.Getenv(EnvInitBinary)
		if p == "self" {
			initBin.why = EnvInitBinary + "=self"
			return
		}
		if p == "" {
			exe, err := os.Executable()
			if err != nil {
				initBin.why = err.Error()
				return
			}
			p = filepath.Join(filepath.Dir(exe), InitBinary)
		}
		f, err := openInitBinary(p)
		if err != nil {
			initBin.why = err.Error()
			return
		}
		initBin.f, initBin.path = f, p
	})
	if initBin.f == nil {
		slog.Debug("init binary", "backend", "native", "binary", "self", "why", initBin.why)
		return "/proc/self/exe"
	}
	slog.Debug("init binary", "backend", "native", "binary", initBin.path)
	return "/proc/self/fd/" + strconv.Itoa(int(initBin.f.Fd()))
}

// openInitBinary opens the helper at p and checks it: a regular file
// that only its owner can write, owned by root or by this executable's
// owner (whoever could replace it could replace moat), built like this
// binary (sameBuild).
func openInitBinary(p string) (*os.File, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	// High, out of the way: between fork and exec, os/exec moves the
	// child's descriptors up from the number of files it passes, over
	// whatever the parent had there (a low one was overwritten).
	hi, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, highFD)
	unix.Close(fd)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	f := os.NewFile(uintptr(hi), p)
	if err := checkInitBinary(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return f, nil
}

func checkInitBinary(f *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("not a regular file")
	}
	if st.Mode&0o022 != 0 {
		return fmt.Errorf("writable by others (mode %o)", st.Mode&0o7777)
	}
	var self unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &self); err != nil {
		return err
	}
	if st.Uid != 0 && st.Uid != self.Uid {
		return fmt.Errorf("owned by uid %d, not root nor this executable's owner", st.Uid)
	}
	bi, err := buildinfo.Read(f)
	if err != nil {
		return fmt.Errorf("no Go build information: %w", err)
	}
	own, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("this binary has no build information to compare")
	}
	return sameBuild(own, bi, st.Mtim, self.Mtim)
}

// sameBuild is the handshake: the helper must be this module's
// cmd/moat-init, built by the same Go with the same settings (tags,
// flags, GOOS, GOARCH, VCS stamp) and, for every module it links, the
// same version and sum. A release or a clean VCS build names its sources
// exactly (module version and sum, or revision); a build that cannot
// (a modified tree, or no VCS stamp: -buildvcs=false) must also be no
// older than this executable (but for staleSlack): a helper left from an
// earlier build of the tree is refused, not run with a protocol it may
// not speak. That is a heuristic: a helper built later from other
// sources of the same revision would pass.
func sameBuild(own, bi *debug.BuildInfo, helperMtime, ownMtime unix.Timespec) error {
	if bi.GoVersion != own.GoVersion {
		return fmt.Errorf("built by %s, not %s", bi.GoVersion, own.GoVersion)
	}
	if bi.Path != own.Main.Path+"/cmd/"+InitBinary || bi.Main.Path != own.Main.Path {
		return fmt.Errorf("it is %s, not %s/cmd/%s", bi.Path, own.Main.Path, InitBinary)
	}
	if bi.Main.Version != own.Main.Version || bi.Main.Sum != own.Main.Sum {
		return fmt.Errorf("version %s %s, not %s %s", bi.Main.Version, bi.Main.Sum, own.Main.Version, own.Main.Sum)
	}
	mods := make(map[string]*debug.Module, len(own.Deps))
	for _, m := range own.Deps {
		mods[m.Path] = m
	}
	for _, m := range bi.Deps {
		o := mods[m.Path]
		if o == nil || o.Version != m.Version || o.Sum != m.Sum || (o.Replace == nil) != (m.Replace == nil) ||
			(o.Replace != nil && (o.Replace.Path != m.Replace.Path || o.Replace.Version != m.Replace.Version || o.Replace.Sum != m.Replace.Sum)) {
			return fmt.Errorf("module %s %s differs from this binary's", m.Path, m.Version)
		}
	}
	settings := func(b *debug.BuildInfo) map[string]string {
		s := make(map[string]string, len(b.Settings))
		for _, kv := range b.Settings {
			s[kv.Key] = kv.Value
		}
		return s
	}
	a, b := settings(own), settings(bi)
	for k, v := range a {
		if b[k] != v {
			return fmt.Errorf("build setting %s is %q, not %q", k, b[k], v)
		}
	}
	for k, v := range b {
		if _, ok := a[k]; !ok {
			return fmt.Errorf("build setting %s=%q that this binary lacks", k, v)
		}
	}
	exact := (own.Main.Version != "" && own.Main.Version != "(devel)" && own.Main.Sum != "") ||
		(a["vcs.revision"] != "" && a["vcs.modified"] == "false")
	if !exact && helperMtime.Nano() < ownMtime.Nano()-int64(staleSlack) {
		return errors.New("older than this executable, and neither names its sources exactly (a modified tree or no VCS stamp): a helper of an earlier build")
	}
	return nil
}
