package observe

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"strings"
	"time"
)

// Persona is what the sandbox looks like from inside, so that a program
// checking for a sandbox finds an ordinary developer machine or CI
// runner, a different one each run: the host name, the user and their
// home, pid 1's name. Nothing in it says moat or sandbox.
type Persona struct {
	Host  string // host name (uname, /etc/hostname, /etc/hosts)
	User  string // user name (USER, LOGNAME, /etc/passwd)
	Gecos string // the user's full name in /etc/passwd
	Home  string // home directory, /home/USER
	Init  string // pid 1's command name (argv[0], comm)
	// Tools is a directory where moat keeps its own read-only files (the
	// audit hook; the containers' init volume): a path such a machine
	// might have, never named after moat.
	Tools string
	// Scratch is a temporary directory's name of Python's tempfile shape
	// (/tmp/tmpXXXXXXXX), for what moat must keep on /tmp (the
	// containers' hook).
	Scratch string
	// Uptime is how much longer than its host the persona's machine has
	// been up: where moat has a kernel of its own to ask (native's and
	// the micro-VM's time namespace), CLOCK_BOOTTIME and CLOCK_MONOTONIC
	// run this far ahead, so /proc/uptime, /proc/stat's btime and every
	// process's start time show a machine up for hours or days, not a
	// sandbox (or a VM) started for the run. Containers show their host's.
	Uptime time.Duration
}

// The pools a persona is drawn from.
var (
	devUsers = []string{"alex", "sam", "jordan", "taylor", "chris", "dana", "kim", "lee", "max", "robin", "jamie", "pat"}
	devGecos = []string{"Alex Miller", "Sam Carter", "Jordan Lee", "Taylor Brooks", "Chris Novak", "Dana Weiss", "Kim Park", "Lee Chen", "Max Berg", "Robin Hall", "Jamie Cole", "Pat Young"}
	devHosts = []string{"%s-laptop", "%s-thinkpad", "%s-xps", "%s-desktop", "%s-dev", "%s-workstation"}
	ciUsers  = []string{"runner", "builder", "ci", "gitlab-runner", "jenkins", "buildkite-agent", "circleci"}
	// A laptop's program whose pid 1 is alone in its pid namespace (every
	// backend's) runs in a sandbox of the desktop's own: an IDE's Flatpak
	// or a Nix FHS environment, whose pid 1 is bubblewrap (no
	// /.flatpak-info needed for the latter). pid 1 systemd beside two
	// processes is no machine (red team, session 19).
	devInits = []string{"/usr/bin/bwrap", "bwrap"}
	ciInits  = []string{"/bin/sh", "bash", "/usr/bin/dumb-init", "/sbin/tini", "/bin/bash"}
	toolDirs = []string{"/opt/toolcache", "/opt/hostedtoolcache", "/opt/tools", "/opt/devtools", "/opt/buildtools",
		"/usr/local/lib/site-python", "/usr/local/share/python-support", "/opt/ci"}
	// A machine's age beyond its host's: from two hours (a CI runner's
	// VM an hour into its jobs) to three weeks (a laptop between updates).
	minUptime, maxUptime = 2 * time.Hour, 21 * 24 * time.Hour
	hexDigits            = "0123456789abcdef"
	tmpChars             = "abcdefghijklmnopqrstuvwxyz0123456789_"
)

func pick[T any](s []T) T { return pickFrom(rand.Reader, s) }

func pickFrom[T any](r io.Reader, s []T) T {
	n, _ := rand.Int(r, big.NewInt(int64(len(s))))
	return s[n.Int64()]
}

func randomOf(chars string, n int) string { return randomFrom(rand.Reader, chars, n) }

func randomFrom(r io.Reader, chars string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = pickFrom(r, []byte(chars))
	}
	return string(b)
}

// source is where a persona's choices come from: crypto/rand for a
// fresh one; for a key, a ChaCha8 stream seeded with the key's SHA-256,
// so that the runs given one key (the phases of one `moat test`, as on
// one machine) draw the same persona, and a program that never sees the
// key (moat's, drawn at random) cannot tell the next.
func source(key string) io.Reader {
	if key == "" {
		return rand.Reader
	}
	return mrand.NewChaCha8(sha256.Sum256([]byte("moat persona\x00" + key)))
}

// NewPersona draws a fresh persona: half the time a developer's laptop,
// half a CI runner (a container-style host name of 12 hex digits, or a
// cloud one).
func NewPersona() Persona { return NewPersonaFor("") }

