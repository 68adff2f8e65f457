package egress

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

// Dialer connects to an allowed endpoint from outside the sandbox.
type Dialer interface {
	Dial(host string, port int) (net.Conn, error)
}

// Timeouts of the sinkhole: how long it waits for the next bytes of a
// flow, and for a flow in all, before it answers and closes.
const (
	idleTimeout = 1500 * time.Millisecond
	// stagePause is how long the sink waits, after a stage's length,
	// for the client to answer before it sends the rest.
	stagePause  = time.Second
	flowTimeout = 5 * time.Second
	// maxFlows bounds concurrent intercepted connections; more are reset.
	maxFlows = 256
)

// Stack is the running network of one sandbox: resolver, interception
// rules and proxy. It lives in the sandbox init.
type Stack struct {
	cfg  *Config
	rec  *Recorder
	res  *Resolver
	dial Dialer
	ca   *CA // sinkhole: terminates TLS
	// ans: what the sinkhole answers (the metadata service, the
	// client's public address, second stages).
	ans answers
	// socket makes the sockets the stack opens after Start (a DNS
	// reply's, from the address the program asked) in the sandbox's
	// network namespace.
	socket SocketFunc

	closers []io.Closer
	flows   chan struct{}
	wg      sync.WaitGroup

	mu        sync.Mutex
	conns     map[net.Conn]struct{}
	accepting int   // accepted, not yet tracked
	kept      int64 // bytes of requests the flows in progress keep (keep)
}

// CAPEM is the certificate of the CA that terminates the sinkhole's TLS,
// for the sandbox's trust store ([WriteCA]); nil in allow mode.
func (s *Stack) CAPEM() []byte {
	if s.ca == nil {
		return nil
	}
	return s.ca.PEM()
}

// Start brings up the network for cfg in the calling process's network
// namespace, which must be the sandbox's own: the caller needs
// CAP_NET_ADMIN there and lo must be up. d dials allowed endpoints (allow
// mode only; it may be nil for a sinkhole). Events go to rec.
func Start(cfg *Config, rec *Recorder, d Dialer) (*Stack, error) {
	return StartIn(cfg, rec, d, unix.Socket)
}

// SocketFunc makes a socket, as socket(2).
type SocketFunc func(domain, typ, proto int) (fd int, err error)

// StartIn is Start for a caller whose other threads are not in the
// sandbox's network namespace (moat on the host, setting up a container's
// from one thread that entered it): socket makes every socket the stack
// opens later, in that namespace.
func StartIn(cfg *Config, rec *Recorder, d Dialer, socket SocketFunc) (*Stack, error) {
	if cfg.Mode == ModeAllow && d == nil {
		return nil, errors.New("allow mode without a dialer")
	}
	s := &Stack{cfg: cfg, rec: rec, res: NewResolver(cfg, rec), dial: d, socket: socket, flows: make(chan struct{}, maxFlows), conns: map[net.Conn]struct{}{}}
	if cfg.Mode == ModeSinkhole {
		ca, err := NewCA(time.Now())
		if err != nil {
			return nil, err
		}
		s.ca = ca
		md := cmp.Or(cfg.Metadata, honeytoken.NewMetadata())
		// The public address follows the instance: one per moat test.
		s.ans = answers{md: md, pub: NewPublicFor(md.InstanceID), stage2: NewStage2()}
	}
	if err := s.start(); err != nil {
		s.Close(0)
		return nil, err
	}
	return s, nil
}

func (s *Stack) start() error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return err
	}
	if err := addLocalRoute(unix.AF_INET, lo.Index); err != nil {
		return fmt.Errorf("route local 0.0.0.0/0: %w", err)
	}
	// IPv6 is best effort: a kernel booted without it still gets IPv4.
	v6 := addLocalRoute(unix.AF_INET6, lo.Index) == nil

	// The resolver is an ordinary socket on the loopback, which the rules
	// leave alone.
	dnsAddr := net.JoinHostPort(ResolverAddr.String(), "53")
	dnsUDP, err := net.ListenPacket("udp4", dnsAddr)
	if err != nil {
		return fmt.Errorf("resolver: %w", err)
	}
	s.closers = append(s.closers, dnsUDP)
	dnsTCP, err := net.Listen("tcp4", dnsAddr)
	if err != nil {
		return fmt.Errorf("resolver: %w", err)
	}
	s.closers = append(s.closers, dnsTCP)

	var ports interceptPorts
	tcp4, udp4, err := s.transparent("4", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ports.tcp4, ports.udp4 = port(tcp4.Addr()), port(udp4.LocalAddr())
	var tcp6 net.Listener
	var udp6 *net.UDPConn
	if v6 {
		if tcp6, udp6, err = s.transparent("6", "[::1]:0"); err != nil {
			v6 = false // no ::1: IPv6 stays unreachable
		} else {
			ports.tcp6, ports.udp6 = port(tcp6.Addr()), port(udp6.LocalAddr())
		}
	}
	if err := installRules(ports, s.cfg.loopbacks()); err != nil {
		return fmt.Errorf("nftables: %w", err)
	}

	s.goServe(func() { s.serveDNSUDP(dnsUDP.(*net.UDPConn)) })
	s.goServe(func() { s.acceptLoop(dnsTCP, s.serveDNSTCP) })
	s.goServe(func() { s.acceptLoop(tcp4, s.serveTCP) })
	s.goServe(func() { s.serveUDP(udp4) })
	if v6 {
		s.goServe(func() { s.acceptLoop(tcp6, s.serveTCP) })
		s.goServe(func() { s.serveUDP(udp6) })
	}
	return nil
}

