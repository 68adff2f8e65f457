package scan

import (
	"bytes"
	"encoding/base64"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
)

// The checks over source lines. Each is a regular expression over one
// line; the severity depends on where the file runs (install-time code
// is where most malicious packages act, and where a benign package has
// least reason to reach for the network).
var (
	reExec    = lazyre.New(`\b(exec|eval|compile)\s*\(`)
	reDecoder = lazyre.New(`\b(b64decode|b32decode|b16decode|b85decode|a85decode|decodebytes|decodestring|unhexlify|fromhex|decompress|marshal\.loads|loads\s*\(\s*zlib|codecs\.decode|rot_?13)\b|\[::-1\]`)
	// reDownloadExec: exec or eval of what a request returned.
	reDownloadExec = lazyre.New(`\b(exec|eval)\s*\(.*\b(requests\.(get|post)|urlopen|urllib\.request|urllib2|httpx\.(get|post)|http\.client)`)
	// rePipeShell: a download or a decoded blob piped into a shell or an
	// interpreter, an encoded PowerShell command.
	rePipeShell = lazyre.New(`(?i)\b(curl|wget)\b[^|\n]*\|\s*(sudo\s+)?(ba|z|da|k)?sh\b|base64\s+(-d|--decode)[^|\n]*\|\s*(ba|z|da)?sh\b|\|\s*python[0-9.]*\s+-\s*['"]?$|powershell[^\n]*\s-(e|enc|encodedcommand)\s`)
	// reHidden: code after a long run of blanks inside a line (past the
	// edge of an editor's window).
	reHidden = lazyre.New(`\S[ \t]{100,}\S`)
	// reHiddenTail: what follows the blanks reads as a statement (a
	// column of aligned data does not).
	reHiddenTail = lazyre.New(`^(;|(import|from|exec|eval|compile|__import__|os\.|subprocess|sys\.|base64|zlib|marshal|requests|urllib|socket)\b)`)
	// reB64Exe: a base64 literal that decodes to a PE, ELF or Mach-O file.
	reB64Exe  = lazyre.New(`['"](TVqQ|TVpQ|TVoA|TVqA|f0VMR|z/rt/|zvrt/)[A-Za-z0-9+/=]{200,}`)
	reLongB64 = lazyre.New(`[A-Za-z0-9+/]{300,}={0,2}`)

	reMetadataAddr = lazyre.New(`169\.254\.169\.254|169\.254\.170\.2\b|metadata\.google\.internal|100\.100\.100\.200|fd00:ec2::254|metadata\.azure\.com`)
	// reExfilHost: services that take what they are sent: webhooks,
	// out-of-band interaction (DNS and HTTP canaries), bots.
	reExfilHost = lazyre.New(`(?i)(discord(app)?\.com/api/webhooks|hooks\.slack\.com|api\.telegram\.org/bot|webhook\.site|\.oast\.(me|fun|live|site|online|pro)\b|\boast\.(me|fun|live|site|online|pro)\b|interact\.sh|burpcollaborator\.net|\.dnslog\.cn|\.ceye\.io|canarytokens\.|requestbin\.|\.pipedream\.net|\.m\.pipedream|\.ngrok(-free)?\.(io|app)|eo[a-z0-9]+\.m\.pipedream)`)
	// rePayloadHost: paste sites, shorteners and free hosting, where a
	// second stage is fetched from.
	rePayloadHost = lazyre.New(`(?i)\b(pastebin\.com|paste\.ee|paste\.website|hastebin\.com|ghostbin\.|rentry\.(co|org)|transfer\.sh|anonfiles\.|file\.io\b|[a-z0-9-]+\.pythonanywhere\.com|[a-z0-9-]+\.netlify\.app|[a-z0-9-]+\.glitch\.me|[a-z0-9-]+\.repl\.co|[a-z0-9-]+\.workers\.dev|gist\.githubusercontent\.com)`)
	// reShortener: a URL shortener hides where a link leads; benign code
	// has them in messages and docstrings too.
	reShortener = lazyre.New(`(?i)\b(bit\.ly|bitly\.com|tinyurl\.com|goo\.gl|is\.gd|t\.co|cutt\.ly|rb\.gy)/[A-Za-z0-9]`)
	reURLIP     = lazyre.New(`(?i)\b(?:https?|ftp|tcp|udp)://(\d{1,3}(?:\.\d{1,3}){3})`)
	reIPPort    = lazyre.New(`['"](\d{1,3}(?:\.\d{1,3}){3})['"]\s*,\s*\d{2,5}\b|['"](\d{1,3}(?:\.\d{1,3}){3}):\d{2,5}\b`)

	reCredPath = lazyre.New(`(?i)\.ssh/id_(rsa|dsa|ecdsa|ed25519)|\.aws/credentials|\.kube/config|\.docker/config\.json|\.git-credentials|\.pypirc|/etc/shadow|\.bash_history|\.zsh_history|\\?login data|\\?local state['"]|wallet\.dat|\.config/gcloud|\.azure/|local storage[\\/]+leveldb|telegram desktop|\.gnupg|keychain-db|\.netrc|/etc/passwd`)
	// rePersist: places code is planted to run later.
	rePersist  = lazyre.New(`(?i)\bcrontab\b|/etc/cron|\.bashrc|\.zshrc|\.bash_profile|\.profile['"]|\.config/systemd/user|/etc/systemd/system|systemctl\s+(--user\s+)?enable|authorized_keys|\.config/autostart|LaunchAgents|CurrentVersion\\+Run|schtasks\b|Startup['"\\]`)
	reWriteish = lazyre.New(`(?i)open\s*\([^)]*['"](a|w|wb|ab|a\+|w\+)['"]|>>|\becho\b|write\(|\bcopy(file)?\(|\bappend`)

	reCmd = lazyre.New(`\b(os\.system|os\.popen|subprocess\.|Popen\s*\(|pty\.spawn|os\.exec[lv]p?e?\s*\(|os\.spawn)`)
	// reNetCall: a call that reaches the network right away.
	reNetCall = lazyre.New(`\b(urlopen|requests\.(get|post|put|request)|create_connection|gethostbyname|getaddrinfo|httpx\.(get|post|request)|\.connect)\s*\(`)
	reNet     = lazyre.New(`\b(urlopen|urllib\.request|urllib2\.|requests\.(get|post|put|request|Session)|http\.client|HTTPS?Connection|socket\.socket|socket\.create_connection|httpx\.|aiohttp\.|urllib3\.|gethostbyname|getaddrinfo|dns\.resolver)\b`)
	// reDecodedVar: a name assigned the result of a decoder; reExecVar:
	// exec or eval of a bare name.
	reDecodedVar = lazyre.New(`(?m)^\s*(\w+)\s*=.*\b(b64decode|b32decode|b85decode|a85decode|decodebytes|unhexlify|fromhex|decompress|marshal\.loads|codecs\.decode)\b`)
	reExecVar    = lazyre.New(`\b(exec|eval)\s*\(\s*(\w+)\s*[,)]`)
	// reB64Lit: a string literal that may be base64 (indicators hidden in
	// it are decoded and checked).
	reB64Lit  = lazyre.New(`['"]([A-Za-z0-9+/_-]{16,}={0,2})['"]`)
	reEnvDump = lazyre.New(`\bos\.environ\.items\(\)|dict\(\s*os\.environ\s*\)|json\.dumps\(\s*(dict\()?os\.environ|str\(\s*os\.environ\s*\)|\bos\.environ\s*\)\s*$`)
)

