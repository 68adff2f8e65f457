package seccomp

import (
	"slices"
	"strconv"
)

// Address families. socket(2) and socketpair(2) are allowed only for the
// families a run needs; every other family is refused with EAFNOSUPPORT,
// what a kernel built without it answers, so programs that probe take
// their fallback.
//
// The decision, per network mode (none, sinkhole, allow=...):
//
//   - AF_UNIX, AF_INET, AF_INET6 in every mode. Python itself, its test
//     suites, multiprocessing and asyncio use them on loopback even with no
//     network; the network namespace decides where inet sockets can go.
//   - AF_NETLINK with protocol NETLINK_ROUTE only, in every mode: glibc's
//     getaddrinfo (AI_ADDRCONFIG), if_nameindex and getifaddrs open one,
//     and so do Python's socket.if_nameindex and test suites. It shows the
//     sandbox's own network namespace, where every mode has lo alone (the
//     sinkhole and allow modes add routes and rules on lo, set up by the
//     init before the filter is installed: nothing netlink runs after it),
//     and every change needs CAP_NET_ADMIN, which the program does not
//     hold. The other netlink protocols are kernel surface a program has no
//     use for (sock_diag, audit, uevent, xfrm, netfilter, generic: wifi,
//     devlink, ...) and are refused.
//   - Everything else is refused: AF_VSOCK above all, which network
//     namespaces do not isolate (a port bound inside is taken for the whole
//     machine, and a connect reaches the hypervisor's services on a VM with
//     virtio-vsock), AF_PACKET, AF_ALG (kernel crypto, a history of
//     exploits), AF_XDP, AF_BLUETOOTH, AF_KEY, AF_RDS, AF_TIPC, ...
//   - socketpair(2) only for AF_UNIX, the one family that implements it;
//     for any other the kernel would first run that family's socket
//     constructor.
//
// The kernel takes the family (and the protocol) as int and drops the high
// half of the 64-bit register, so the filter compares the low 32 bits:
// 0x1_00000028 is AF_VSOCK to the kernel, and is refused as such.
//
// Of AF_INET and AF_INET6, only the protocols the network namespace's
// sinkhole or allow list sees and the ping sockets: the default (0), TCP,
// UDP, MPTCP (TCP on the wire), ICMP and ICMPv6. Every other (UDP-Lite,
// SCTP, DCCP, ...) is refused: a datagram of another protocol passes the
// sink's TCP and UDP interception unrecorded, so a secret sent in one
// was no finding (red team, session 19: a UDP-Lite datagram to any
// address, on native, docker and podman; gVisor has no such protocol).
const (
	afUnix    = 1
	afInet    = 2
	afInet6   = 10
	afNetlink = 16
	// netlinkRoute is NETLINK_ROUTE, the only netlink protocol allowed.
	netlinkRoute = 0
)

// inetProtocols are the protocols allowed for AF_INET and AF_INET6.
var inetProtocols = []uint32{0, 6, 17, 262, 1, 58}

// InetProtocols lists the protocols allowed for AF_INET and AF_INET6.
func InetProtocols() []uint32 { return slices.Clone(inetProtocols) }

// FamilyAllowed reports whether the filter lets socket(family, type,
// protocol) through: the same decision as the BPF program, for backends
// that express it in other terms (OCI profiles) and for reports. family
// and protocol are the low 32 bits of the arguments.
func FamilyAllowed(family, protocol uint32) bool {
	switch family {
	case afUnix:
		return true
	case afInet, afInet6:
		return slices.Contains(inetProtocols, protocol)
	case afNetlink:
		return protocol == netlinkRoute
	}
	return false
}

// AllowedFamilies lists the allowed families; AF_NETLINK is allowed with
// NETLINK_ROUTE only.
func AllowedFamilies() []uint32 { return []uint32{afUnix, afInet, afInet6, afNetlink} }

// families names the address families of linux/socket.h.
var families = map[uint32]string{
	0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK",
	6: "AF_NETROM", 7: "AF_BRIDGE", 8: "AF_ATMPVC", 9: "AF_X25", 10: "AF_INET6", 11: "AF_ROSE",
	12: "AF_DECnet", 13: "AF_NETBEUI", 14: "AF_SECURITY", 15: "AF_KEY", 16: "AF_NETLINK",
	17: "AF_PACKET", 18: "AF_ASH", 19: "AF_ECONET", 20: "AF_ATMSVC", 21: "AF_RDS", 22: "AF_SNA",
	23: "AF_IRDA", 24: "AF_PPPOX", 25: "AF_WANPIPE", 26: "AF_LLC", 27: "AF_IB", 28: "AF_MPLS",
	29: "AF_CAN", 30: "AF_TIPC", 31: "AF_BLUETOOTH", 32: "AF_IUCV", 33: "AF_RXRPC", 34: "AF_ISDN",
	35: "AF_PHONET", 36: "AF_IEEE802154", 37: "AF_CAIF", 38: "AF_ALG", 39: "AF_NFC", 40: "AF_VSOCK",
	41: "AF_KCM", 42: "AF_QIPCRTR", 43: "AF_SMC", 44: "AF_XDP", 45: "AF_MCTP",
}

// FamilyName returns the AF_ name of an address family, or "AF_<n>" for a
// number linux/socket.h does not name.
func FamilyName(family uint32) string {
	if n, ok := families[family]; ok {
		return n
	}
	return "AF_" + strconv.FormatUint(uint64(family), 10)
}

// A SocketCall is what a bind or listen opened, for the caller to record.
type SocketCall struct {
	Sockaddr []byte // the address, raw (nil: not seen bound, every address)
	Proto    string // the kernel's name of the socket's protocol: TCP, UDPv6, ...
	Inode    uint64 // the socket's inode
}
