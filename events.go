package moat

// Event is one thing the program did or tried, as seen from outside it.
// Everything in an Event came from the sandbox: strings are bounded and
// control characters escaped before they are stored.
type Event struct {
	TimeMS int64  `json:"t_ms"`            // since the run started
	Phase  string `json:"phase,omitempty"` // the `moat test` phase, if any
	// Source says who observed it; see [Source].
	Source Source `json:"source"`
	// Kind says what happened; see [Kind].
	Kind Kind `json:"kind"`
	PID  int  `json:"pid,omitempty"`
	// PPID is the parent's pid, and Ancestors the pids above it, nearest
	// first, comma-separated (kernel events of the native backend).
	PPID      int    `json:"ppid,omitempty"`
	Ancestors string `json:"ancestors,omitempty"`
	Path      string `json:"path,omitempty"`
	Addr      string `json:"addr,omitempty"`   // host:port
	Name      string `json:"name,omitempty"`   // DNS name, TLS SNI, HTTP Host, syscall
	Detail    string `json:"detail,omitempty"` // bounded
	Data      string `json:"data,omitempty"`   // first bytes sent, bounded
	// SHA256 of the file a kernel exec event ran, read by moat from the
	// sandbox's file system (hex; empty where it could not be read).
	SHA256 string `json:"sha256,omitempty"`
	// Script is the "#!" line of that file, read with its hash (the
	// kernel runs the interpreter it names with the file); empty if the
	// file is no script or was not read.
	Script string `json:"script,omitempty"`
	// ScriptSHA256 is the sha256 of the interpreter that "#!" line names,
	// read with the script as the caller's kernel finds it (a link
	// followed inside the sandbox): what ran the script, which no exec
	// event shows. Empty where there is no script or it could not be read.
	ScriptSHA256 string `json:"script_sha256,omitempty"`
	// Stdio names which of fds 0, 1, 2 were sockets when a kernel exec
	// event ran ("0,1,2"): a shell wired to a connection.
	Stdio string `json:"stdio,omitempty"`
	// Line is the line in Path a scan event points at (1-based).
	Line int `json:"line,omitempty"`
}

// Names of kernel exec events that say what a process ran, by the
// kernel's own link to it (/proc/PID/exe, read after the exec at its next
// watched call or its exit), where that was not what the exec was read to
// run when it waited (seccomp.ExecCheck).
const (
	// ExecRan: the exec's name could not be opened when it was read (a
	// link the witness does not follow): this is the file that ran.
	ExecRan = "exe"
	// ExecSwapped: the exec was read to run another file; this one ran
	// (its name was changed while the exec waited: another thread
	// rewrote it, or a file was renamed over it).
	ExecSwapped = "exe-swapped"
)

// EnvUnread is a line of a kernel exec event's Data (the exec's LD_PRELOAD
// and LD_AUDIT, newline-separated) saying its environment went on past
// what the witness reads: a library named there would be mapped unseen.
const EnvUnread = "LD_*=(the environment went on past what moat reads)"

// Finding is a conclusion drawn from events: what a security tester would
// flag. Only moat's own analysis creates findings; nothing the program
// prints can.
type Finding struct {
	Category Category `json:"category"`
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
	Evidence []Event  `json:"evidence"`
	Phase    string   `json:"phase,omitempty"`
	// Rule names the check of a static finding (`moat scan`): "decode-exec",
	// "bandit/B102", "codeaudit/exec".
	Rule string `json:"rule,omitempty"`
	// Confirmed names what the other side saw, when both the scan and the
	// run did (`moat test --scan`): the run's finding for a scan finding,
	// the scan's for a run finding.
	Confirmed string `json:"confirmed,omitempty"`
}

// Source is who observed an event. How far a finding can be trusted
// depends on it: the program can switch off or forge what only the audit
// hook saw, never what the kernel, the network sink or the fs diff saw.
type Source string

// Sources of events.
const (
	// SourceAudit: Python's audit hook inside the sandbox. Native code
	// (ctypes, an extension, a static binary) bypasses it, and the program
	// can tamper with it: the program's own claim.
	SourceAudit Source = "audit"
	// SourceKernel: seccomp notifications and limits the kernel enforced
	// (or, under gVisor, the Sentry's syscall trace). Cannot be evaded from
	// inside.
	SourceKernel Source = "kernel"
	// SourceNetwork: moat's sinkhole or egress proxy, outside the sandbox.
	SourceNetwork Source = "network"
	// SourceFS: a diff of the sandbox's writable file system after the run.
	SourceFS Source = "fs"
	// SourceScan: moat scan's reading of the package's files (its own
	// triage and the analysers it ran in a sandbox); no code of the
	// package ran. What the files say they would do, not what they did.
	SourceScan Source = "scan"
	// SourceMoat: what moat itself did or noted (honeytokens planted, the
	// layers, limits reached, the hook's hello); never the program.
	SourceMoat Source = "moat"
)

// Kind is what an event records.
type Kind string

