package sentry

import (
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// ports follows, through the trace, what Parse needs to say a port was
// opened (ListenSyscalls): each process's descriptors' family and type,
// from socket's returns, and each socket's bound address, from bind's.
// Both are bounded: past maxPorts entries, what is not known fails
// closed (a listen on every address; a bind of unknown type not taken
// for a datagram socket's, its listen still seen).
type ports struct {
	fds   map[[2]int]string // pid, fd -> "AF_INET SOCK_DGRAM|..."
	bound map[string]string // socket:[N] -> host:port, "" for no inet address
}

const maxPorts = 1 << 14

func newPorts() *ports { return &ports{fds: map[[2]int]string{}, bound: map[string]string{}} }

// socket takes a successful socket's return: args "AF_INET, SOCK_DGRAM|SOCK_CLOEXEC, IPPROTO_IP", ret the fd.
func (p *ports) socket(pid int, args, ret string) {
	fd, err := strconv.Atoi(ret)
	if err != nil || len(p.fds) >= maxPorts {
		return
	}
	p.fds[[2]int{pid, fd}] = args
}

// call takes a successful bind's or listen's return (args: its
// arguments) and returns the event of a port it opened, if it did.
func (p *ports) call(pid int, call, args string) (moat.Event, bool) {
	m := sockFD().FindStringSubmatch(args)
	if m == nil {
		return moat.Event{}, false
	}
	fdn, _ := strconv.ParseUint(m[1], 16, 31)
	sock := m[2]
	kind := p.fds[[2]int{pid, int(fdn)}] // "" not known
	ev := moat.Event{Kind: moat.KindListener, Name: call}
	if call == "bind" {
		a := bindAddr().FindStringSubmatch(args)
		if a == nil {
			if len(p.bound) < maxPorts {
				p.bound[sock] = "" // Unix, netlink, ...: no port
			}
			return ev, false
		}
		addr := inetHostPort(a[1], a[2], a[3])
		if len(p.bound) < maxPorts {
			p.bound[sock] = addr
		}
		if a[3] == "0" || !strings.Contains(kind, "SOCK_DGRAM") {
			return ev, false // a client's bind, or a stream socket's before its listen
		}
		ev.Addr = addr
		ev.Detail = audit.Clean("bind of a datagram socket "+sock+" (the Sentry's trace)", 200)
		return ev, true
	}
	addr, seen := p.bound[sock]
	if kind != "" && !strings.HasPrefix(kind, "AF_INET") || seen && addr == "" {
		return ev, false // a Unix socket's listen
	}
	ev.Addr = addr
	ev.Detail = audit.Clean("listen of "+sock+" (the Sentry's trace)", 200)
	if addr == "" {
		ev.Detail += ", not seen bound: the kernel binds it to every address"
	}
	return ev, true
}