// commonResolvers are public DNS servers code connects to (UDP) to learn
// its own address: common, not an indicator.
var commonResolvers = map[string]bool{"8.8.8.8": true, "8.8.4.4": true, "1.1.1.1": true, "1.0.0.1": true, "9.9.9.9": true}

// source runs the line checks over one file.
func (a *analysis) source(f *file) {
	inst := a.install[f.name]
	py := strings.HasSuffix(strings.ToLower(f.name), ".py")
	// File-level: an exec and a long encoded blob with a decoder in the
	// same file, the blob decoded into a variable first.
	blob := py && reLongB64.Match(f.data) && reDecoder.Match(f.data)
	decoded := map[string]bool{}
	if py {
		for _, m := range reDecodedVar.FindAllSubmatch(f.data, -1) {
			decoded[string(m[1])] = true
		}
	}
	// Each check runs over the whole file once; only those that match
	// somewhere run line by line.
	on := map[*lazyre.Regexp]bool{}
	lower := bytes.ToLower(f.data)
	for _, re := range lineChecks {
		for _, n := range needles[re] {
			if bytes.Contains(lower, []byte(n)) {
				on[re] = true
				break
			}
		}
	}
	if !slices.ContainsFunc(lineChecks, func(re *lazyre.Regexp) bool { return on[re] }) && len(decoded) == 0 {
		a.encoded(f, inst)
		return
	}
	a.on = on
	defer func() { a.on = nil }()
	lines := bytes.Split(f.data, []byte("\n"))
	for i, raw := range lines {
		n := i + 1
		line := string(bytes.TrimRight(raw, "\r"))
		trim := strings.TrimSpace(line)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue
		}
		h := hit{path: f.name, line: n, text: clip(trim)}
		// Checks on the raw line first: the hidden tail is past a long
		// run of blanks, the encoded executable may be megabytes long.
		if a.match(reHidden, line) && hiddenCode(line) {
			a.add("hidden-code", moat.CategoryEvasion, moat.SeverityHigh, "code hidden after a long run of whitespace on the line", hidden(h, line))
		}
		if a.match(reB64Exe, line) {
			a.add("embedded-executable", moat.CategoryExecution, moat.SeverityHigh, "an executable (PE, ELF or Mach-O) embedded as base64", h)
		}
		exec := py && a.match(reExec, line)
		switch {
		case exec && a.match(reDownloadExec, line):
			a.add("download-exec", moat.CategoryExecution, moat.SeverityHigh, "executes code it downloads", h)
		case exec && (a.match(reDecoder, line) || blob):
			a.add("decode-exec", moat.CategoryExecution, moat.SeverityHigh, "decodes and executes code", h)
		case exec && len(decoded) > 0:
			if m := reExecVar.FindStringSubmatch(line); m != nil && decoded[m[2]] {
				a.add("decode-exec", moat.CategoryExecution, moat.SeverityHigh, "decodes and executes code (decoded into "+m[2]+" first)", h)
			}
		}
		if a.match(rePipeShell, line) {
			a.add("pipe-shell", moat.CategoryExecution, moat.SeverityHigh, "pipes a download or a decoded blob into a shell", h)
		}
		a.indicators(f, h, line, inst)
		if inst {
			if a.match(reCmd, line) {
				a.add("install-command", moat.CategoryExecution, moat.SeverityLow, "install-time code runs commands", h)
			}
			if a.match(reNet, line) {
				a.add("install-network", moat.CategoryNetwork, moat.SeverityMedium, "install-time code reaches for the network", h)
			}
			if a.match(reEnvDump, line) {
				a.add("install-environment", moat.CategoryCredentialAccess, moat.SeverityMedium, "install-time code collects the whole environment", h)
			}
		} else if py && len(line) > 0 && line[0] != ' ' && line[0] != '\t' && a.match(reNet, line) && reNetCall.MatchString(line) && topLevelCall(trim) {
			a.add("import-network", moat.CategoryNetwork, moat.SeverityMedium, "reaches for the network at import (module top level)", h)
		}
	}
	a.encoded(f, inst)
}