func port(a net.Addr) uint16 {
	switch a := a.(type) {
	case *net.TCPAddr:
		return uint16(a.Port)
	case *net.UDPAddr:
		return uint16(a.Port)
	}
	return 0
}

// urgentTCP is a connection of the sinkhole that keeps the urgent bytes
// the client sent (send with MSG_OOB) apart, in order (red team, session
// 22: a secret sent a byte an urgent send, between bytes of padding, was
// never read: the kernel keeps urgent data out of the stream). The
// listener's sockets read it inline (SO_OOBINLINE), where a read stops
// at the urgent mark; SIOCATMARK just before a read says its first byte
// is the urgent one. Only the latest mark is the kernel's: urgent bytes
// sent faster than the sink reads are inline only, as for any server.
// Its other methods (CloseWrite, SetLinger) are the connection's.
type urgentTCP struct {
	*net.TCPConn
	rc     syscall.RawConn
	urgent []byte
}

// newUrgentConn wraps c where it is a TCP connection.
func newUrgentConn(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	return &urgentTCP{TCPConn: tc, rc: rc}
}

// urgentBytes are the urgent bytes c read, where c is newUrgentConn's.
func urgentBytes(c net.Conn) []byte {
	if u, ok := c.(*urgentTCP); ok {
		return u.urgent
	}
	return nil
}

// Read reads as the connection does, with the mark asked once the socket
// is readable, just before the read (asked before the wait, it missed an
// urgent byte that came during it).
func (u *urgentTCP) Read(p []byte) (int, error) {
	if len(u.urgent) >= MaxCapture || len(p) == 0 {
		return u.TCPConn.Read(p)
	}
	var n int
	var rerr error
	mark := false
	err := u.rc.Read(func(fd uintptr) bool {
		v, e := unix.IoctlGetInt(int(fd), unix.SIOCATMARK)
		mark = e == nil && v == 1
		n, rerr = unix.Read(int(fd), p)
		return rerr != unix.EAGAIN
	})
	switch {
	case err != nil:
		return 0, err // a deadline, a closed connection
	case rerr != nil:
		return 0, os.NewSyscallError("read", rerr)
	case n <= 0:
		return 0, io.EOF
	}
	if mark {
		u.urgent = append(u.urgent, p[0])
	}
	return n, nil
}

// WriteTo copies through Read (the connection's own would read past it).
func (u *urgentTCP) WriteTo(w io.Writer) (int64, error) {
	return io.Copy(w, struct{ io.Reader }{u})
}

// transparent opens the TCP listener and UDP socket that the tproxy
// rules steer every flow to.
func (s *Stack) transparent(v, addr string) (net.Listener, *net.UDPConn, error) {
	level, opt, orig := unix.SOL_IP, unix.IP_TRANSPARENT, unix.IP_RECVORIGDSTADDR
	if v == "6" {
		level, opt, orig = unix.SOL_IPV6, unix.IPV6_TRANSPARENT, unix.IPV6_RECVORIGDSTADDR
	}
	lc := net.ListenConfig{Control: func(network, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), level, opt, 1)
			if serr == nil && strings.HasPrefix(network, "tcp") {
				// urgent data inline, for urgentConn (accepted sockets
				// inherit it)
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_OOBINLINE, 1)
			}
			if serr == nil {
				serr = unix.SetsockoptInt(int(fd), level, orig, 1)
				if serr != nil && errors.Is(serr, unix.ENOPROTOOPT) {
					serr = nil // TCP: only the transparent flag matters
				}
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp"+v, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("transparent tcp%s listener: %w", v, err)
	}
	s.closers = append(s.closers, ln)
	pc, err := lc.ListenPacket(context.Background(), "udp"+v, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("transparent udp%s socket: %w", v, err)
	}
	s.closers = append(s.closers, pc)
	return ln, pc.(*net.UDPConn), nil
}

func (s *Stack) goServe(f func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); f() }()
}