// NewPersonaFor is NewPersona drawn from key: the same key, the same
// persona ("" draws a fresh one, as NewPersona).
func NewPersonaFor(key string) Persona {
	r := source(key)
	p := newPersona(r)
	p.Tools, p.Scratch = pickFrom(r, toolDirs), "/tmp/tmp"+randomFrom(r, tmpChars, 8)
	p.Uptime = uptimeFrom(r)
	return p
}

// NewRunnerPersona draws a CI runner's persona only: for a sandbox that
// is a container, whose engine's marks (/.dockerenv, /run/.containerenv,
// pid 1 not an init) a laptop would not have, as a CI job's container has.
func NewRunnerPersona() Persona { return NewRunnerPersonaFor("") }

// NewRunnerPersonaFor is NewRunnerPersona drawn from key, as
// NewPersonaFor.
func NewRunnerPersonaFor(key string) Persona {
	r := source(key)
	p := runnerPersona(r)
	p.Tools, p.Scratch = pickFrom(r, toolDirs), "/tmp/tmp"+randomFrom(r, tmpChars, 8)
	p.Uptime = uptimeFrom(r)
	return p
}

// uptimeFrom draws a persona's Uptime, to the second, after everything
// else a persona has (so a key's other choices are as they were).
func uptimeFrom(r io.Reader) time.Duration {
	n, _ := rand.Int(r, big.NewInt(int64((maxUptime-minUptime)/time.Second)))
	return minUptime + time.Duration(n.Int64())*time.Second
}

func newPersona(r io.Reader) Persona {
	if pickFrom(r, []bool{true, false}) {
		i, _ := rand.Int(r, big.NewInt(int64(len(devUsers))))
		u := devUsers[i.Int64()]
		return Persona{Host: fmt.Sprintf(pickFrom(r, devHosts), u), User: u, Gecos: devGecos[i.Int64()] + ",,,", Home: "/home/" + u, Init: pickFrom(r, devInits)}
	}
	return runnerPersona(r)
}

func runnerPersona(r io.Reader) Persona {
	u := pickFrom(r, ciUsers)
	host := randomFrom(r, hexDigits, 12)
	if pickFrom(r, []bool{true, false}) {
		n, _ := rand.Int(r, big.NewInt(250))
		m, _ := rand.Int(r, big.NewInt(250))
		host = fmt.Sprintf("ip-10-%d-%d-%d", pickFrom(r, []int{0, 1, 2, 3, 16, 32}), n.Int64()+1, m.Int64()+1)
	}
	return Persona{Host: host, User: u, Gecos: u, Home: "/home/" + u, Init: pickFrom(r, ciInits)}
}

// ToolDirs lists every directory a persona's Tools may be.
func ToolDirs() []string { return append([]string(nil), toolDirs...) }

// AvoidPaths draws Tools again until it is none of paths, nor above or
// below one (the runtime's paths bound from the host: moat's files must
// go in the sandbox's own root); past a few tries, a hidden directory of
// /opt named at random.
func (p *Persona) AvoidPaths(paths []string) {
	overlaps := func(dir string) bool {
		for _, b := range paths {
			if b == dir || strings.HasPrefix(b, dir+"/") || strings.HasPrefix(dir, b+"/") {
				return true
			}
		}
		return false
	}
	for i := 0; i < 32 && overlaps(p.Tools); i++ {
		p.Tools = pick(toolDirs)
	}
	for overlaps(p.Tools) {
		p.Tools = "/opt/.cache-" + randomOf(tmpChars, 8)
	}
}

// MachineID is the /etc/machine-id of a persona of host and user: 32
// lower-case hex digits, as systemd writes them, the same for the same
// persona (a machine keeps its id) and another for each other one. A
// machine without one is a tell (red team, session 19).
func MachineID(host, user string) string {
	sum := sha256.Sum256([]byte("machine-id\x00" + host + "\x00" + user))
	return fmt.Sprintf("%x", sum[:16])
}

// Installed is when the system files of a machine up for uptime were
// written (its installation, or its image's build): a day to a year
// before it booted, drawn per call. /etc's passwd, group and machine-id
// carry it as their access and modification times: the files written for
// the run a second ago were a cheap tell (`ls -l /etc`).
func Installed(uptime time.Duration) time.Time {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(364*24*time.Hour/time.Second)))
	return time.Now().Add(-uptime - 24*time.Hour - time.Duration(n.Int64())*time.Second)
}