// lineChecks are the expressions source runs line by line.
var lineChecks = []*lazyre.Regexp{reExec, reDecoder, reDownloadExec, rePipeShell, reHidden, reB64Exe, reMetadataAddr, reExfilHost,
	rePayloadHost, reShortener, reURLIP, reIPPort, reCredPath, rePersist, reCmd, reNet, reEnvDump}

// needles: a check runs over a file only if the file (lowercased) holds
// one of its needles; regular expressions over whole files are slow.
var needles = map[*lazyre.Regexp][]string{
	reExec:         {"exec", "eval", "compile"},
	reDecoder:      {"decode", "decompress", "fromhex", "unhexlify", "marshal", "rot", "[::-1]"},
	reDownloadExec: {"exec", "eval"},
	rePipeShell:    {"curl", "wget", "base64", "python", "powershell"},
	reHidden:       {strings.Repeat(" ", 100), strings.Repeat("\t", 100)},
	reB64Exe:       {"tvq", "tvp", "tvo", "f0vmr", "z/rt/", "zvrt/"},
	reMetadataAddr: {"169.254.", "metadata.", "100.100.100.200", "fd00:ec2"},
	reExfilHost:    {"webhook", "slack", "telegram", "oast", "interact.sh", "burpcollaborator", "dnslog", "ceye", "canarytokens", "requestbin", "pipedream", "ngrok"},
	reShortener:    {"bit.ly", "bitly", "tinyurl", "goo.gl", "is.gd", "t.co/", "cutt.ly", "rb.gy"},
	rePayloadHost:  {"paste", "hastebin", "ghostbin", "rentry", "transfer.sh", "anonfiles", "file.io", "pythonanywhere", "netlify", "glitch.me", "repl.co", "workers.dev", "gist."},
	reURLIP:        {"://"},
	reIPPort:       {"', ", "\", ", "',", "\",", ":"},
	reCredPath:     {".ssh", "aws/", "kube", "docker/config", "git-cred", "pypirc", "shadow", "history", "login data", "local state", "wallet", "gcloud", ".azure", "leveldb", "telegram", "gnupg", "keychain", "netrc", "passwd"},
	rePersist:      {"cron", "bashrc", "zshrc", "bash_profile", ".profile", "systemd", "systemctl", "authorized_keys", "autostart", "launchagents", "currentversion", "schtasks", "startup"},
	reCmd:          {"os.system", "os.popen", "subprocess", "popen", "pty.", "os.exec", "os.spawn"},
	reNet:          {"urlopen", "urllib", "requests.", "http", "socket", "httpx", "aiohttp", "gethostbyname", "getaddrinfo", "dns.resolver"},
	reEnvDump:      {"os.environ"},
}