// Close ends the stack once the program and every process of the sandbox
// are gone: nothing new can arrive, but flows may still sit in an accept
// queue or a socket buffer, or be accepted and not yet recorded. Close
// lets the serving loops take what is queued (until the queues are empty,
// at most drainCap: they only drain now), then stops accepting and lets
// every flow in progress finish (its peer is dead, so it reads to EOF at
// once; at most wait), and only then cuts what is left and waits for the
// cut flows to record themselves (at most drainCap). No phase spends
// another's time: on a loaded machine the init may not run for most of a
// second, and one shared one-second deadline, spent before the accept
// loop ran, closed the listeners on the queued flows of a program that
// had just exited and lost their events (CI, session 24). Connections
// still queued when the listeners close are counted in an event, never
// lost without a word.
func (s *Stack) Close(wait time.Duration) {
	end := time.Now().Add(drainCap)
	for empty := 0; empty < 2 && time.Now().Before(end); {
		if q, _, _ := s.queued(); q {
			empty = 0
		} else {
			empty++
		}
		time.Sleep(2 * time.Millisecond)
	}
	_, left, dgrams := s.queued()
	for _, c := range s.closers {
		_ = c.Close()
	}
	if left > 0 || dgrams {
		what := fmt.Sprintf("%d connections", left)
		if dgrams {
			what += " and datagrams"
		}
		s.rec.Record(moat.Event{Kind: moat.KindConnect,
			Detail: what + " still queued when the run ended, not read: the machine was too busy to take them in " + drainCap.String()})
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(wait):
	}
	s.mu.Lock()
	for c := range s.conns {
		_ = c.SetDeadline(time.Now())
	}
	s.mu.Unlock()
	select {
	case <-done:
	case <-time.After(drainCap):
	}
}

// drainCap bounds how long Close waits for the queues to empty, and for
// the flows it cut to record themselves: after the program is gone both
// only shrink, so only a busy machine makes either long.
const drainCap = 5 * time.Second

// queued reports whether a listener has connections waiting to be
// accepted, a UDP socket has datagrams waiting to be read, or a
// connection was accepted and not yet tracked; how many connections
// wait in the listeners' queues, and whether datagrams do.
func (s *Stack) queued() (q bool, conns int, dgrams bool) {
	for _, c := range s.closers {
		sc, ok := c.(syscall.Conn)
		if !ok {
			continue
		}
		rc, err := sc.SyscallConn()
		if err != nil {
			continue
		}
		_ = rc.Control(func(fd uintptr) {
			switch c.(type) {
			case *net.TCPListener:
				// For a listener, tcpi_unacked is the accept queue's length.
				if ti, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil && ti.Unacked > 0 {
					q = true
					conns += int(ti.Unacked)
				}
			case *net.UDPConn:
				// A peek, not SIOCINQ: that is the first datagram's
				// length, 0 for an empty one with others behind it.
				var one [1]byte
				if _, _, err := unix.Recvfrom(int(fd), one[:], unix.MSG_PEEK|unix.MSG_DONTWAIT); err == nil {
					q = true
					dgrams = true
				}
			}
		})
	}
	s.mu.Lock()
	if s.accepting > 0 {
		q = true
	}
	s.mu.Unlock()
	return q, conns, dgrams
}

// track adds c to the flows Close may cut. A connection the accept loop
// took is served even when Close has begun: it was queued before the
// listener closed (the program is gone, nothing new comes), and refusing
// it lost a flow that Accept returned in the moment between Close's
// look at the queues and the accept loop's count (accepting).
func (s *Stack) track(c net.Conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = struct{}{}
}

func (s *Stack) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *Stack) acceptLoop(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and the like
			continue
		}
		s.mu.Lock()
		s.accepting++
		s.mu.Unlock()
		s.admit(c, serve)
		s.mu.Lock()
		s.accepting--
		s.mu.Unlock()
	}
}

// admit serves c in its own goroutine, or resets it when too many flows
// are open at once.
func (s *Stack) admit(c net.Conn, serve func(net.Conn)) {
	select {
	case s.flows <- struct{}{}:
	default:
		reset(c)
		s.rec.Record(moat.Event{Kind: "connect", Addr: c.LocalAddr().String(), Detail: "refused tcp: too many connections at once"})
		return
	}
	s.track(c)
	s.wg.Add(1) // the accept loop's own count keeps the group open
	go func() {
		defer s.wg.Done()
		defer func() { <-s.flows }()
		defer s.untrack(c)
		serve(c)
	}()
}

