package moat

// Status is the typed outcome of a run.
type Status string

// Statuses of a run.
const (
	StatusExited      Status = "exited"       // the program exited by itself
	StatusSignaled    Status = "signaled"     // killed by a signal it did not get from moat
	StatusTimeout     Status = "timeout"      // wall-clock limit reached
	StatusMemory      Status = "memory"       // memory limit reached, killed
	StatusPids        Status = "pids"         // process limit reached, killed
	StatusOutputLimit Status = "output-limit" // output cap reached, killed
	StatusCanceled    Status = "canceled"     // moat was interrupted
	StatusRefused     Status = "refused"      // the backend's policy refused the program (restricted: RestrictedPython); see Error
	StatusError       Status = "error"        // the sandbox failed; see Error
)

// Layer is one protection layer that was in effect for a run.
type Layer struct {
	Name   string `json:"name"`
	Detail string `json:"detail,omitempty"`
}

// Result is plain data describing one run. Everything in it that came from
// inside the sandbox is untrusted: Stdout and Stderr are capped but raw.
type Result struct {
	Status          Status  `json:"status"`
	ExitCode        int     `json:"exit_code"`
	Signal          int     `json:"signal,omitempty"`
	Stdout          string  `json:"stdout"`
	Stderr          string  `json:"stderr"`
	StdoutTruncated bool    `json:"stdout_truncated"`
	StderrTruncated bool    `json:"stderr_truncated"`
	DurationMS      int64   `json:"duration_ms"`
	MaxRSSBytes     int64   `json:"max_rss_bytes"`
	Isolation       string  `json:"isolation"`
	Layers          []Layer `json:"layers"`
	// Degraded names required layers that were missing, when the Spec
	// allowed running without them.
	Degraded []string `json:"degraded,omitempty"`
	// Error explains StatusError and StatusRefused; for other statuses it
	// is empty.
	Error string `json:"error,omitempty"`
	// Out lists what was copied to Spec.OutDir; Skipped what was not
	// (links, devices, over the caps, names with control characters),
	// with the reason; Out.Error when the copy could not be completed.
	Out *OutReport `json:"out,omitempty"`
	// Events is what the program did or tried (bounded; EventsDropped
	// counts what did not fit); Findings is moat's analysis of it.
	Events        []Event   `json:"events,omitempty"`
	EventsDropped int       `json:"events_dropped,omitempty"`
	Findings      []Finding `json:"findings"`
}

// OutReport says what the copy-out of the working directory did.
type OutReport struct {
	Dir     string   `json:"dir"`
	Files   int      `json:"files"`
	Bytes   int64    `json:"bytes"`
	Skipped []string `json:"skipped,omitempty"`
	// Error says why the copy is incomplete beyond what Skipped lists:
	// something in the sandbox could not be read, or the stream broke
	// off. A program that exited by itself then has exit status 125.
	Error string `json:"error,omitempty"`
}

// ExitStatus maps a Result to the exit status of `moat run`: the program's
// own; 124 timeout; 125 moat failed (also: the copy-out of a program that
// exited could not be completed); 126 cannot execute (also: refused by
// the backend's policy); 127 not found; 128+N
// killed by signal N (a memory kill is 137); 130 canceled.
func (r *Result) ExitStatus() int {
	switch r.Status {
	case StatusExited:
		if r.Out != nil && r.Out.Error != "" {
			return 125
		}
		return r.ExitCode
	case StatusTimeout:
		return 124
	case StatusMemory, StatusPids, StatusOutputLimit:
		return 128 + 9
	case StatusSignaled:
		return 128 + r.Signal
	case StatusCanceled:
		return 130
	case StatusRefused:
		return 126
	case StatusError:
		if r.ExitCode == 126 || r.ExitCode == 127 {
			return r.ExitCode // cannot execute, not found
		}
		return 125
	default:
		return 125
	}
}
