package scan

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"path"
	"strings"
	"sync"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/lazyre"
)

// meta is what the package says about itself.
type meta struct {
	name, version string // PKG-INFO or METADATA
	file          string // where they came from
	pyName        string // pyproject.toml [project]
	pyVersion     string
	scripts       map[string]string
}

// readMeta reads PKG-INFO (sdist, project) or the wheel's METADATA.
func (p *pkg) readMeta() {
	var f *file
	switch p.kind {
	case KindWheel:
		for _, g := range p.files {
			if d, b := path.Split(g.name); b == "METADATA" && strings.HasSuffix(strings.TrimSuffix(d, "/"), ".dist-info") && strings.Count(d, "/") == 1 {
				f = g
				break
			}
		}
	case KindSdist, KindProject:
		f = p.byName["PKG-INFO"]
	}
	if f == nil {
		return
	}
	p.meta.file = f.name
	sc := bufio.NewScanner(bytes.NewReader(f.data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" {
			break // the headers end; the description follows
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(k) {
		case "name":
			p.meta.name = clean(strings.TrimSpace(v))
		case "version":
			p.meta.version = clean(strings.TrimSpace(v))
		}
	}
}

// normalize is PEP 503's name normalisation.
func normalize(s string) string {
	return strings.Trim(reSep.ReplaceAllString(strings.ToLower(s), "-"), "-")
}

var reSep = lazyre.New(`[-_.]+`)

// fileNameVersion splits an sdist's or a wheel's file name.
func fileNameVersion(kind, file string) (string, string) {
	switch kind {
	case KindWheel:
		parts := strings.Split(strings.TrimSuffix(file, ".whl"), "-")
		if len(parts) >= 5 {
			return parts[0], parts[1]
		}
	case KindSdist:
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(file, ".tar.gz"), ".tgz"), ".zip")
		if i := strings.LastIndex(base, "-"); i > 0 {
			return base[:i], base[i+1:]
		}
	}
	return "", ""
}

var reSetupName = lazyre.New(`\bname\s*=\s*['"]([A-Za-z0-9][A-Za-z0-9._-]*)['"]`)

// metadata compares what the package states about itself with the
// archive: its file name, its top directory, setup.py, pyproject.toml and
// (wheels) RECORD.
func (a *analysis) metadata() {
	p := a.p
	if p.kind == KindRequirements {
		return
	}
	m := p.meta
	mh := func(text string) hit { return hit{path: m.file, line: 0, text: text} }
	if p.kind == KindSdist && p.root == "" {
		a.add("metadata-layout", moat.CategoryEvasion, moat.SeverityMedium, "not an sdist layout: no single top-level directory (what a build tool makes has one; pip builds it from its top)", hit{path: "", text: clean(p.file)})
	}
	if (p.kind == KindSdist || p.kind == KindWheel) && m.file == "" {
		a.add("metadata-missing", moat.CategoryEvasion, moat.SeverityLow, "no PKG-INFO or METADATA: the archive does not say what it is", hit{text: clean(p.file)})
	}
	fname, fver := fileNameVersion(p.kind, p.file)
	if m.name != "" && fname != "" && normalize(m.name) != normalize(fname) {
		a.add("metadata-name", moat.CategoryEvasion, moat.SeverityMedium, "the metadata names another package than the file name", mh(fmt.Sprintf("Name: %s, file: %s", m.name, clean(p.file))))
	}
	if m.version != "" && fver != "" && m.version != fver && normalize(m.version) != normalize(fver) {
		a.add("metadata-version", moat.CategoryEvasion, moat.SeverityMedium, "the metadata states another version than the file name", mh(fmt.Sprintf("Version: %s, file: %s", m.version, clean(p.file))))
	}
	if p.kind == KindSdist && p.root != "" && m.name != "" {
		if rn, rv := fileNameVersion(KindSdist, p.root+".tar.gz"); rn != "" && (normalize(rn) != normalize(m.name) || (m.version != "" && rv != m.version)) {
			a.add("metadata-version", moat.CategoryEvasion, moat.SeverityMedium, "the top directory names another package or version than the metadata", mh(fmt.Sprintf("directory %s, metadata %s %s", clean(p.root), m.name, m.version)))
		}
	}
	if f := p.byName["setup.py"]; f != nil && m.name != "" {
		if sm := reSetupName.FindSubmatch(f.data); sm != nil && normalize(string(sm[1])) != normalize(m.name) {
			a.add("metadata-name", moat.CategoryEvasion, moat.SeverityMedium, "setup.py names another package than the metadata", hit{path: "setup.py", line: lineOf(f.data, string(sm[0])), text: fmt.Sprintf("setup(name=%q), metadata %s", string(sm[1]), m.name)})
		}
	}
	if m.pyName != "" && m.name != "" && normalize(m.pyName) != normalize(m.name) {
		a.add("metadata-name", moat.CategoryEvasion, moat.SeverityMedium, "pyproject.toml names another package than the metadata", hit{path: "pyproject.toml", line: lineOf(p.byName["pyproject.toml"].data, "name"), text: fmt.Sprintf("name = %q, metadata %s", m.pyName, m.name)})
	}
	if p.kind == KindWheel {
		a.record()
	}
}

