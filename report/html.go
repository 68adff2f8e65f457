package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

//go:embed report.html.tmpl
var htmlSource string

// page is parsed on first use: every moat process (the sandbox init too)
// would otherwise pay for it at start.
var page = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"ms": func(ms int64) string { return fmt.Sprintf("%.3fs", float64(ms)/1000) },
		"target": func(e moat.Event) string {
			return firstNonEmpty(e.Path, e.Addr, e.Name)
		},
		"upper": func(s any) string { return strings.ToUpper(fmt.Sprint(s)) },
		"clip": func(s string, n int) string {
			if len(s) > n {
				return s[:n] + "…"
			}
			return s
		},
	}).Parse(htmlSource))
})

// HTMLOptions say what the run was.
type HTMLOptions struct {
	Title   string // e.g. the command line
	Version string
	Now     time.Time
}

type htmlData struct {
	HTMLOptions
	Res       *moat.Result
	Status    string // the run's status, or the job's for a phased one
	Exit      int    // the exit status
	Verdict   string
	Counts    map[string]int
	Network   []moat.Event
	Timeline  []moat.Event
	Planted   []moat.Event
	Sources   map[string]int
	Truncated int
	// Phased: a job of several runs (WritePhasedHTML); Phases its rows.
	Phased bool
	Phases []htmlPhase
}

// maxTimeline bounds the events the page lists.
const maxTimeline = 1500

// WriteHTML writes a self-contained HTML page (inline CSS, no scripts, no
// external resources) of res: verdict, findings with evidence, network
// attempts, a timeline of events. Everything that came from the sandbox
// is escaped by html/template.
func WriteHTML(w io.Writer, res *moat.Result, opt HTMLOptions) error {
	d := newHTMLData(res, opt)
	for _, e := range res.Events {
		d.addEvent(e, len(d.Timeline) < maxTimeline)
	}
	return execPage(w, d)
}

// execPage writes the page of d, with every invisible character and
// bidi mark of the sandbox's names shown escaped ([termsafe.Unseen]):
// html/template leaves them as they are, and a browser shows
// "/work/z\u200bzz.pth" as "/work/zzz.pth".
func execPage(w io.Writer, d *htmlData) error {
	var b bytes.Buffer
	if err := page().Execute(&b, d); err != nil {
		return err
	}
	_, err := w.Write(termsafe.ShowUnseen(b.Bytes(), `\u`))
	return err
}

func newHTMLData(res *moat.Result, opt HTMLOptions) *htmlData {
	d := &htmlData{HTMLOptions: opt, Res: res, Status: string(res.Status), Exit: res.ExitStatus(), Verdict: Verdict(res.Findings),
		Counts: map[string]int{}, Sources: map[string]int{}}
	if d.Now.IsZero() {
		d.Now = time.Now()
	}
	for _, f := range res.Findings {
		d.Counts[string(f.Severity)]++
	}
	return d
}

func isNetwork(e moat.Event) bool {
	return e.Kind == "connect" || e.Kind == "dns" || e.Kind == "http" || e.Source == "network"
}

// addEvent files e under planted, network and (if room) the timeline; it
// reports whether e went into the timeline.
func (d *htmlData) addEvent(e moat.Event, room bool) bool {
	switch {
	case e.Source == "moat" && e.Kind == "honeytoken-planted":
		d.Planted = append(d.Planted, e)
		return false
	case isNetwork(e):
		d.Network = append(d.Network, e)
	}
	d.Sources[string(e.Source)]++
	if room {
		d.Timeline = append(d.Timeline, e)
		return true
	}
	d.Truncated++
	return false
}