// reset closes c with an RST: the refusal the program sees.
func reset(c net.Conn) {
	if tc, ok := c.(interface{ SetLinger(int) error }); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// serveTCP handles one intercepted connection; its local address is the
// destination the program asked for.
func (s *Stack) serveTCP(c net.Conn) {
	dst := unmapped(c.LocalAddr().(*net.TCPAddr).AddrPort())
	name := s.res.NameOf(dst.Addr())
	ev := moat.Event{Kind: moat.KindConnect, Addr: dst.String(), Name: Escape([]byte(name), maxField)}
	c = newUrgentConn(c)
	defer func() {
		if u := urgentBytes(c); len(u) > 0 {
			s.rec.Record(moat.Event{Kind: moat.KindConnect, Addr: ev.Addr, Name: ev.Name,
				Detail: fmt.Sprintf("tcp: %d bytes of urgent data (MSG_OOB) on the connection, in order", len(u)),
				Data:   Escape(u, MaxData)})
		}
	}()
	var first []byte
	var f flow
	verdict := "sinkholed"
	if s.cfg.Mode == ModeAllow {
		verdict, first = s.relay(c, dst, name)
	} else {
		first, f = s.sink(c, dst, name)
	}
	// One event per request the connection carried (keep-alive): the
	// first describes the connection, each later one its own request.
	for i, x := range f.more {
		e := ev
		if i == 0 {
			describe(&e, verdict, "tcp", first, f)
		} else if f.tls == "decrypted" || f.h2 {
			describe(&e, verdict, "tcp", first, flow{tls: f.tls, clear: x.req, h2: f.h2})
		} else {
			describe(&e, verdict, "tcp", x.req, flow{})
		}
		if i > 0 {
			e.Detail += fmt.Sprintf(" (request %d on the connection)", i+1)
		}
		if x.public {
			e.Detail += " (answered as a public-address service: " + s.ans.pub.IP.String() + ")"
		}
		if x.ws {
			e.Detail += " (a WebSocket upgrade, accepted: its frames follow)"
		}
		s.rec.Record(e)
		s.recordMeta(e, x)
		s.recordStage2(e, x)
	}
	if len(f.more) == 0 {
		describe(&ev, verdict, "tcp", first, f)
		s.rec.Record(ev)
	}
	if f.h2 && len(f.raw) > 0 {
		// The frames as sent, HPACK and all: what the decoded requests
		// leave out (a PING's or GOAWAY's data, padding, an unknown frame).
		s.rec.Record(moat.Event{Kind: moat.KindConnect, Addr: ev.Addr, Name: ev.Name,
			Detail: fmt.Sprintf("%s tcp: the HTTP/2 connection's frames as sent (%d bytes kept)", verdict, len(f.raw)),
			Data:   Escape(f.raw, MaxData)})
	}
	if f.rest > 0 {
		s.rec.Record(moat.Event{Kind: moat.KindConnect, Addr: ev.Addr, Name: ev.Name,
			Detail: fmt.Sprintf("%s tcp: %d more bytes on the connection after its last request moat read (%d requests at most)", verdict, f.rest, maxRequests),
			Data:   Escape(f.tail, MaxData)})
	}
}

// recordMeta records a request for the metadata service.
func (s *Stack) recordMeta(ev moat.Event, x exchange) {
	if !x.meta {
		return
	}
	d := "answered without credentials"
	if x.served != "" {
		d = "served fake instance credentials: " + x.served
	}
	s.rec.Record(moat.Event{Kind: moat.KindMetadata, Addr: ev.Addr, Name: ev.Name, Path: ev.Path, Detail: d})
}

// recordStage2 records that the sink answered a request with the inert
// second stage (Stage2), and its marker: the report looks for the marker
// file the script makes when something runs it.
func (s *Stack) recordStage2(ev moat.Event, x exchange) {
	if x.stage2 == "" {
		return
	}
	s.rec.Record(moat.Event{Kind: moat.KindStage2, Addr: ev.Addr, Name: ev.Name, Path: ev.Path,
		Detail: "served an inert second stage (" + x.form + "), marker " + Stage2Dir + "/" + x.stage2})
}

// flow is what the sink learnt beyond a flow's first bytes.
type flow struct {
	tls   string // "decrypted", or why not
	clear []byte // the first request in clear, from inside TLS
	// more: every HTTP request of the connection, the first included
	// (keep-alive), at most maxRequests.
	more []exchange
	// rest counts the bytes the client sent after the last request moat
	// read; tail keeps the first MaxCapture of them.
	rest int64
	tail []byte
	// h2: the connection spoke HTTP/2 (h2c, or h2 inside TLS); more holds
	// its streams' requests decoded, raw its frames as sent.
	h2  bool
	raw []byte
}

// maxRequests bounds the HTTP requests the sink reads and answers on one
// connection; keepAliveTimeout the connection's life.
const (
	maxRequests      = 64
	keepAliveTimeout = 20 * time.Second
)

// describe fills an event's detail from the verdict and what the first
// bytes say; for a flow the sink decrypted, from the request in clear.
func describe(ev *moat.Event, verdict, proto string, first []byte, f flow) {
	sn := Sniff(first)
	d := verdict + " " + proto
	switch sn.Proto {
	case "http":
		d += " http " + Escape([]byte(sn.Method), 16)
		if sn.Host != "" {
			d += " host=" + Escape([]byte(sn.Host), maxField)
		}
		ev.Path = Escape([]byte(sn.Path), maxField)
	case "h2":
		d += " h2c"
	case "tls":
		d += " tls"
		if sn.SNI != "" {
			d += " sni=" + Escape([]byte(sn.SNI), maxField)
		}
		if f.tls != "" {
			d += " " + f.tls
		}
	}
	host := sn.Host
	if cs := Sniff(f.clear); cs.Proto == "http" {
		scheme := "https"
		if f.tls == "" {
			scheme = "http" // h2c's requests, decoded
		}
		if f.h2 {
			scheme += "/2"
		}
		d += " " + scheme + " " + Escape([]byte(cs.Method), 16)
		if cs.Host != "" {
			d += " host=" + Escape([]byte(cs.Host), maxField)
		}
		ev.Path = Escape([]byte(cs.Path), maxField)
		host = cs.Host
	}
	if ev.Name == "" {
		switch {
		case sn.SNI != "":
			ev.Name = Escape([]byte(sn.SNI), maxField)
		case host != "":
			h := host
			if hh, _, err := net.SplitHostPort(h); err == nil {
				h = hh
			}
			ev.Name = Escape([]byte(h), maxField)
		}
	}
	ev.Detail = d
	switch {
	case len(f.clear) > 0: // what was sent, not the ClientHello
		ev.Data = Escape(f.clear, MaxData)
	case len(first) > 0:
		ev.Data = Escape(first, MaxData)
	}
}

// sink reads what the program sends (bounded in bytes and time), answers
// each HTTP request (the instance metadata service's paths with fake
// credentials, anything else with an empty 200), on one connection as
// long as the client keeps it alive, terminates TLS with a leaf of the
// run's CA and does the same inside, and closes.
func (s *Stack) sink(c net.Conn, dst netip.AddrPort, name string) (first []byte, f flow) {
	defer c.Close()
	first = readRequest(c, nil, time.Now().Add(flowTimeout))
	switch sn := Sniff(first); {
	case len(first) == 0 && s.ans.stage2 != nil:
		// A client that connected and waits for the server to speak: a
		// staged payload's stager waits for its stage (stagerStage).
		// Whatever else waits (a mail or FTP client) reads bytes it
		// does not understand.
		// The length goes alone, the code once the client answers or
		// idles (stagePause): a shell inside the program's own process
		// (exec(s.recv(4096)) in a loop, session 20) fails on the
		// length's NUL bytes, may send its error back, and execs the code
		// it reads next; a stager reads the 4 bytes, then the rest.
		marker, body, _ := s.ans.stage2.payload(formStager)
		staged(c, marker, formStager, body[:4], body[4:], &f)
	case hello(first) && s.ans.stage2 != nil:
		// A client that spoke first, a few bytes of no protocol moat
		// knows, and then waited (readRequest idled out): a staged
		// loader's hello (helloStage). Its compressed code goes alone,
		// the polyglot once the client answers or idles, as for a
		// silent client.
		marker, _, _ := s.ans.stage2.payload(formHello)
		zpart, rest := helloStage(Stage2Dir + "/" + marker)
		staged(c, marker, formHello, zpart, rest, &f)
	case sn.Proto == "http":
		s.serveHTTP(c, dst, first, &f)
	case sn.Proto == "h2":
		s.serveH2(c, dst, first, &f)
	case sn.Proto == "tls" && s.ca != nil:
		tc := tls.Server(&replayConn{Conn: c, pre: first}, &tls.Config{
			MinVersion: tls.VersionTLS12,
			// HTTP/1.1 first: a client that offers both gets the sink's
			// HTTP/1.1; one that insists on HTTP/2 still gets an answer.
			NextProtos: []string{"http/1.1", "h2"},
			GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
				return s.ca.Leaf(cmp.Or(h.ServerName, name, dst.Addr().String()))
			},
		})
		_ = c.SetDeadline(time.Now().Add(flowTimeout))
		if err := tc.Handshake(); err != nil {
			// The client refused the certificate (a pinned key, its own
			// bundle) or spoke something else: the ClientHello is all.
			f.tls = "not decrypted (" + Escape([]byte(err.Error()), 160) + ")"
			return first, f
		}
		_ = c.SetDeadline(time.Time{})
		f.tls = "decrypted"
		f.clear = readRequest(tc, nil, time.Now().Add(flowTimeout))
		switch Sniff(f.clear).Proto {
		case "http":
			s.serveHTTP(tc, dst, f.clear, &f)
		case "h2":
			s.serveH2(tc, dst, f.clear, &f)
		}
	}
	return first, f
}

