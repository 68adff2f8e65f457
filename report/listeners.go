package report

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/moat-sandbox/moat"
)

// listeners: ports the run opened for others to reach (kind listener: a
// stream socket's listen, a datagram socket's bind to a port, the
// kernel's; a bind to an address other than loopback, the hook's). A
// listening port on an address other than loopback is what a bind shell
// or a backdoor needs, and a test suite's server does not: medium; on a
// port the kernel chose (port 0 bound), which a caller must learn from
// the program, as a suite's server on "::" does: low. One on loopback
// (pytest-httpserver, a local test server) reaches nothing outside:
// nothing. A listen of a socket not seen bound is on every address and
// a port nobody named, and medium all the same: its bind may have been
// hidden (fail closed). The kernel's word decides where the run has a kernel
// witness of listens; where it has none (kernel-events-unavailable, or a
// gVisor --image runtime registered to trace no bind and listen) the
// hook's binds are the evidence, said as the program's claim. A shell or interpreter
// started on the accepted connection is the bind shell (commands).
func (a *analysis) listeners() {
	noKernel := a.hookListens()
	var evs, ephemeral []moat.Event
	var addrs, ephAddrs []string
	for _, e := range a.evs {
		if e.Kind != moat.KindListener || !exposed(e.Addr) {
			continue
		}
		switch {
		case e.Source == moat.SourceKernel:
		case e.Source == moat.SourceAudit && noKernel:
		default:
			continue
		}
		if e.Addr != "" && port(e.Addr) == 0 {
			// a port the kernel chose, which a caller must learn from
			// the program (getsockname): a test suite's server on
			// every address (benign/dual_stack.py)
			ephemeral = append(ephemeral, e)
			ephAddrs = append(ephAddrs, listenAddr(e))
			continue
		}
		evs = append(evs, e)
		addrs = append(addrs, listenAddr(e))
	}
	if len(evs) > 0 {
		a.add(moat.CategoryNetwork, moat.SeverityMedium, "opened a listening port (a bind shell's or a backdoor's, reachable from other machines): "+joinBounded(uniq(addrs), 5), evs)
	}
	if len(ephemeral) > 0 {
		a.add(moat.CategoryNetwork, moat.SeverityLow, "opened a listening port the kernel chose on every address or an interface (as a test suite's server does): "+joinBounded(uniq(ephAddrs), 5), ephemeral)
	}
}

// hookListens: the run has no kernel witness of the ports opened
// (kernel-events-unavailable, or a gVisor --image runtime registered to
// trace no bind and listen), so the hook's binds are the evidence. Where
// the kernel witnesses listens, a bind the hook saw is only a bind asked
// for: one that failed (a source address the machine does not have), a
// client's source address, a socket never listened on. The kernel's
// listen, or a UDP bind to a port, is the port opened; an exposed one is
// kept past the kernel's budget (kbudget.Interest).
func (a *analysis) hookListens() bool {
	if a.hookPorts == nil {
		v := slices.ContainsFunc(a.evs, func(e moat.Event) bool {
			return e.Source == moat.SourceMoat && (e.Kind == moat.KindKernelEventsUnavailable ||
				e.Kind == moat.KindTrace && e.Name == "listens-unseen") // gVisor --image registered to trace no bind, listen (backend/docker)
		})
		a.hookPorts = &v
	}
	return *a.hookPorts
}

// exposed: a listener's address is not loopback. The unspecified
// address (0.0.0.0, ::) is every address, and none ("" : a socket not
// seen bound, which the kernel binds to every address) is too.
func exposed(hostport string) bool {
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return hostport == "" || !loopback(hostport)
	}
	return !ap.Addr().IsLoopback()
}

// listenAddr names a listener: its address and what opened it.
func listenAddr(e moat.Event) string {
	addr := e.Addr
	if addr == "" {
		addr = "every address"
	}
	return fmt.Sprintf("%s (%s, pid %d)", addr, firstNonEmpty(e.Name, "bind"), e.PID)
}

// listensBefore lists the ports e's process, or its parents, opened
// (exposed or not) before e ran: a shell whose stdio is a socket after
// them sits on an accepted connection, a bind shell. The kernel's word
// where it witnesses listens; the hook's binds only where it does not
// (hookListens): a suite's client bound to a source address it does not
// have (tornado's test_source_ip_fail, 8.8.8.8 port 0, EADDRNOTAVAIL),
// then piping code to a child interpreter, opened no port.
func (a *analysis) listensBefore(e moat.Event) []moat.Event {
	var out []moat.Event
	for _, l := range a.evs {
		if l.TimeMS > e.TimeMS || len(out) >= maxConnectsJudged {
			break
		}
		if l.Kind != moat.KindListener || (l.Source != moat.SourceKernel && (l.Source != moat.SourceAudit || !a.hookListens())) {
			continue
		}
		if l.PID == e.PID || slices.Contains(ancestors(e, 2), l.PID) {
			out = append(out, l)
		}
	}
	return out
}

// lastListen is the last of ls that is a listen (the kernel's, then
// any), else the last: the port whose accepted connection a shell after
// them most likely sits on.
func lastListen(ls []moat.Event) moat.Event {
	for _, src := range []moat.Source{moat.SourceKernel, ""} {
		for i := len(ls) - 1; i >= 0; i-- {
			if ls[i].Name == "listen" && (src == "" || ls[i].Source == src) {
				return ls[i]
			}
		}
	}
	return ls[len(ls)-1]
}