// match runs re over line if the file matched it at all.
func (a *analysis) match(re *lazyre.Regexp, line string) bool {
	if a.on != nil && !a.on[re] {
		return false
	}
	return re.MatchString(line)
}

// encoded decodes string literals that look like base64 (alone, and the
// literals of consecutive lines joined, as a long one split over lines)
// and checks what they hide for hosts, addresses and paths.
func (a *analysis) encoded(f *file, inst bool) {
	if !strings.HasSuffix(strings.ToLower(f.name), ".py") || len(f.data) > 1<<20 {
		return
	}
	type lit struct {
		line int
		s    string
	}
	var run []lit
	flush := func() {
		if len(run) == 0 {
			return
		}
		var all strings.Builder
		for _, l := range run {
			all.WriteString(l.s)
		}
		cands := []lit{{run[0].line, all.String()}}
		if len(run) > 1 {
			cands = append(cands, run...)
		}
		for _, c := range cands {
			text, ok := decodeText(c.s)
			if !ok {
				continue
			}
			h := hit{path: f.name, line: c.line, text: "base64 of: …" + around(text) + "…"}
			before := len(a.order)
			n := 0
			for _, k := range a.order {
				n += len(a.byKey[k].hits)
			}
			a.on = nil
			a.indicators(f, h, text, inst)
			m := 0
			for _, k := range a.order {
				m += len(a.byKey[k].hits)
			}
			if m > n || len(a.order) > before {
				a.add("encoded-indicator", moat.CategoryEvasion, moat.SeverityMedium, "hides a host, address or path in base64", h)
			}
		}
		run = run[:0]
	}
	last := -1
	for i, raw := range bytes.Split(f.data, []byte("\n")) {
		ms := reB64Lit.FindAllSubmatch(raw, 4)
		if len(ms) == 0 {
			continue
		}
		if i != last+1 {
			flush()
		}
		for _, m := range ms {
			run = append(run, lit{i + 1, string(m[1])})
		}
		last = i
	}
	flush()
}

// around is the part of a decoded text where an indicator is: from 20
// characters before the first match to 80 after.
func around(text string) string {
	best := -1
	var end int
	for _, re := range []*lazyre.Regexp{reMetadataAddr, reExfilHost, rePayloadHost, reShortener, reURLIP, reIPPort, reCredPath, rePersist} {
		if loc := re.FindStringIndex(text); loc != nil && (best < 0 || loc[0] < best) {
			best, end = loc[0], loc[1]
		}
	}
	if best < 0 {
		return clip(text)
	}
	return clip(text[max(0, best-20):min(len(text), end+80)])
}

// decodeText decodes s as base64 (standard or URL alphabet) and returns
// it if it is mostly printable text.
func decodeText(s string) (string, bool) {
	var b []byte
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err = enc.DecodeString(s); err == nil {
			break
		}
	}
	if err != nil || len(b) < 8 {
		return "", false
	}
	for _, c := range b {
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c > 0x7e {
			return "", false
		}
	}
	return string(b), true
}

