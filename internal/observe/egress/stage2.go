package egress

import (
	"bytes"
	"compress/zlib"
	"crypto/rand"
	"debug/elf"
	"encoding/base64"
	"encoding/binary"
	"path"
	"runtime"
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

// The forms a second stage is served in, as the request asks for it
// (stage2Form): droppers fetch a script to pipe into a shell or exec(), its
// base64 to decode first, or a program to write and run.
const (
	formScript = "script" // the shell-and-Python polyglot, as text
	formBase64 = "base64" // the polyglot's base64 (a name ending .b64)
	formELF    = "elf"    // a static x86-64 program (a binary's name)
	// formPaste is a paste site's script (pasteLike): the polyglot with
	// a first line that hides its base64 form too (pastePolyglot).
	formPaste = "paste"
	// formStager is the stage a silent TCP client waits for (stagerStage):
	// Metasploit's length-prefixed, base64-of-zlib Python.
	formStager = "stager"
	// formHello is the stage a client that spoke first waits for: a few
	// bytes of no protocol moat knows (a loader's hello, ploghandle's
	// "l"), then silence (helloStage).
	formHello = "hello"
)

// maxHello bounds the hello of a client that spoke first and then waits
// for its code (formHello): a loader's hello is a byte or a word, a
// protocol's request is longer or one moat knows.
const maxHello = 16

// hello is a staged loader's hello: at most maxHello bytes that are not
// the start of a request of a protocol moat knows (an HTTP method, a TLS
// record) after which the client waited for the server.
func hello(b []byte) bool {
	if len(b) == 0 || len(b) > maxHello || b[0] == 0x16 {
		return false
	}
	for _, m := range httpMethods {
		if strings.HasPrefix(m, string(b)) || strings.HasPrefix(string(b), m) {
			return false
		}
	}
	return true
}

// helloStage is what a staged loader that spoke first reads from its
// server and runs in-process, in two parts sent apart: first zlib-
// compressed Python that makes the marker m + "-zlib" (ploghandle-1.66's
// hidden zipapp: send "l", exec(zlib.decompress(recv(999)))), then the
// polyglot, which a loader that exec()s what it reads as it came runs
// after the compressed part failed (a shell inside the program's own
// process reads on). Compressed data with bytes after its end still
// decompresses (Python's zlib.decompress ignores them), so a loader that
// read both parts at once runs the first.
func helloStage(m string) (first, rest string) {
	py := "try:\n    open(\"" + m + "-zlib\", \"a\").close()\nexcept OSError:\n    pass\n"
	var b bytes.Buffer
	w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression) // a valid level: no error
	_, _ = w.Write([]byte(py))                            // to memory: no error
	_ = w.Close()
	script, _ := strings.CutPrefix(polyglot(m), "#!/bin/sh\n")
	return b.String(), "\n" + script
}

// payload returns the next answer's marker (the file's name without its
// "-sh", "-py" or "-elf") and the body of the given form, with its
// content type. The script's first line makes it a shell script when run
// as a file; the shell reads `"""":` as the no-op `:` and exits before the
// Python; Python reads the shell part as a string literal. Its base64
// form decodes to the same script; the ELF form makes the marker "-elf"
// and exits.
func (l *Stage2) payload(form string) (marker, body, ctype string) {
	marker = "." + l.token + "-" + strconv.FormatInt(l.n.Add(1), 10)
	m := Stage2Dir + "/" + marker
	switch form {
	case formELF:
		return marker, string(inertELF(m + "-elf")), "application/octet-stream"
	case formBase64:
		return marker, base64.StdEncoding.EncodeToString([]byte(polyglot(m))) + "\n", "text/plain; charset=utf-8"
	case formPaste:
		return marker, pastePolyglot(m), "text/plain; charset=utf-8"
	case formStager:
		return marker, stagerStage(m), ""
	case formHello:
		first, rest := helloStage(m)
		return marker, first + rest, ""
	}
	return marker, polyglot(m), "text/plain; charset=utf-8"
}

// polyglot is the inert script, valid shell and valid Python, that makes
// the marker file m + "-sh" or m + "-py".
func polyglot(m string) string {
	return "#!/bin/sh\n" +
		"\"\"\"\":\n" +
		"id >/dev/null 2>&1\n" +
		": > " + m + "-sh 2>/dev/null\n" +
		"exit 0\n" +
		"\"\"\"\n" +
		"try:\n" +
		"    open(\"" + m + "-py\", \"a\").close()\n" +
		"except OSError:\n" +
		"    pass\n"
}

