package microvm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/moat-sandbox/moat/internal/observe/audit"
	"github.com/moat-sandbox/moat/internal/observe/egress"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// The channel between moat and its agent in the guest is one byte stream
// (a virtio-serial port): frames of a one-byte kind, a four-byte big-endian
// length and the payload. Everything the guest sends is untrusted: the host
// reads a frame's payload only up to maxGuestFrame and ends the run on
// anything else.
const (
	// host to guest
	frameJob      = 'J' // the Job, JSON
	frameTree     = 'T' // a piece of the workspace's tar stream (treecopy)
	frameTreeEnd  = 't' // the workspace is complete
	frameFile     = 'F' // one of Spec.Files: name, NUL, content
	frameStdin    = 'I' // a piece of stdin
	frameStdinEOF = 'i' // stdin is closed
	frameKill     = 'K' // end the program (a limit), then report as usual

	// guest to host
	frameReady     = 'R' // the agent is up and waits for its job
	frameAccepted  = 'A' // the agent took the job and reseeded the guest
	frameStarted   = 'S' // the program started: its wall clock starts
	frameStdout    = 'O' // a piece of the program's stdout
	frameStderr    = 'E' // a piece of its stderr
	frameExit      = 'X' // how the program ended: an Exit, JSON
	frameOut       = 'U' // a piece of the work directory's tar stream (treecopy)
	frameOutEnd    = 'u' // the work directory is complete
	frameLog       = 'L' // an error of the agent, text
	frameEvents    = 'V' // some of the behaviour report's events, a JSON array
	frameEventsEnd = 'v' // the report is complete: its dropped count, JSON
	framePycs      = 'Y' // a piece of the suspect bytecode, a JSON array of observe.PycPair (before 'v')
	frameDone      = 'D' // the agent is finished
)

// portName is the name of moat's virtio-serial port.
const portName = "moat"

// maxGuestFrame bounds a frame from the guest; maxHostFrame one from the
// host (Spec.Files are sent whole, one frame each).
const (
	maxGuestFrame = 64 << 10
	maxHostFrame  = 64 << 20
	chunkSize     = 32 << 10
)

// errFrame is wrapped by every error about a malformed frame.
var errFrame = errors.New("malformed frame")

// Job is what the agent runs, sent as the first frame.
type Job struct {
	Argv   []string `json:"argv"` // the interpreter first
	Env    []string `json:"env"`
	Memory int64    `json:"memory"`
	Pids   int      `json:"pids"`
	Disk   int64    `json:"disk"`
	CPUs   float64  `json:"cpus,omitempty"`
	Out    bool     `json:"out"` // send /work back after the run
	// Net, if set, is the sinkhole's configuration (network none: nil).
	Net *egress.Config `json:"net,omitempty"`
	// Seed is fresh randomness from the host and NowNS the host's clock
	// (Unix nanoseconds): a guest restored from a snapshot has the
	// snapshot's random pool and clock, shared with every other restore,
	// until the agent mixes Seed in, forces the kernel's CRNG to reseed
	// and sets the clock, before anything of the program runs.
	Seed  []byte `json:"seed"`
	NowNS int64  `json:"now_ns"`
	// Report, if set, is the behaviour report to make in the guest.
	Report *GuestReport `json:"report,omitempty"`
	// Persona is how the guest presents itself to the program.
	Persona Persona `json:"persona"`
}

// Persona is the run's persona (observe.Persona) as the guest shows it:
// its host name (uname, /etc/hostname, /etc/hosts), the user of uid and
// gid sandboxID (/etc/passwd, /etc/group, USER, LOGNAME) and their home
// (/home/USER, HOME).
type Persona struct {
	Host  string `json:"host"`
	User  string `json:"user"`
	Gecos string `json:"gecos"`
	Home  string `json:"home"`
	// Uptime is the uptime the program sees at the job's start: the
	// host's and the persona's more (observe.Persona's Uptime). The
	// guest's kernel booted for the run; the agent starts the program
	// in a time namespace that far ahead of it (package timens).
	Uptime time.Duration `json:"uptime,omitempty"`
}

// check refuses a persona the agent could not write into /etc and /home
// as it is: a name of the usual characters, a home of /home/USER.
func (p Persona) check() error {
	name := func(s string, extra string) bool {
		if s == "" || len(s) > 63 || s[0] == '-' || s[0] == '.' {
			return false
		}
		for _, c := range s {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(extra, c)) {
				return false
			}
		}
		return true
	}
	switch {
	case !name(p.Host, "-."):
		return fmt.Errorf("persona: host name %q", p.Host)
	case !name(p.User, "-_"):
		return fmt.Errorf("persona: user %q", p.User)
	case len(p.Gecos) > 200 || strings.ContainsAny(p.Gecos, ":\n\x00"):
		return fmt.Errorf("persona: full name %q", p.Gecos)
	case p.Home != "/home/"+p.User:
		return fmt.Errorf("persona: home %q, want /home/%s", p.Home, p.User)
	case p.Uptime < 0 || p.Uptime > 10*365*24*time.Hour:
		return fmt.Errorf("persona: uptime %v", p.Uptime)
	}
	return nil
}