// serveHTTP answers the request in buf and every later one on c while the
// client keeps the connection alive (or pipelines), up to maxRequests and
// keepAliveTimeout; then it half-closes, and keeps (bounded) what the
// client still sends.
func (s *Stack) serveHTTP(c net.Conn, dst netip.AddrPort, buf []byte, f *flow) {
	end := time.Now().Add(keepAliveTimeout)
	for {
		sn := Sniff(buf)
		req, rest := buf, []byte(nil)
		if sn.Complete && sn.Len > 0 && sn.Len < len(buf) {
			req, rest = buf[:sn.Len], buf[sn.Len:]
		}
		last := len(f.more)+1 >= maxRequests || !sn.Complete || !time.Now().Before(end) || wantsClose(req)
		resp, x := sinkAnswer(s.ans, dst, req)
		if x.ws {
			// Upgraded: no more HTTP on c; the frames that follow, up
			// to the client's pause, are the flow's tail.
			_ = c.SetWriteDeadline(time.Now().Add(idleTimeout))
			_, _ = c.Write(resp)
			x.req = s.keep(req)
			f.more = append(f.more, x)
			tail := &capture{max: MaxCapture, b: rest}
			n := readIdle(c, tail, end)
			f.tail, f.rest = tail.b, int64(len(rest))+n
			return
		}
		if !last {
			resp = keepAlive(resp)
		}
		_ = c.SetWriteDeadline(time.Now().Add(idleTimeout))
		_, _ = c.Write(resp)
		x.req = s.keep(req)
		f.more = append(f.more, x)
		if last {
			f.tail = rest
			break
		}
		buf = readRequest(c, rest, end)
		if len(buf) == 0 {
			return // the client closed, or sent nothing more
		}
		if Sniff(buf).Proto != "http" {
			f.tail = buf
			break
		}
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	// Let the client read the answer before unread bytes turn the close
	// into a reset; what it still sends is counted, its start kept.
	_ = c.SetReadDeadline(time.Now().Add(idleTimeout))
	tail := &capture{max: MaxCapture, b: f.tail}
	n, _ := io.Copy(tail, io.LimitReader(c, 1<<20))
	f.tail, f.rest = tail.b, int64(len(f.tail))+n
}

// keptCut is how much of a request a flow keeps once the stack's budget
// of kept bytes (MaxRunCapture) is spent.
const keptCut = maxField

// keep copies a request that its flow keeps until it ends (up to
// maxRequests of them): whole while the stack's budget of MaxRunCapture
// kept bytes lasts (what the Recorder passes on in all), then its first
// keptCut bytes. The copy is the request's own size: a slice of the read
// buffer would hold all of its MaxCapture bytes. Where the stack runs in
// moat's own process (a container's sinkhole), no cgroup of the run's
// bounds its memory: without the copy and the budget, 256 flows of 64
// pipelined requests held 2 GiB there.
func (s *Stack) keep(req []byte) []byte {
	s.mu.Lock()
	n := int64(len(req))
	if s.kept+n > MaxRunCapture {
		n = min(n, keptCut)
	}
	s.kept += n
	s.mu.Unlock()
	return bytes.Clone(req[:n])
}

// wantsClose reports whether an HTTP request asks the server to close
// after answering: "Connection: close", or HTTP/1.0 without keep-alive.
func wantsClose(req []byte) bool {
	head, _, _ := bytes.Cut(req, []byte("\r\n\r\n"))
	lower := bytes.ToLower(head)
	line, _, _ := bytes.Cut(lower, []byte("\r\n"))
	if hasHeader(lower, "connection", "close") {
		return true
	}
	return bytes.HasSuffix(line, []byte("http/1.0")) && !hasHeader(lower, "connection", "keep-alive")
}

// readRequest reads a request on c after the bytes pre already read,
// until it is whole, the cap, EOF or a timeout (end at the latest).
func readRequest(c net.Conn, pre []byte, end time.Time) []byte {
	buf := make([]byte, 0, MaxCapture)
	buf = append(buf, pre[:min(len(pre), MaxCapture)]...)
	end = minTime(end, time.Now().Add(flowTimeout))
	for len(buf) < cap(buf) && !Sniff(buf).Complete {
		_ = c.SetReadDeadline(minTime(end, time.Now().Add(idleTimeout)))
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
	}
	return buf
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// replayConn is a connection whose first reads return bytes already read
// from it (the ClientHello the sink sniffed).
type replayConn struct {
	net.Conn
	pre []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.pre) > 0 {
		n := copy(p, r.pre)
		r.pre = r.pre[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

// relay asks the parent to dial an allowed destination and splices; it
// resets anything else.
func (s *Stack) relay(c net.Conn, dst netip.AddrPort, name string) (verdict string, first []byte) {
	host := name
	if host == "" {
		host = dst.Addr().String()
	}
	if !s.cfg.Allowed(host, int(dst.Port())) {
		reset(c)
		return "refused", nil
	}
	up, err := s.dial.Dial(host, int(dst.Port()))
	if err != nil {
		reset(c)
		return "refused (dial failed: " + Escape([]byte(err.Error()), maxField) + ")", nil
	}
	s.track(up)
	defer s.untrack(up)
	capw := &capture{max: MaxCapture}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(up, io.TeeReader(c, capw))
		closeWrite(up)
	}()
	_, _ = io.Copy(c, up)
	closeWrite(c)
	wg.Wait()
	c.Close()
	up.Close()
	return "allowed", capw.b
}

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		_ = c.Close()
	}
}

// capture keeps the first max bytes written to it.
type capture struct {
	max int
	b   []byte
}

func (w *capture) Write(p []byte) (int, error) {
	if room := w.max - len(w.b); room > 0 {
		w.b = append(w.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// serveUDP records (and drops) every datagram steered to pc; datagrams to
// port 53 anywhere are answered by the resolver, from the address the
// program asked.
func (s *Stack) serveUDP(pc *net.UDPConn) {
	buf := make([]byte, 64<<10)
	oob := make([]byte, 256)
	for {
		n, oobn, _, src, err := pc.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		dst, ok := origDst(oob[:oobn])
		if !ok {
			continue
		}
		msg := buf[:n]
		if dst.Port() == 53 {
			if resp := s.res.Answer(msg, dst.String()); resp != nil {
				s.replyFrom(dst, src, resp)
			}
			continue
		}
		name := s.res.NameOf(dst.Addr())
		ev := moat.Event{Kind: "connect", Addr: dst.String(), Name: Escape([]byte(name), maxField)}
		verdict := "sinkholed"
		if s.cfg.Mode == ModeAllow {
			verdict = "refused"
		}
		ev.Detail = verdict + " udp " + strconv.Itoa(n) + " bytes"
		ev.Data = Escape(msg[:min(n, MaxCapture)], MaxData)
		s.rec.Record(ev)
	}
}

// origDst reads IP_ORIGDSTADDR or IPV6_ORIGDSTADDR from a datagram's
// control messages.
func origDst(oob []byte) (netip.AddrPort, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return netip.AddrPort{}, false
	}
	for _, m := range msgs {
		d := m.Data
		switch {
		case m.Header.Level == unix.SOL_IP && m.Header.Type == unix.IP_ORIGDSTADDR && len(d) >= 8:
			return netip.AddrPortFrom(netip.AddrFrom4([4]byte(d[4:8])), uint16(d[2])<<8|uint16(d[3])), true
		case m.Header.Level == unix.SOL_IPV6 && m.Header.Type == unix.IPV6_ORIGDSTADDR && len(d) >= 24:
			a := netip.AddrFrom16([16]byte(d[8:24]))
			return unmapped(netip.AddrPortFrom(a, uint16(d[2])<<8|uint16(d[3]))), true
		}
	}
	return netip.AddrPort{}, false
}

// replyFrom sends b to dst from src, an address that is not the socket's
// own: a transparent socket bound to it for the one datagram, its packet
// marked with replyMark so that the rules let it reach the program's
// socket, connected or not.
func (s *Stack) replyFrom(from, to netip.AddrPort, b []byte) {
	fam, level, opt := unix.AF_INET, unix.SOL_IP, unix.IP_TRANSPARENT
	if from.Addr().Is6() {
		fam, level, opt = unix.AF_INET6, unix.SOL_IPV6, unix.IPV6_TRANSPARENT
	}
	fd, err := s.socket(fam, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return
	}
	defer unix.Close(fd)
	_ = unix.SetsockoptInt(fd, level, opt, 1)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEADDR, 1)
	// Unmarked, a reply to an unconnected socket would be steered back
	// to the sink (see installRules): better none than that.
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_MARK, replyMark) != nil {
		return
	}
	if unix.Bind(fd, sockaddr(from)) != nil {
		return
	}
	_ = unix.Sendto(fd, b, unix.MSG_DONTWAIT, sockaddr(unmappedTo(to, from)))
}

func unmappedTo(to, like netip.AddrPort) netip.AddrPort {
	if like.Addr().Is4() {
		return unmapped(to)
	}
	return to
}

func sockaddr(ap netip.AddrPort) unix.Sockaddr {
	if ap.Addr().Is4() {
		return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	}
	return &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16()}
}