// pastePolyglot is the polyglot of m whose shebang line is replaced by a
// comment (of the shell and of Python) holding, base64-encoded, Python
// that makes the marker m + "-b64". A paste's content is exec()d, piped
// into a shell, or base64-decoded first and exec()d (package-test-index's
// loader: exec(base64.b64decode(paste))): Python's b64decode, not strict,
// skips the characters outside base64's alphabet ("#") and stops at the
// padding that ends the encoded line, so it yields that Python alone; the
// shell and exec() read the comment and run the rest as the plain
// polyglot. The encoded code is padded with spaces to a length that is
// not a multiple of 3, so its base64 ends with padding. Without a
// shebang, a paste written and run by execve fails with ENOEXEC (a shell
// runs it as a script): paste content is fetched to be run in-process or
// piped, a program to write and run is served elsewhere (formELF).
func pastePolyglot(m string) string {
	py := "try:\n    open(\"" + m + "-b64\", \"a\").close()\nexcept OSError:\n    pass\n"
	for len(py)%3 == 0 {
		py += " "
	}
	script, _ := strings.CutPrefix(polyglot(m), "#!/bin/sh\n")
	return "#" + base64.StdEncoding.EncodeToString([]byte(py)) + "\n" + script
}

// stagerStage is what a staged reverse-TCP payload reads from its server
// when it connects: a 4-byte big-endian length and that many bytes, which
// it runs in-process. Metasploit's python/meterpreter/reverse_tcp stager
// (the form msfvenom emits, which PyPI droppers paste into setup.py) does
// exec(zlib.decompress(base64.b64decode(d)), {'s': s}); older ones
// exec(d). The stage serves both: its first line is a comment (of Python)
// holding the base64 of zlib-compressed Python that makes the marker m +
// "-b64" (b64decode, not strict, skips the "#" and stops at the padding
// that ends the line, see pastePolyglot); the rest is the polyglot, which
// exec(d) runs and which makes m + "-py". Compressed code is padded until
// its length is not a multiple of 3, so its base64 ends with padding.
func stagerStage(m string) string {
	py := "try:\n    open(\"" + m + "-b64\", \"a\").close()\nexcept OSError:\n    pass\n"
	var z []byte
	for {
		var b bytes.Buffer
		w, _ := zlib.NewWriterLevel(&b, zlib.BestCompression) // a valid level: no error
		_, _ = w.Write([]byte(py))                            // to memory: no error
		_ = w.Close()
		if z = b.Bytes(); len(z)%3 != 0 {
			break
		}
		py += " "
	}
	script, _ := strings.CutPrefix(polyglot(m), "#!/bin/sh\n")
	stage := "#" + base64.StdEncoding.EncodeToString(z) + "\n" + script
	n := make([]byte, 4)
	binary.BigEndian.PutUint32(n, uint32(len(stage)))
	return string(n) + stage
}

// inertELF is a static x86-64 Linux program of one segment that creates
// the file path (open with O_WRONLY|O_CREAT, mode 0644) and exits 0:
// nothing else, no library, no other system call. The descriptor is
// left to exit to close.
func inertELF(path string) []byte {
	const base, hdr = 0x400000, 64 + 56 // one ELF header, one program header
	code := []byte{
		0xb8, 0x02, 0x00, 0x00, 0x00, // mov eax, 2 (open)
		0x48, 0x8d, 0x3d, 21, 0x00, 0x00, 0x00, // lea rdi, [rip+21]: the path, after the code
		0xbe, 0x41, 0x00, 0x00, 0x00, // mov esi, O_WRONLY|O_CREAT
		0xba, 0xa4, 0x01, 0x00, 0x00, // mov edx, 0644
		0x0f, 0x05, // syscall
		0xb8, 0x3c, 0x00, 0x00, 0x00, // mov eax, 60 (exit)
		0x31, 0xff, // xor edi, edi
		0x0f, 0x05, // syscall
	}
	code = append(code, path...)
	code = append(code, 0)
	size := uint64(hdr + len(code))
	eh := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Entry: base + hdr, Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1,
	}
	copy(eh.Ident[:], elf.ELFMAG)
	eh.Ident[elf.EI_CLASS], eh.Ident[elf.EI_DATA], eh.Ident[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	ph := elf.Prog64{Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X), Vaddr: base, Paddr: base, Filesz: size, Memsz: size, Align: 0x1000}
	var b bytes.Buffer
	_ = binary.Write(&b, binary.LittleEndian, eh) // writes to memory: no error
	_ = binary.Write(&b, binary.LittleEndian, ph)
	b.Write(code)
	return b.Bytes()
}