// Kinds of events. The audit hook's lines (internal/observe/audit) name
// theirs the same way.
const (
	KindOpen         Kind = "open"          // a file opened (Path, Detail: mode)
	KindWrite        Kind = "write"         // a file opened for writing
	KindExec         Kind = "exec"          // a program started (Path, Detail: argv)
	KindConnect      Kind = "connect"       // a connection attempted (Addr)
	KindDNS          Kind = "dns"           // a name looked up (Name)
	KindHTTP         Kind = "http"          // an HTTP request seen by the sink (Name: host, Data)
	KindMetadata     Kind = "metadata"      // network: the sink served fake instance credentials (Path, Detail: token ids)
	KindStage2       Kind = "stage2"        // network: the sink answered a script download with its inert second stage (Name: host, Path, Detail: marker)
	KindListener     Kind = "listener"      // a port opened (Name: listen, Addr the bound address, "" not seen bound; bind: a UDP port; the hook's: a bind to an address not loopback)
	KindDenied       Kind = "denied"        // a syscall the sandbox denied (Name)
	KindSocket       Kind = "socket"        // a socket of an address family the sandbox refuses (Name: AF_VSOCK, ...)
	KindNativeImport Kind = "native-import" // an extension module loaded
	KindNativeLoad   Kind = "native-load"   // a shared library loaded through ctypes
	KindNativeSymbol Kind = "native-symbol" // a libc function looked up through ctypes
	KindFileCreated  Kind = "file-created"  // fs diff: a new file (Path, Detail)
	KindFileChanged  Kind = "file-changed"  // fs diff: a changed file
	KindFileDeleted  Kind = "file-deleted"  // fs diff: a removed file
	KindBytecode     Kind = "bytecode"      // fs diff: a written .pyc Python would run in place of a source (Path, Detail: why)

	KindHoneytokenPlanted Kind = "honeytoken-planted" // moat: a fake secret planted (Name: id, Path; Addr: the one host it is for, netrc's machine)
	KindIdentity          Kind = "identity"           // moat: a fact of the machine the run was shown (Name: which, Data: its value)
	KindHoneytokenWritten Kind = "honeytoken-written" // fs: a fake secret found in a written file
	KindHoneytokenOutput  Kind = "honeytoken-output"  // moat: a fake secret found in what the run printed (Path: stdout or stderr)
	KindHoneytokenRead    Kind = "honeytoken-read"    // kernel: a planted file's access time moved, its content was read (Path)
	KindHoneytokenAltered Kind = "honeytoken-altered" // kernel: a planted file's change time moved: times reset, mode, links or content changed (Path)
	KindHoneytokenWitness Kind = "honeytoken-witness" // moat: the kernel-side witness of planted file reads, on or off (Detail: how, or why not)
	KindOutcomeHook       Kind = "outcome-hook"       // fs: a file of the package that rewrites test results (Path, Detail: how)
	KindTestMismatch      Kind = "test-mismatch"      // moat: pytest's exit status disagrees with its JUnit XML (Detail)
	KindLimit             Kind = "limit"              // moat: a limit reached (Detail)
	KindOutlived          Kind = "outlived"           // moat: a process still running when the program ended, killed by moat (PID, Path: its command, Detail: its session)
	KindHello             Kind = "hello"              // audit: the hook started in a process
	KindTamper            Kind = "tamper"             // audit: the program reached for the hook's state (Name: the audit event)
	KindTestReport        Kind = "testreport"         // audit: the test runner's witness of outcomes in its own process (Path: what, Name: test id, Detail)
	KindTestWitness       Kind = "test-witness"       // moat: the witness's records disagree with the package's test results (Detail)
	KindSignal            Kind = "signal"             // audit: a signal sent with os.kill or os.killpg (Name: the target pid or group, Detail: the call and signal)
	KindTrace             Kind = "trace"              // kernel: the syscall trace's own state
	KindLayers            Kind = "layers"             // moat: the layers in effect
	KindEvents            Kind = "events"             // moat: events were dropped (Detail: counts)
	KindExit              Kind = "exit"               // a process ended
	KindInterpreter       Kind = "interpreter"        // moat: the runtime's real interpreter file (Path, SHA256)
	KindExecFailed        Kind = "exec-failed"        // kernel: an exec of a file that could not be opened (Path, Detail: argv)
	KindError             Kind = "error"              // an observer failed (Detail)
	KindCode              Kind = "code"               // scan: a construct in the package's files (Path, Line, Name: rule, Detail: the line)
	KindBinary            Kind = "binary"             // scan: a native binary in the package (Path, SHA256, Detail: format)

	KindKernelEventsUnavailable Kind = "kernel-events-unavailable" // moat: no kernel-side witness
	KindFSDiffUnavailable       Kind = "fs-diff-unavailable"       // moat: no fs diff (Detail: why)

	// What moat found wrong with the report itself (evasion findings).
	KindProtocolViolation Kind = "protocol-violation" // moat: a container init's frames failed their tags or form (Detail)
	KindInitKilled        Kind = "init-killed"        // moat: a container init was killed before its report
	KindReportTampered    Kind = "report-tampered"    // moat: the hook's directory in the container changed (Detail: what)
	KindReportCut         Kind = "report-cut"         // moat: a walk or the audit stream stopped at a cap (Detail: which, why)
)

// Category is what kind of harm a finding is about.
type Category string

// Categories of findings.
const (
	CategoryCredentialAccess Category = "credential-access" // read secrets (the planted fake ones)
	CategoryExfiltration     Category = "exfiltration"      // sent a secret out (any encoding)
	CategoryPersistence      Category = "persistence"       // planted code that runs later
	CategoryExecution        Category = "execution"         // started programs, shells, payloads
	CategoryNetwork          Category = "network"           // reached for the network
	CategoryEvasion          Category = "evasion"           // hid from or fought the observers
	CategoryResourceAbuse    Category = "resource-abuse"    // burnt CPU, memory, processes, time
)

// Severity grades a finding.
type Severity string

// Severities, lowest first.
const (
	SeverityLow      Severity = "low"
	SeverityMedium   Severity = "medium"
	SeverityHigh     Severity = "high"
	SeverityCritical Severity = "critical"
)

// Severities lists every severity, lowest first.
var Severities = []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// Rank orders severities: 0 for unknown, 1 low … 4 critical.
func (s Severity) Rank() int {
	for i, v := range Severities {
		if v == s {
			return i + 1
		}
	}
	return 0
}