func (s *Stack) serveDNSUDP(pc *net.UDPConn) {
	buf := make([]byte, 4096)
	via := pc.LocalAddr().String()
	for {
		n, src, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		if resp := s.res.Answer(buf[:n], via); resp != nil {
			_, _ = pc.WriteToUDPAddrPort(resp, src)
		}
	}
}

// serveDNSTCP answers length-prefixed queries (RFC 1035 §4.2.2).
func (s *Stack) serveDNSTCP(c net.Conn) {
	defer c.Close()
	via := c.LocalAddr().String()
	var lb [2]byte
	for {
		_ = c.SetDeadline(time.Now().Add(flowTimeout))
		if _, err := io.ReadFull(c, lb[:]); err != nil {
			return
		}
		q := make([]byte, int(lb[0])<<8|int(lb[1]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		resp := s.res.Answer(q, via)
		if resp == nil {
			return
		}
		if _, err := c.Write(append([]byte{byte(len(resp) >> 8), byte(len(resp))}, resp...)); err != nil {
			return
		}
	}
}

// EtcFiles are the files WriteResolvConf and WriteCA write, relative to
// /etc: a sandbox whose /etc is bound file by file (gVisor's) binds these.
func EtcFiles() []string { return append([]string{"resolv.conf", "nsswitch.conf"}, caFiles...) }

// resolvConf is what systemd-resolved's stub writes (its address is the
// stub's): a program that reads it sees an ordinary machine, not moat.
var resolvConf = "# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).\n" +
	"# Do not edit.\n#\n" +
	"# This file might be symlinked as /etc/resolv.conf. If you're looking at\n" +
	"# /etc/resolv.conf and seeing this text, you have followed the symlink.\n#\n" +
	"# This is a dynamic resolv.conf file for connecting local clients to the\n" +
	"# internal DNS stub resolver of systemd-resolved. This file lists all\n" +
	"# configured search domains.\n#\n" +
	"# Run \"resolvectl status\" to see details about the uplink DNS servers\n" +
	"# currently in use.\n#\n" +
	"# Third party programs should typically not access this file directly, but only\n" +
	"# through the symlink at /etc/resolv.conf. To manage man:resolv.conf(5) in a\n" +
	"# different way, replace this symlink by a static file or a different symlink.\n#\n" +
	"# See man:systemd-resolved.service(8) for details about the supported modes of\n" +
	"# operation for /etc/resolv.conf.\n\n" +
	"nameserver " + ResolverAddr.String() + "\noptions edns0 trust-ad\nsearch .\n"

// WriteResolvConf points the sandbox's resolver at the init and makes
// /etc/hosts win over DNS, so "localhost" stays the sandbox's own. It
// writes into etc (the sandbox's /etc while its root is still writable)
// and keeps a file that is already there.
func WriteResolvConf(etc string) error {
	files := map[string]string{
		"resolv.conf":   resolvConf,
		"nsswitch.conf": "hosts: files dns\n",
	}
	for name, content := range files {
		p := etc + "/" + name
		if _, err := os.Lstat(p); err == nil {
			continue
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// readIdle copies what the client sends on c into tail until it pauses
// (idleTimeout), closes, or end, at most 1 MiB; it returns the bytes read.
func readIdle(c net.Conn, tail *capture, end time.Time) int64 {
	var n int64
	b := make([]byte, 32<<10)
	for n < 1<<20 && time.Now().Before(end) {
		_ = c.SetReadDeadline(minTime(end, time.Now().Add(idleTimeout)))
		k, err := c.Read(b)
		_, _ = tail.Write(b[:k])
		n += int64(k)
		if err != nil {
			break
		}
	}
	return n
}

// staged serves a staged loader its stage of the given form (marker
// its marker) in two parts (sendInTwo), records the exchange, and lets
// the loader read and run it before the close, keeping (bounded) what it
// still sends as the flow's tail.
func staged(c net.Conn, marker, form, first, rest string, f *flow) {
	tail := &capture{max: MaxCapture}
	n, err := sendInTwo(c, first, rest, tail)
	if err == nil {
		f.more = append(f.more, exchange{stage2: marker, form: form})
		_ = c.SetReadDeadline(time.Now().Add(idleTimeout))
		m, _ := io.Copy(tail, io.LimitReader(c, 1<<20))
		n += m
	}
	f.tail, f.rest = tail.b, n
}

// sendInTwo writes first to c, reads what the client says within
// stagePause into tail (a stager's answer, or nothing), then writes rest:
// a staged loader's two parts. It returns the bytes read.
func sendInTwo(c net.Conn, first, rest string, tail *capture) (int64, error) {
	_ = c.SetWriteDeadline(time.Now().Add(idleTimeout))
	if _, err := io.WriteString(c, first); err != nil {
		return 0, err
	}
	_ = c.SetReadDeadline(time.Now().Add(stagePause))
	b := make([]byte, 4096)
	k, _ := c.Read(b)
	_, _ = tail.Write(b[:k])
	_ = c.SetWriteDeadline(time.Now().Add(idleTimeout))
	_, err := io.WriteString(c, rest)
	return int64(k), err
}
