package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
)

// DistInfo is the directory of the installed-distribution metadata that
// goes with [PthFile] and [Module]: an editable install of devtools 0.1
// as pip records one (PEP 376, PEP 610, PEP 660). Without it the .pth
// is a tell: an editable install's finder with no distribution behind
// it in importlib.metadata or pip list.
const DistInfo = "devtools-0.1.dist-info"

// distSource is where the editable install's project lives, as its
// direct_url.json says.
const distSource = "file:///opt/devtools"

// distMeta are the dist-info files as setuptools' editable wheel and pip
// write them, but RECORD.
var distMeta = map[string]string{
	"INSTALLER": "pip\n",
	"METADATA": "Metadata-Version: 2.1\nName: devtools\nVersion: 0.1\n" +
		"Summary: Local development helpers\nRequires-Python: >=3.8\n",
	"REQUESTED":       "",
	"WHEEL":           "Wheel-Version: 1.0\nGenerator: setuptools (68.1.2)\nRoot-Is-Purelib: true\nTag: py3-none-any\n\n",
	"direct_url.json": `{"dir_info": {"editable": true}, "url": "` + distSource + `"}` + "\n",
	"top_level.txt":   "devtools\n",
}

// Dist returns the files of [DistInfo], by their paths in the site
// directory, for a site directory that holds [PthFile] as pth, [Module]
// as hook and, when pycTag is not "", the module's bytecode for that
// cache tag (its RECORD line has no hash, as pip writes for the files it
// compiles). RECORD lists every file with its sha256 and size, sorted,
// as pip does.
func Dist(pth, hook, pycTag string) map[string]string {
	out := make(map[string]string, len(distMeta)+1)
	var rows []string
	row := func(name, data string) {
		sum := sha256.Sum256([]byte(data))
		rows = append(rows, name+",sha256="+base64.RawURLEncoding.EncodeToString(sum[:])+","+strconv.Itoa(len(data)))
	}
	row(PthFile, pth)
	row(Module+".py", hook)
	if pycTag != "" {
		rows = append(rows, "__pycache__/"+Module+"."+pycTag+".pyc,,")
	}
	for name, data := range distMeta {
		out[DistInfo+"/"+name] = data
		row(DistInfo+"/"+name, data)
	}
	rows = append(rows, DistInfo+"/RECORD,,")
	slices.Sort(rows)
	out[DistInfo+"/RECORD"] = strings.Join(rows, "\n") + "\n"
	return out
}

// CacheTag guesses the bytecode cache tag of the CPython whose site
// directory is site (…/python3.11/…: cpython-311); "" when it cannot.
func CacheTag(site string) string {
	for _, part := range strings.Split(site, "/") {
		v, ok := strings.CutPrefix(part, "python")
		maj, minor, dot := strings.Cut(v, ".")
		if !ok || !dot || maj == "" || minor == "" {
			continue
		}
		if _, err := strconv.Atoi(maj); err != nil {
			continue
		}
		if _, err := strconv.Atoi(minor); err != nil {
			continue
		}
		return "cpython-" + maj + minor
	}
	return ""
}