// GuestReport is what the agent needs for the behaviour report: the
// honeytokens to plant in the home and the audit hook's bytecode for the
// guest's interpreter (nil: Python compiles the source).
type GuestReport struct {
	Files    map[string]string  `json:"files"`
	Tokens   []honeytoken.Token `json:"tokens"`
	Bytecode *audit.Bytecode    `json:"bytecode,omitempty"`
	// HookInSite says the runtime image runs the hook from a site
	// directory's .pth line: the agent makes only its FIFO, no py/ for
	// PYTHONPATH.
	HookInSite bool `json:"hook_in_site,omitempty"`
	// Tools is the run's directory for the hook's FIFO (audit) and, off
	// the site directory, its module (py/): a temporary directory's
	// name of Python's tempfile shape (observe.Persona's Scratch), drawn
	// per run so that the hook's place is no constant of moat's
	// (checkTools).
	Tools string `json:"tools"`
	// Site is the runtime image's site directory that runs the hook
	// (HookInSite): the agent binds the run's .pth line, which names the
	// run's FIFO, and the RECORD that lists it, over the image's.
	Site string `json:"site,omitempty"`
	// Python and StartupLoader, with an image of the user's (the hook on
	// PYTHONPATH, in py/): the agent binds the image's encodings package
	// (Python's standard library beside Python, its real path in the
	// image) with StartupLoader appended over the image's, and an empty
	// file over its compiled forms, so that interpreters started with -S,
	// -E or -I, which skip PYTHONPATH's sitecustomize, install the hook
	// too (audit.StartupLoaderEnv).
	Python        string `json:"python,omitempty"`
	StartupLoader string `json:"startup_loader,omitempty"`
	// BudgetMS bounds, in milliseconds, each of the agent's walks of the
	// writable directories and the diff's reads (0: observe.FSBudget).
	// Under TCG the guest runs many times slower than the host: a
	// budget of the host's cut the reads of a run's written files on a
	// loaded machine (CI: a secret at the end of a 3 MiB file unread).
	BudgetMS int64 `json:"budget_ms,omitempty"`
}

// checkTools refuses a Tools that is not /tmp/tmp and 8 of tempfile's
// characters: the agent mounts a tmpfs there as root.
func checkTools(p string) error {
	rest, ok := strings.CutPrefix(p, guestTmp+"/tmp")
	if !ok || len(rest) != 8 || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return fmt.Errorf("report: tools directory %q", p)
	}
	return nil
}

// EventsEnd closes the report: how many events the guest counted and did
// not keep.
type EventsEnd struct {
	Dropped int `json:"dropped"`
}

// Ready is the agent's first frame: how long the guest took to get there.
type Ready struct {
	UptimeMS int64 `json:"uptime_ms"` // the guest kernel's uptime
	AgentMS  int64 `json:"agent_ms"`  // of which the agent's setup
}

// Exit is how the program ended, as the agent saw it.
type Exit struct {
	Exited     bool   `json:"exited"`
	Code       int    `json:"code"`
	Signal     int    `json:"signal,omitempty"`
	OOMKills   int64  `json:"oom_kills,omitempty"`
	PidsHits   int64  `json:"pids_hits,omitempty"`
	StartErr   string `json:"start_err,omitempty"`
	StartErrno int    `json:"start_errno,omitempty"`
	PeakMemory int64  `json:"peak_memory,omitempty"`
}

// frameWriter writes frames; it is safe for concurrent use.
type frameWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (fw *frameWriter) write(kind byte, p []byte) error {
	var h [5]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:], uint32(len(p)))
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if _, err := fw.w.Write(h[:]); err != nil {
		return err
	}
	_, err := fw.w.Write(p)
	return err
}

// stream returns a writer that sends what is written as frames of kind,
// at most chunkSize each.
func (fw *frameWriter) stream(kind byte) io.Writer { return chunker{fw, kind} }

type chunker struct {
	fw   *frameWriter
	kind byte
}

func (c chunker) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		k := min(len(p), chunkSize)
		if err := c.fw.write(c.kind, p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
	}
	return n, nil
}

// readFrame reads one frame of at most max bytes of payload into buf
// (grown as needed) and returns its kind and payload.
func readFrame(r io.Reader, buf []byte, max int) (byte, []byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[1:])
	if uint64(n) > uint64(max) {
		return 0, nil, fmt.Errorf("frame %q of %d bytes, over %d: %w", h[0], n, max, errFrame)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, nil, err
	}
	return h[0], buf, nil
}

// clean makes text from the guest printable on one line.
func clean(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c == '\n' || c == '\r':
			b.WriteString(" | ")
		case c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0):
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}
