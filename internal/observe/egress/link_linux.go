package egress

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
)

// The link is a SOCK_SEQPACKET unix socket pair between the sandbox init
// and the parent moat process: one JSON object per packet, a connected
// socket attached to a dial answer with SCM_RIGHTS. Packets are whole,
// so concurrent writers never interleave.
type wire struct {
	// init → parent
	Event   *moat.Event `json:"ev,omitempty"`
	MonoNS  int64       `json:"mono,omitempty"` // when the event was seen
	Dial    *Endpoint   `json:"dial,omitempty"`
	Dropped int         `json:"dropped,omitempty"`
	// An event whose packet would pass maxPacket comes without its Data
	// and with Parts: that many packets of Part follow, the Data in order
	// (Link.Event sends them under one lock, so no other event's parts
	// come between).
	Parts int    `json:"parts,omitempty"`
	Part  string `json:"part,omitempty"`
	// both ways
	ID uint64 `json:"id,omitempty"`
	// parent → init
	Err string `json:"err,omitempty"`
}

const maxPacket = 64 << 10

// partSize is the Data one part carries: JSON may spell an escaped
// character in six (\u003c), and 6 × 8 KiB leaves room in maxPacket.
const partSize = 8 << 10

// maxParts bounds the parts of one event (MaxData in partSize pieces).
const maxParts = MaxData/partSize + 1

var errTooLarge = errors.New("link message too large")

// dialTimeout bounds one dial by the parent.
const dialTimeout = 10 * time.Second

// SocketPair returns the two ends of a link: the parent keeps the first,
// the init gets the second.
func SocketPair() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "egress-parent"), os.NewFile(uintptr(fds[1]), "egress-init"), nil
}

func fileConn(f *os.File) (*net.UnixConn, error) {
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	uc, ok := c.(*net.UnixConn)
	if !ok {
		c.Close()
		return nil, errors.New("link is not a unix socket")
	}
	return uc, nil
}

func send(c *net.UnixConn, w *wire, oob []byte) error {
	b, err := json.Marshal(w)
	if err != nil {
		return err
	}
	if len(b) > maxPacket {
		return errTooLarge
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

// Link is the init's end: it sends events and asks for dials. It is safe
// for concurrent use and implements Dialer.
type Link struct {
	c    *net.UnixConn
	evMu sync.Mutex // one event's parts at a time

	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan dialAnswer
}

type dialAnswer struct {
	conn net.Conn
	err  error
}

// NewLink takes over f, the init's end of a SocketPair.
func NewLink(f *os.File) (*Link, error) {
	c, err := fileConn(f)
	if err != nil {
		return nil, err
	}
	l := &Link{c: c, pending: map[uint64]chan dialAnswer{}}
	go l.readLoop()
	return l, nil
}

// Event sends one event to the parent.
func (l *Link) Event(ev moat.Event) {
	l.evMu.Lock()
	defer l.evMu.Unlock()
	mono := monoNow()
	if err := send(l.c, &wire{Event: &ev, MonoNS: mono}, nil); !errors.Is(err, errTooLarge) {
		return
	}
	// Past one packet (a flow's Data is up to MaxData): in parts. Sent
	// whole once, an event over 64 KiB was lost, and the secret in it.
	data := ev.Data
	ev.Data = ""
	parts := (len(data) + partSize - 1) / partSize
	if send(l.c, &wire{Event: &ev, MonoNS: mono, Parts: parts}, nil) != nil {
		return
	}
	for i := 0; i < len(data); i += partSize {
		if send(l.c, &wire{Part: data[i:min(i+partSize, len(data))]}, nil) != nil {
			return
		}
	}
}

// Finish reports how many events the recorder dropped.
func (l *Link) Finish(dropped int) {
	if dropped > 0 {
		_ = send(l.c, &wire{Dropped: dropped}, nil)
	}
}

// Dial asks the parent to connect to host:port; the parent refuses what
// is not on its allow list.
func (l *Link) Dial(host string, port int) (net.Conn, error) {
	ch := make(chan dialAnswer, 1)
	l.mu.Lock()
	l.next++
	id := l.next
	l.pending[id] = ch
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		delete(l.pending, id)
		l.mu.Unlock()
	}()
	if err := send(l.c, &wire{ID: id, Dial: &Endpoint{Host: host, Port: port}}, nil); err != nil {
		return nil, err
	}
	select {
	case a := <-ch:
		return a.conn, a.err
	case <-time.After(dialTimeout + 5*time.Second):
		return nil, errors.New("no answer from moat")
	}
}

func (l *Link) readLoop() {
	buf := make([]byte, maxPacket)
	oob := make([]byte, unix.CmsgSpace(4))
	for {
		n, oobn, _, _, err := l.c.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		var conn net.Conn
		var cerr error
		if oobn > 0 {
			conn, cerr = connFromRights(oob[:oobn])
		}
		var w wire
		if json.Unmarshal(buf[:n], &w) != nil {
			if conn != nil {
				conn.Close()
			}
			continue
		}
		a := dialAnswer{conn: conn, err: cerr}
		if w.Err != "" {
			a.err = errors.New(w.Err)
		} else if a.conn == nil && a.err == nil {
			a.err = errors.New("no socket in the answer")
		}
		l.mu.Lock()
		ch := l.pending[w.ID]
		l.mu.Unlock()
		if ch == nil {
			if a.conn != nil {
				a.conn.Close()
			}
			continue
		}
		ch <- a
	}
}

func connFromRights(oob []byte) (net.Conn, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var conn net.Conn
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if conn != nil {
				unix.Close(fd)
				continue
			}
			f := os.NewFile(uintptr(fd), "upstream")
			c, err := net.FileConn(f)
			f.Close()
			if err != nil {
				return nil, err
			}
			conn = c
		}
	}
	if conn == nil {
		return nil, errors.New("no socket in the answer")
	}
	return conn, nil
}

