// Package egress is what a sandbox's network looks like from inside when
// its mode is sinkhole or allow: a resolver that answers every name, a
// transparent proxy that accepts every TCP connection and UDP datagram to
// any address and port, and the record of all of it as moat.Events.
//
// The pieces, from the program's point of view:
//
//   - /etc/resolv.conf names 127.0.0.53, where the sandbox init serves DNS
//     over UDP and TCP. In sinkhole mode every name gets an address of its
//     own from the benchmarking range 198.18.0.0/15 (see [Resolver]), so a
//     connection to that address tells which name the program meant. In
//     allow mode only the names of the allowed endpoints resolve; the rest
//     are NXDOMAIN. AAAA queries get no answer, so clients use IPv4.
//   - A route "local 0.0.0.0/0 dev lo" (and ::/0) makes every address
//     reachable, and an nftables tproxy rule in the sandbox's own network
//     namespace steers every TCP and UDP packet that is not for the
//     sandbox's loopback (127.0.0.0/8, ::1) to the init's listeners. The
//     kernel keeps the original destination as the accepted socket's
//     local address (TCP) or IP_ORIGDSTADDR (UDP): no conntrack lookups.
//   - Sinkhole: a TCP connection is read (at most [MaxCapture] bytes, the whole of most flows),
//     sniffed for a TLS ClientHello's SNI or an HTTP request line and
//     Host, answered harmlessly (HTTP: 200 with an empty body; anything
//     else: closed), and recorded. TLS is terminated with a leaf of the
//     run's [CA] (ca.go), which the sandbox trusts, and the request inside
//     is read, answered and recorded in clear. The instance metadata
//     address ([MetadataAddr]; metadata.google.internal resolves to it) is
//     answered as a cloud instance's, with the run's fake credentials
//     (answer.go), and a [moat.KindMetadata] event says what was served.
//     UDP datagrams are recorded and dropped.
//   - Allow: a connection to an allowed HOST:PORT is dialed by the parent
//     moat process in the host's network namespace, which checks the list
//     itself, and the connected socket is passed back over a unix socket
//     (SCM_RIGHTS) and spliced; everything else is reset and recorded.
//
// Nothing here trusts the program: sizes are bounded, every string taken
// from traffic is escaped ([Escape]), the number of events and of
// concurrent connections is capped, and the parsers are fuzzed.
//
// The sandbox's loopback stays its own in sinkhole mode: 127.0.0.1 inside
// is not the host's 127.0.0.1, and a connection to it never leaves the
// sandbox's network namespace. In allow mode an endpoint on a loopback
// address (allow=127.0.0.1:8080) means the host's: that whole address is
// then intercepted (other ports refused and recorded), and the program's
// own servers can still use the rest of 127.0.0.0/8.
package egress
