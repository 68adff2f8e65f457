package egress

import (
	"crypto/rand"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
)

// Stage2 is the sinkhole's inert second stage: a GET of a script-like URL
// (see scriptLike) is answered with a script that is valid shell and
// valid Python at once and does one harmless, recognisable thing: it
// creates an empty file in /tmp named after the run and the answer (the
// shell also runs id(1), as droppers' first commands do). So a payload
// that pipes its download into a shell, exec()s it in Python, or writes it
// and runs it shows that chain: the file system diff holds the marker
// file, and the sink's KindStage2 event (which the program cannot forge)
// says which request it answered. Before, the download was an empty 200
// and the chain ended there.
//
// Safety: the script runs only where the program runs it, inside the
// sandbox; it reads nothing, sends nothing and starts nothing but id. A
// program that downloads nothing gets nothing; one that downloads a
// script and does not run it gets a text file.
type Stage2 struct {
	token string // per run, in every marker
	n     atomic.Int64
}

// Stage2Dir is where the script makes its marker file, named "." + the
// run's token + "-" + the answer's number ([Stage2Marker]), then "-sh" or
// "-py": which of the script's halves ran.
const Stage2Dir = "/tmp"

// NewStage2 makes a run's stage-2 lure with a fresh token.
func NewStage2() *Stage2 {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return &Stage2{token: string(b)}
}

// payload returns the next answer's marker (the file's name without its
// "-sh" or "-py") and the script. The first line makes it a shell script
// when run as a file; the shell reads `"""":` as the no-op `:` and exits
// before the Python; Python reads the shell part as a string literal.
func (l *Stage2) payload() (marker, script string) {
	marker = "." + l.token + "-" + strconv.FormatInt(l.n.Add(1), 10)
	m := Stage2Dir + "/" + marker
	script = "#!/bin/sh\n" +
		"\"\"\"\":\n" +
		"id >/dev/null 2>&1\n" +
		": > " + m + "-sh 2>/dev/null\n" +
		"exit 0\n" +
		"\"\"\"\n" +
		"try:\n" +
		"    open(\"" + m + "-py\", \"a\").close()\n" +
		"except OSError:\n" +
		"    pass\n"
	return marker, script
}

// pasteHosts serve what their users paste, raw: where second stages live.
var pasteHosts = map[string]bool{
	"pastebin.com": true, "paste.website": true, "rentry.co": true, "rentry.org": true, "paste.ee": true, "hastebin.com": true,
	"gist.githubusercontent.com": true, "raw.githubusercontent.com": true, "pastes.io": true, "dpaste.org": true, "dpaste.com": true,
	"termbin.com": true, "transfer.sh": true, "ghostbin.com": true, "controlc.com": true, "paste.c-net.org": true, "bitbucket.org": true,
}

// scriptExts are the extensions of scripts a dropper fetches.
var scriptExts = map[string]bool{".sh": true, ".bash": true, ".py": true, ".txt": true}

// scriptLike reports whether a GET of target (path and query) on host,
// with the User-Agent ua, is for a script: a script's extension, a paste
// site or a /raw/ path, or a path without extension fetched by curl, wget
// or a bare one-word agent (curl -A O) — not an index page (a path that
// ends in "/") nor anything a library or pip asks for by name.
func scriptLike(method, host, target, ua string) bool {
	if method != "GET" {
		return false
	}
	p, _, _ := strings.Cut(target, "?")
	p = strings.ToLower(p)
	if p == "" || strings.HasSuffix(p, "/") {
		return false
	}
	ext := path.Ext(path.Base(p))
	switch {
	case scriptExts[ext]:
		return true
	case pasteHosts[strings.TrimPrefix(host, "www.")] || strings.Contains(p, "/raw/"):
		return ext == "" || ext == ".txt"
	case ext == "":
		ua = strings.ToLower(ua)
		return strings.HasPrefix(ua, "curl/") || strings.HasPrefix(ua, "wget/") || (ua != "" && !strings.ContainsAny(ua, "/ "))
	}
	return false
}