// record checks a wheel's RECORD against its files: a file it does not
// list, or whose hash differs, was put in or changed after the build.
func (a *analysis) record() {
	var rec *file
	for _, f := range a.p.files {
		if d, b := path.Split(f.name); b == "RECORD" && strings.HasSuffix(strings.TrimSuffix(d, "/"), ".dist-info") && strings.Count(d, "/") == 1 {
			rec = f
		}
	}
	if rec == nil {
		a.add("metadata-record", moat.CategoryEvasion, moat.SeverityMedium, "the wheel has no RECORD (pip refuses it)", hit{text: clean(a.p.file)})
		return
	}
	r := csv.NewReader(bytes.NewReader(rec.data))
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		a.add("metadata-record", moat.CategoryEvasion, moat.SeverityMedium, "the wheel's RECORD does not parse", hit{path: rec.name, text: err.Error()})
		return
	}
	listed := map[string]bool{}
	for i, row := range rows {
		if len(row) < 2 || row[0] == "" {
			continue
		}
		name := path.Clean(row[0])
		listed[name] = true
		f := a.p.byName[name]
		algo, want, ok := strings.Cut(row[1], "=")
		if f == nil || !ok || algo != "sha256" || int64(len(f.data)) != f.size {
			continue
		}
		sum := sha256.Sum256(f.data)
		if base64.RawURLEncoding.EncodeToString(sum[:]) != strings.TrimRight(want, "=") {
			a.add("metadata-record", moat.CategoryEvasion, moat.SeverityHigh, "a file differs from the hash the wheel's RECORD states: changed after the build", hit{path: rec.name, line: i + 1, text: clean(name)})
		}
	}
	for _, f := range a.p.files {
		b := path.Base(f.name)
		if !listed[f.name] && f != rec && !strings.HasSuffix(b, ".jws") && !strings.HasSuffix(b, ".p7s") {
			a.add("metadata-record", moat.CategoryEvasion, moat.SeverityMedium, "a file the wheel's RECORD does not list: added after the build", hit{path: f.name, text: clean(f.name)})
		}
	}
}

//go:embed popular.txt
var popularText string

// popular is the embedded list of popular PyPI packages: normalised
// distribution name to import name.
var popular = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(popularText, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		dist, imp, ok := strings.Cut(l, ":")
		if !ok {
			imp = strings.ReplaceAll(dist, "-", "_")
		}
		m[normalize(dist)] = imp
	}
	return m
})

// names checks the package's name against popular ones (typosquat) and
// the top-level modules it ships against popular packages' (shadowing).
func (a *analysis) names() {
	p := a.p
	name := p.meta.name
	if name == "" {
		name = p.meta.pyName
	}
	if name == "" {
		name, _ = fileNameVersion(p.kind, p.file)
	}
	if name != "" && p.kind != KindRequirements {
		if near := typosquat(name); near != "" {
			a.add("typosquat", moat.CategoryEvasion, moat.SeverityMedium, "the package's name is one typo away from the popular package "+near, hit{path: p.meta.file, text: clean(name) + " ~ " + near})
		}
	}
	if name == "" || p.kind == KindRequirements {
		return
	}
	own := normalize(name)
	imports := map[string]string{}
	for d, imp := range popular() {
		imports[imp] = d
	}
	seen := map[string]bool{}
	for _, f := range p.files {
		top, rest, nested := strings.Cut(f.name, "/")
		mod := ""
		switch {
		case nested && strings.HasSuffix(rest, ".py") && !strings.Contains(rest, "/") && (rest == "__init__.py"):
			mod = top
		case nested && top == "src":
			if m, r, ok := strings.Cut(rest, "/"); ok && r == "__init__.py" {
				mod = m
			}
		case !nested && strings.HasSuffix(f.name, ".py") && f.name != "setup.py":
			mod = strings.TrimSuffix(f.name, ".py")
		}
		dist, ok := imports[mod]
		if mod == "" || !ok || seen[mod] || dist == own || normalize(mod) == own {
			continue
		}
		seen[mod] = true
		a.add("shadows-module", moat.CategoryEvasion, moat.SeverityHigh, "ships the module "+clean(mod)+" of the popular package "+dist+": installing it replaces that package's code", hit{path: f.name, text: clean(mod)})
	}
}

// typosquat returns the popular package name is one edit away from (or
// that looks the same: l for I, 0 for o), "" if none or if name is itself
// a popular package.
func typosquat(name string) string {
	n := normalize(name)
	pop := popular()
	if _, ok := pop[n]; ok {
		return ""
	}
	look := normalize(strings.NewReplacer("I", "l", "1", "l", "0", "o", "rn", "m").Replace(name))
	for p := range pop {
		if look == p && n != p {
			return p
		}
		if len(p) < 5 || len(n) < 5 {
			continue
		}
		if editDistance1(n, p) {
			return p
		}
	}
	return ""
}

// editDistance1 says whether a and b differ by exactly one insertion,
// deletion, substitution or swap of neighbours.
func editDistance1(a, b string) bool {
	if a == b {
		return false
	}
	la, lb := len(a), len(b)
	if la > lb {
		a, b, la, lb = b, a, lb, la
	}
	if lb-la > 1 {
		return false
	}
	i := 0
	for i < la && a[i] == b[i] {
		i++
	}
	if la == lb {
		if a[i+1:] == b[i+1:] {
			return true // substitution
		}
		return i+1 < la && a[i] == b[i+1] && a[i+1] == b[i] && a[i+2:] == b[i+2:] // swap
	}
	return a[i:] == b[i+1:] // insertion
}

var reReq = lazyre.New(`^\s*([A-Za-z0-9][A-Za-z0-9._-]*)`)

// requirements checks each requirement's name (typosquat) and direct
// references.
func (a *analysis) requirements() {
	f := a.p.files[0]
	for i, l := range strings.Split(string(f.data), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "-") {
			continue
		}
		h := hit{path: f.name, line: i + 1, text: clip(t)}
		if m := reReq.FindStringSubmatch(t); m != nil && !strings.Contains(t, "://") {
			if near := typosquat(m[1]); near != "" {
				a.add("typosquat", moat.CategoryEvasion, moat.SeverityMedium, "a requirement one typo away from the popular package "+near, h)
			}
		}
		a.indicators(f, h, t, false)
	}
}
