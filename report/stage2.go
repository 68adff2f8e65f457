package report

import (
	"cmp"
	"fmt"
	"path"
	"strings"

	"github.com/moat-sandbox/moat"
)

// stage2 finds the second stages that ran. Under a sinkhole, moat's sink
// answers a script-like download with an inert script that makes one
// marker file (egress, stage2.go) and says so in a KindStage2 event, which
// the program cannot forge. The marker file in the file system diff (or,
// if the diff missed it, in the hook's writes: then the finding says it
// rests on the program's claim for that part) means something ran what it
// downloaded: piped into a shell, exec()d by Python, or written and run.
// The script's halves name their markers "-sh" and "-py", the ELF form's
// "-elf", the base64 line of a paste's "-b64" (the program decoded what
// it downloaded, then exec()d it): how it ran. The sink's event names the form it served (the
// script, its base64, an ELF): a base64 stage that left "-py" was decoded
// and exec()d in-process.
func (a *analysis) stage2() {
	served := map[string]moat.Event{} // marker file name: the sink's event
	for _, e := range a.evs {
		if e.Source != moat.SourceNetwork || e.Kind != moat.KindStage2 {
			continue
		}
		if _, m, ok := strings.Cut(e.Detail, "marker "); ok {
			served[path.Base(m)] = e
		}
	}
	if len(served) == 0 {
		return
	}
	type ran struct {
		sink moat.Event
		how  string
		ev   []moat.Event
		fs   bool
		seen map[string]bool // marker files: each a time it ran
	}
	var order []string
	runs := map[string]*ran{}
	for _, e := range a.evs {
		fsSaw := e.Source == moat.SourceFS && (e.Kind == moat.KindFileCreated || e.Kind == moat.KindFileChanged)
		hookSaw := e.Source == moat.SourceAudit && e.Kind == moat.KindWrite
		if !fsSaw && !hookSaw {
			continue
		}
		base := path.Base(e.Path)
		for suffix, how := range map[string]string{"-sh": "as a shell script", "-py": "as Python code", "-elf": "as a native program",
			"-b64": "as Python code after decoding it from base64", "-zlib": "as Python code after decompressing it (zlib)"} {
			m, ok := strings.CutSuffix(base, suffix)
			sink, served := served[m]
			if !ok || !served {
				continue
			}
			key := sink.Name + sink.Path + suffix // one finding per URL and way, however often
			r := runs[key]
			if r == nil {
				r = &ran{sink: sink, how: how, seen: map[string]bool{}}
				runs[key] = r
				order = append(order, key)
			}
			r.ev = append(r.ev, e)
			r.fs = r.fs || fsSaw
			r.seen[base] = true
		}
	}
	for _, key := range order {
		r := runs[key]
		url := cmp.Or(r.sink.Name, r.sink.Addr) + r.sink.Path // a stager's server is an address
		summary := "ran the second stage it downloaded from " + url + " " + r.how + " (moat's sink served an inert stand-in" + servedAs(r.sink) + ", which left its marker file)"
		if len(r.seen) > 1 {
			summary += fmt.Sprintf(" (%d times)", len(r.seen))
		}
		if !r.fs {
			summary += "; the marker seen only by the Python audit hook"
		}
		a.add(moat.CategoryExecution, moat.SeverityCritical, summary, append([]moat.Event{r.sink}, r.ev...))
	}
}

// servedAs names the form the sink's event says it served, if not the
// plain script: ", as base64 (the program decoded it)", ", as an x86-64
// program".
func servedAs(sink moat.Event) string {
	_, rest, ok := strings.Cut(sink.Detail, "second stage (")
	form, _, ok2 := strings.Cut(rest, ")")
	if !ok || !ok2 {
		return ""
	}
	switch form {
	case "base64":
		return " as base64 (the program decoded it)"
	case "elf":
		return " as an x86-64 program"
	case "hello":
		return " as the code a loader that spoke first waits for (zlib-compressed Python, then plain)"
	case "stager":
		return " as a staged payload's stage, sent first on the connection (length-prefixed base64 of zlib, as Metasploit's stagers read it)"
	}
	return ""
}