// Serve is the parent's end of a link: it takes over f, hands every event
// to onEvent with the CLOCK_MONOTONIC time it was seen, and dials for the
// init what cfg allows, checking every request itself. It returns when
// the init's end is closed (the sandbox is gone), with the number of
// events the init dropped.
func Serve(f *os.File, cfg *Config, onEvent func(ev moat.Event, monoNS int64)) (dropped int) {
	c, err := fileConn(f)
	if err != nil {
		return 0
	}
	defer c.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	buf := make([]byte, maxPacket)
	// pending is an event whose Data comes in parts, want of them still.
	var pending *wire
	var data []byte
	want := 0
	defer func() {
		if pending != nil { // the init ended mid-event: what came of it
			pending.Event.Data = string(data)
			onEvent(*pending.Event, pending.MonoNS)
		}
	}()
	for {
		n, _, _, _, err := c.ReadMsgUnix(buf, nil)
		if err != nil || n == 0 {
			return dropped
		}
		var w wire
		if json.Unmarshal(buf[:n], &w) != nil {
			continue
		}
		switch {
		case w.Part != "" && pending != nil:
			data = append(data, w.Part...)
			if want--; want == 0 {
				pending.Event.Data = string(data)
				onEvent(*pending.Event, pending.MonoNS)
				pending, data = nil, nil
			}
		case w.Event != nil && w.Parts > 0 && w.Parts <= maxParts:
			if pending != nil { // parts lost: pass what came
				pending.Event.Data = string(data)
				onEvent(*pending.Event, pending.MonoNS)
			}
			pending, data, want = &w, nil, w.Parts
		case w.Event != nil:
			onEvent(*w.Event, w.MonoNS)
		case w.Dial != nil:
			req, id := *w.Dial, w.ID
			wg.Add(1)
			go func() { defer wg.Done(); answerDial(c, cfg, id, req) }()
		case w.Dropped > 0:
			dropped += w.Dropped
		}
	}
}

// answerDial is where the allow list is enforced: outside the sandbox,
// by the parent, whatever the init asked.
func answerDial(c *net.UnixConn, cfg *Config, id uint64, req Endpoint) {
	if !cfg.Allowed(req.Host, req.Port) {
		_ = send(c, &wire{ID: id, Err: "not on the allow list"}, nil)
		return
	}
	conn, err := net.DialTimeout("tcp", net.JoinHostPort(req.Host, strconv.Itoa(req.Port)), dialTimeout)
	if err != nil {
		_ = send(c, &wire{ID: id, Err: err.Error()}, nil)
		return
	}
	defer conn.Close()
	f, err := conn.(*net.TCPConn).File()
	if err != nil {
		_ = send(c, &wire{ID: id, Err: err.Error()}, nil)
		return
	}
	defer f.Close()
	_ = send(c, &wire{ID: id}, unix.UnixRights(int(f.Fd())))
}

func monoNow() int64 {
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}
