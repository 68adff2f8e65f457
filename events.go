package moat

// Event is one thing the program did or tried, as seen from outside it.
// Everything in an Event came from the sandbox: strings are bounded and
// control characters escaped before they are stored.
type Event struct {
	TimeMS int64  `json:"t_ms"`            // since the run started
	Phase  string `json:"phase,omitempty"` // the `moat test` phase, if any
	// Source says who observed it: "audit" (Python's audit hooks, which
	// the program can evade with native code), "kernel" (seccomp or the
	// kernel itself: cannot be evaded from inside), "network" (moat's
	// sinkhole or egress proxy) or "fs" (a diff of the filesystem).
	Source string `json:"source"`
	// Kind: open, write, exec, connect, dns, denied, socket (a socket of an
	// address family the sandbox refuses; Name is the family, AF_VSOCK),
	// native-import, file-created, file-changed, file-deleted,
	// honeytoken-read, ...
	Kind   string `json:"kind"`
	PID    int    `json:"pid,omitempty"`
	Path   string `json:"path,omitempty"`
	Addr   string `json:"addr,omitempty"`   // host:port
	Name   string `json:"name,omitempty"`   // DNS name, TLS SNI, HTTP Host, syscall
	Detail string `json:"detail,omitempty"` // bounded
	Data   string `json:"data,omitempty"`   // first bytes sent, bounded
}

// Finding is a conclusion drawn from events: what a security tester would
// flag. Only moat's own analysis creates findings; nothing the program
// prints can.
type Finding struct {
	// Category: credential-access, exfiltration, persistence, execution,
	// network, evasion, resource-abuse.
	Category string `json:"category"`
	// Severity: low, medium, high, critical.
	Severity string  `json:"severity"`
	Summary  string  `json:"summary"`
	Evidence []Event `json:"evidence"`
	Phase    string  `json:"phase,omitempty"`
}
