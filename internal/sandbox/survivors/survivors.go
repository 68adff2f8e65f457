// Package survivors lists the processes still running when a sandbox's
// program has ended (moat.KindOutlived): a daemon that would act after the
// run, where no report sees it, is killed with the program, and named.
//
// Each backend's init lists them in its own namespace ([List], Linux only)
// and sends them to the host its own trusted way; the host makes the
// events with [Events]. Everything listed is the program's (its command
// line from /proc/PID/cmdline), so it is bounded where it is read and
// escaped and bounded again where it becomes an event: an init inside a
// guest or a container may be less trusted than the host.
package survivors

import (
	"fmt"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// Bounds of the look at what outlived the program.
const (
	// Grace is how long the init waits for survivors to be gone before it
	// lists them: children on their way out are not survivors.
	Grace = 300 * time.Millisecond
	// While every survivor is of the program's session, the wait goes on
	// past Grace as long as one of them runs (its CPU time moved, or one
	// ended, within Quiet), up to SessionGrace: a child that ends on the
	// program's end but was still starting when it came (multiprocessing's
	// resource tracker, started by the program's last call, takes its
	// interpreter's start and imports, seconds under gVisor on a loaded
	// host, before it reads the end of its pipe and exits). A survivor
	// that sleeps (a server left running) is listed at Grace, as is any
	// with a daemon among them (another session: it will not exit).
	Quiet        = 250 * time.Millisecond
	SessionGrace = 5 * time.Second
	// Max is how many are listed; a last "and more" says there were more.
	Max = 16
	// CmdBytes bounds the command line read of each.
	CmdBytes = 512
	// cmdClean bounds it in the event, escaped.
	cmdClean = 300
)

// Process is one survivor as an init sends it.
type Process struct {
	PID int `json:"pid"`
	// SID is its session; Own says it is not the program's (it called
	// setsid: a daemon).
	SID int  `json:"sid"`
	Own bool `json:"own,omitempty"`
	// Cmd is its command line, arguments joined by spaces, at most
	// CmdBytes, not escaped.
	Cmd string `json:"cmd"`
	// More: there were more survivors than Max (on the last one).
	More bool   `json:"more,omitempty"`
	cpu  uint64 // its user and system time, in ticks
}

// Events makes the outlived events of ps, at most Max, at time at (ms),
// escaping what came from the program. ps may come from an untrusted
// init: nothing in it is taken unbounded.
func Events(ps []Process, at int64) []moat.Event {
	more := len(ps) > Max
	if more {
		ps = ps[:Max]
	}
	evs := make([]moat.Event, 0, len(ps))
	for i, p := range ps {
		detail := "in the program's session"
		if p.Own {
			detail = fmt.Sprintf("in a session of its own (setsid, %d)", p.SID)
		}
		if p.More || (more && i == len(ps)-1) {
			detail += ", and more"
		}
		cmd := p.Cmd
		if len(cmd) > 4*CmdBytes {
			cmd = cmd[:4*CmdBytes]
		}
		evs = append(evs, moat.Event{TimeMS: at, Source: moat.SourceMoat, Kind: moat.KindOutlived, PID: p.PID,
			Path: audit.Clean(cmd, cmdClean), Detail: detail})
	}
	return evs
}
