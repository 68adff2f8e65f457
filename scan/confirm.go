package scan

import (
	"fmt"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Confirm marks the scan findings and the run findings that agree: the
// scan read code that would act in a phase, and the run saw that phase do
// something of the kind (medium or above). Each side's Confirmed then
// names the other. How they must agree depends on the scan's rule:
//
//   - hosts and addresses (webhook, paste, IP, metadata): the run reached
//     that very host or address;
//   - credential, persistence and start-up paths: a run finding of that
//     category (credential access, exfiltration; persistence);
//   - code that hides, decodes, downloads, runs commands or reaches the
//     network, native binaries, custom install commands, the analysers'
//     findings: any run finding of medium or above in the phase the code
//     runs in (the hidden code did something moat flagged).
//
// Findings about the package as a whole (its name, its metadata) have no
// phase and are never confirmed. scan and run are changed in place.
func Confirm(scan, run []moat.Finding) {
	runBest := make([]int, len(run))
	for i := range scan {
		s := &scan[i]
		phase := ActsIn(*s)
		if phase == "" {
			continue
		}
		bestRank := 0
		for j := range run {
			r := &run[j]
			if r.Phase != phase || r.Severity.Rank() < moat.SeverityMedium.Rank() {
				continue
			}
			score := agree(*s, *r)
			if score == 0 {
				continue
			}
			// The scan side names the most severe run finding that agrees,
			// the run side the most specific scan finding.
			if rank := r.Severity.Rank()*10 + score; rank > bestRank {
				bestRank = rank
				s.Confirmed = fmt.Sprintf("%s: %s %s: %s", r.Phase, r.Severity, r.Category, termsafe.Line(r.Summary, 160))
			}
			if score > runBest[j] {
				runBest[j] = score
				r.Confirmed = "scan: " + termsafe.Line(s.Summary, 160)
			}
		}
	}
}

var reIPToken = lazyre.New(`\b\d{1,3}(?:\.\d{1,3}){3}\b`)

// agree says how well run finding r bears out scan finding s: 0 not, 1
// something happened where the code runs, 2 of the kind the code
// suggests, 3 at the very host or address it names.
func agree(s, r moat.Finding) int {
	score := func(ok bool, n int) int {
		if ok {
			return n
		}
		return 0
	}
	switch s.Rule {
	case "cloud-metadata":
		return score(r.Category == moat.CategoryCredentialAccess && strings.Contains(strings.ToLower(r.Summary), "metadata") || mentions(r, "169.254.169.254"), 3)
	case "exfil-host", "payload-host", "ip-address":
		for _, e := range s.Evidence {
			var toks []string
			for _, re := range []*lazyre.Regexp{reIPToken, reExfilHost, rePayloadHost} {
				toks = append(toks, re.FindAllString(e.Detail, 8)...)
			}
			for _, tok := range toks {
				if mentions(r, strings.TrimSuffix(tok, "/")) {
					return 3
				}
			}
		}
		return 0
	case "credential-path", "install-environment":
		return score(r.Category == moat.CategoryCredentialAccess || r.Category == moat.CategoryExfiltration, 2)
	case "persistence-path", "pth-code", "pth-file", "startup-module", "entry-point-shadow":
		return score(r.Category == moat.CategoryPersistence, 2)
	case "pipe-shell", "download-exec", "decode-exec", "embedded-executable", "install-command":
		return score(r.Category == moat.CategoryExecution, 2) + score(r.Category != moat.CategoryExecution, 1)
	}
	return 1
}

// mentions says whether r names tok in its summary or evidence.
func mentions(r moat.Finding, tok string) bool {
	tok = strings.ToLower(tok)
	if strings.Contains(strings.ToLower(r.Summary), tok) {
		return true
	}
	for _, e := range r.Evidence {
		for _, v := range []string{e.Addr, e.Name, e.Path, e.Detail} {
			if strings.Contains(strings.ToLower(v), tok) {
				return true
			}
		}
	}
	return false
}