// pasteHosts serve what their users paste, raw: where second stages live.
var pasteHosts = map[string]bool{
	"pastebin.com": true, "paste.website": true, "rentry.co": true, "rentry.org": true, "paste.ee": true, "hastebin.com": true,
	"gist.githubusercontent.com": true, "raw.githubusercontent.com": true, "pastes.io": true, "dpaste.org": true, "dpaste.com": true,
	"termbin.com": true, "transfer.sh": true, "ghostbin.com": true, "controlc.com": true, "paste.c-net.org": true, "bitbucket.org": true,
}

// base64Exts name a download the dropper decodes before it runs it.
var base64Exts = map[string]bool{".b64": true, ".base64": true}

// binaryExts name a program a dropper writes and runs: served as the
// inert ELF where the sandbox runs x86-64 programs.
var binaryExts = map[string]bool{".bin": true, ".elf": true, ".x86_64": true, ".amd64": true, ".x64": true, ".out": true}

// stage2Form is the form of second stage a GET asks for, "" for none: a
// name ending .b64 or .base64 its base64, a program's name (binaryExts) or
// an Accept of application/octet-stream alone the ELF (on x86-64 only: a
// program the sandbox can run), and a script-like request (scriptLike) the
// script.
func stage2Form(method, host, target, ua, accept string) string {
	if method != "GET" {
		return ""
	}
	p, _, _ := strings.Cut(target, "?")
	ext := path.Ext(path.Base(strings.ToLower(p)))
	switch {
	case base64Exts[ext]:
		return formBase64
	case runtime.GOARCH == "amd64" && (binaryExts[ext] || (ext == "" && strings.EqualFold(strings.TrimSpace(accept), "application/octet-stream"))):
		return formELF
	case scriptLike(method, host, target, ua) && pasteLike(host, p):
		return formPaste
	case scriptLike(method, host, target, ua):
		return formScript
	}
	return ""
}

// pasteLike: a paste site's host or a /raw/ path (lower case): where what
// is fetched is someone's paste.
func pasteLike(host, p string) bool {
	return pasteHosts[strings.TrimPrefix(host, "www.")] || strings.Contains(strings.ToLower(p), "/raw/")
}

// scriptExts are the extensions of scripts a dropper fetches.
var scriptExts = map[string]bool{".sh": true, ".bash": true, ".py": true, ".txt": true}

// scriptLike reports whether a GET of target (path and query) on host,
// with the User-Agent ua, is for a script: a script's extension, a paste
// site or a /raw/ path, or a path without extension fetched by curl, wget,
// a bare one-word agent (curl -A O) or a Python HTTP library (pythonClient)
// with no query and no API's segment — not an index page (a path that
// ends in "/") nor anything pip asks for by name.
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
	case pasteLike(host, p):
		return ext == "" || ext == ".txt"
	case ext == "":
		ua = strings.ToLower(ua)
		return strings.HasPrefix(ua, "curl/") || strings.HasPrefix(ua, "wget/") || (ua != "" && !strings.ContainsAny(ua, "/ ")) ||
			(pythonClient(ua) && !strings.Contains(target, "?") && !apiPath(p))
	}
	return false
}

// pythonClients are the User-Agents of Python's HTTP libraries; http.client
// sends none.
var pythonClients = []string{"python-requests/", "python-urllib/", "python-urllib3/", "python-httpx/", "aiohttp/"}

// pythonClient: ua (lower case) is a Python HTTP library's, or none. A
// dropper written in Python fetches its program by name with one
// (djanga-0.4: http.client GET /out, written to ~/.drv and run;
// infoglmi-0.0.8: requests GET /node, written to /tmp/node and run):
// a file it runs must be there to run, or the chain ends at an empty file.
func pythonClient(ua string) bool {
	if ua == "" {
		return true
	}
	for _, p := range pythonClients {
		if strings.HasPrefix(ua, p) {
			return true
		}
	}
	return false
}

// apiPath: p (lower case, no query) names an API's resource, not a file
// (a segment "api", "graphql" or a version "v1"): a library's call that
// gets the empty answer, as before.
func apiPath(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if seg == "api" || seg == "graphql" || len(seg) >= 2 && seg[0] == 'v' && seg[1] >= '0' && seg[1] <= '9' {
			return true
		}
	}
	return false
}