// indicators: hosts, addresses and paths on a line.
func (a *analysis) indicators(f *file, h hit, line string, inst bool) {
	up := func(sev moat.Severity) moat.Severity {
		if inst && sev.Rank() < moat.SeverityHigh.Rank() {
			return moat.Severities[sev.Rank()] // one step up in install-time code
		}
		return sev
	}
	if a.match(reMetadataAddr, line) {
		a.add("cloud-metadata", moat.CategoryCredentialAccess, moat.SeverityHigh, "names the cloud instance metadata service (cloud credentials)", h)
	}
	if a.match(reExfilHost, line) {
		a.add("exfil-host", moat.CategoryExfiltration, up(moat.SeverityMedium), "names a webhook or out-of-band collection host", h)
	}
	if a.match(rePayloadHost, line) {
		a.add("payload-host", moat.CategoryNetwork, up(moat.SeverityMedium), "names a paste site or free host (where second stages are fetched)", h)
	}
	if a.match(reShortener, line) {
		a.add("shortener-url", moat.CategoryNetwork, up(moat.SeverityLow), "names a shortened URL (where it leads is hidden)", h)
	}
	if a.match(reURLIP, line) {
		for _, m := range reURLIP.FindAllStringSubmatch(line, 4) {
			a.ip(m[1], h, up)
		}
	}
	if a.match(reIPPort, line) {
		for _, m := range reIPPort.FindAllStringSubmatch(line, 4) {
			a.ip(m[1]+m[2], h, up)
		}
	}
	if a.match(reCredPath, line) {
		sev := moat.SeverityLow
		if inst || reNetCall.MatchString(line) || reExfilHost.MatchString(line) {
			sev = moat.SeverityHigh // read at install, or sent on the same line
		}
		a.add("credential-path", moat.CategoryCredentialAccess, sev, "names a credential file", h)
	}
	if a.match(rePersist, line) {
		sev := moat.SeverityLow
		switch {
		case inst:
			sev = moat.SeverityHigh
		case reWriteish.MatchString(line):
			sev = moat.SeverityMedium
		}
		a.add("persistence-path", moat.CategoryPersistence, sev, "names a place code is planted to run later (shell rc, cron, systemd, authorized_keys, autostart)", h)
	}
}

// ip records a public IP literal as an indicator.
func (a *analysis) ip(s string, h hit, up func(moat.Severity) moat.Severity) {
	ad, err := netip.ParseAddr(s)
	if err != nil || ad.IsPrivate() || ad.IsLoopback() || ad.IsUnspecified() || ad.IsLinkLocalUnicast() || ad.IsMulticast() {
		return
	}
	if b := ad.As4(); b[0] == 192 && b[1] == 0 && b[2] == 2 || b[0] == 198 && b[1] == 51 && b[2] == 100 || b[0] == 203 && b[1] == 0 && b[2] == 113 {
		return // documentation ranges
	}
	sev := moat.SeverityMedium
	if commonResolvers[s] {
		sev = moat.SeverityLow
	}
	h.text = s + ": " + h.text
	a.add("ip-address", moat.CategoryNetwork, up(sev), "names a public IP address to connect to", h)
}

// topLevelCall says whether a top-level line is a call (not a def, class,
// import, decorator or a plain assignment of a literal).
func topLevelCall(trim string) bool {
	for _, p := range []string{"def ", "class ", "import ", "from ", "@", "async def ", "return", "'", "\"", "if __name__"} {
		if strings.HasPrefix(trim, p) {
			return false
		}
	}
	return strings.Contains(trim, "(")
}

// hiddenCode says whether the text after the line's long run of blanks
// reads as a statement.
func hiddenCode(line string) bool {
	loc := reHidden.FindStringIndex(line)
	return reHiddenTail.MatchString(strings.TrimSpace(line[loc[0]+1:]))
}

// hidden shows what follows the run of blanks.
func hidden(h hit, line string) hit {
	loc := reHidden.FindStringIndex(line)
	tail := strings.TrimSpace(line[loc[0]+1:])
	h.text = clip(strings.TrimSpace(line[:loc[0]+1])) + " [" + strconv.Itoa(loc[1]-loc[0]-2) + " blanks] " + clip(tail)
	return h
}

func clip(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}
