package nsinit

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// Bounds of the look at what outlived the program.
const (
	outlivedGrace = 300 * time.Millisecond // for children on their way out (multiprocessing's tracker)
	maxOutlived   = 16
)

// survivors lists the processes of the namespace, other than the init
// and zombies, still running once the program (pid main, reaped) has
// ended, after a short grace for those on their way out. The program
// was started in a session of its own (sid main): a survivor in another
// session called setsid, as a daemon does. Everything read is the
// program's, so it is bounded and escaped.
func survivors(main int) []moat.Event {
	deadline := time.Now().Add(outlivedGrace)
	for {
		evs := listSurvivors(main)
		if len(evs) == 0 || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func listSurvivors(main int) []moat.Event {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var evs []moat.Event
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid == main {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...: comm may hold anything, so
		// the fields are those after its last ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 4 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		sid, _ := strconv.Atoi(f[3])
		cmd, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		detail := "in the program's session"
		if sid != main {
			detail = fmt.Sprintf("in a session of its own (setsid, %d)", sid)
		}
		if len(evs) == maxOutlived {
			evs[len(evs)-1].Detail += ", and more"
			break
		}
		evs = append(evs, moat.Event{Source: moat.SourceMoat, Kind: moat.KindOutlived, PID: pid,
			Path: audit.Clean(string(bytes.ReplaceAll(bytes.TrimRight(cmd, "\x00"), []byte{0}, []byte{' '})), 300), Detail: detail})
	}
	return evs
}

// outlived records what survived the program as moat's own events.
func (r *reporter) outlived(evs []moat.Event) {
	if len(evs) == 0 {
		return
	}
	at := r.now()
	for _, e := range evs {
		e.TimeMS = at
		r.addKernel(e)
	}
}
