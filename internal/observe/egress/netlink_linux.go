package egress

import (
	"encoding/binary"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// addLocalRoute adds "local 0.0.0.0/0 dev lo" (or ::/0) to the local
// table: every address is then reachable and delivered on the loopback,
// where the tproxy rules see it in prerouting. Without it a connect to an
// unrouted address fails with ENETUNREACH before any rule runs.
func addLocalRoute(family, loIndex int) error {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	// struct rtmsg: family, dst_len, src_len, tos, table, protocol,
	// scope, type, flags(u32).
	rtm := []byte{byte(family), 0, 0, 0, unix.RT_TABLE_LOCAL, unix.RTPROT_STATIC, unix.RT_SCOPE_HOST, unix.RTN_LOCAL, 0, 0, 0, 0}
	ae := netlink.NewAttributeEncoder()
	ae.Uint32(unix.RTA_OIF, uint32(loIndex))
	ae.Uint32(unix.RTA_TABLE, unix.RT_TABLE_LOCAL)
	attrs, err := ae.Encode()
	if err != nil {
		return err
	}
	_, err = c.Execute(netlink.Message{
		Header: netlink.Header{Type: unix.RTM_NEWROUTE, Flags: netlink.Request | netlink.Create | netlink.Excl | netlink.Acknowledge},
		Data:   append(rtm, attrs...),
	})
	return err
}

// replyMark marks the packets of the sink's own replies (SO_MARK), which
// the rules let through to the program. Setting a mark takes
// CAP_NET_ADMIN in the sandbox's network namespace, which the program
// lacks (with it, it could as well remove the rules): it cannot dress
// its own packets as replies to slip past the sink.
const replyMark = 0x6d6f6174 // "moat"

// interceptPorts are the ports of the transparent sockets; 0 means the
// family is not intercepted.
type interceptPorts struct{ tcp4, udp4, tcp6, udp6 uint16 }

// installRules adds, in the sandbox's network namespace, the one table
//
//	table inet moat { chain intercept { type filter hook prerouting priority mangle;
//	    meta mark <replyMark> accept
//	    ip daddr <each allowed loopback> meta l4proto {tcp,udp} tproxy ip to :P
//	    ip daddr 127.0.0.0/8 accept ; ip6 daddr ::1 accept
//	    meta l4proto {tcp,udp} tproxy ip to :P ; (and ip6) } }
//
// tproxy delivers a flow's first packet to the listener on P and keeps
// its destination as the socket's local address; later packets of the
// flow find their (transparent) socket first. Replies to the program
// match the program's own, non-transparent socket and pass untouched
// when that socket is connected; tproxy finds no other (an unconnected
// socket is no "established" one), so a reply the sink sends itself, to
// an unconnected socket (sendto, then recv), carries replyMark and is let
// through by the first rule instead of being steered back to the sink.
func installRules(p interceptPorts, loopbacks []netip.Addr) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyINet, Name: "moat"})
	accept := nftables.ChainPolicyAccept
	ch := c.AddChain(&nftables.Chain{Name: "intercept", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityMangle, Policy: &accept})
	rule := func(e ...expr.Any) { c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: e}) }
	rule(&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binary.NativeEndian.AppendUint32(nil, replyMark)},
		&expr.Verdict{Kind: expr.VerdictAccept})

	type fam struct {
		nfproto       byte
		off, len      uint32
		tcp, udp      uint16
		loNet, loMask []byte
	}
	fams := []fam{{unix.NFPROTO_IPV4, 16, 4, p.tcp4, p.udp4, []byte{127, 0, 0, 0}, []byte{255, 0, 0, 0}}}
	if p.tcp6 != 0 {
		one := netip.IPv6Loopback().As16()
		ones := make([]byte, 16)
		for i := range ones {
			ones[i] = 0xff
		}
		fams = append(fams, fam{unix.NFPROTO_IPV6, 24, 16, p.tcp6, p.udp6, one[:], ones})
	}
	for _, f := range fams {
		isFam := []expr.Any{
			&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{f.nfproto}},
		}
		daddr := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: f.off, Len: f.len}
		tproxy := func(pre []expr.Any) {
			for _, pp := range []struct {
				proto byte
				port  uint16
			}{{unix.IPPROTO_TCP, f.tcp}, {unix.IPPROTO_UDP, f.udp}} {
				e := append(append([]expr.Any{}, pre...),
					&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{pp.proto}},
					&expr.Immediate{Register: 1, Data: binary.BigEndian.AppendUint16(nil, pp.port)},
					&expr.TProxy{Family: f.nfproto, TableFamily: byte(nftables.TableFamilyINet), RegPort: 1},
				)
				rule(e...)
			}
		}
		for _, a := range loopbacks {
			if (f.nfproto == unix.NFPROTO_IPV4) != a.Is4() {
				continue
			}
			tproxy(append(append([]expr.Any{}, isFam...), daddr, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()}))
		}
		rule(append(append([]expr.Any{}, isFam...), daddr,
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: f.len, Mask: f.loMask, Xor: make([]byte, f.len)},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: f.loNet},
			&expr.Verdict{Kind: expr.VerdictAccept})...)
		tproxy(isFam)
	}
	return c.Flush()
}
