package report

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// Verdicts of the verification, in a bytecode event's Name (set on the
// host only, by VerifyBytecode; an event without one was not verified).
const (
	BytecodeSame    = "verified-same"    // its code object is what its source compiles to
	BytecodeDiffers = "verified-differs" // its code object is not
)

// RunFunc runs a spec in a fresh sandbox of the backend (and runtime or
// image) of the run being reported.
type RunFunc func(ctx context.Context, spec *moat.Spec) (*moat.Result, error)

// Unverified is a RunFunc that runs nothing: every suspect stays high,
// "not verified: why" (a canceled run; a backend that cannot carry the
// files out).
func Unverified(why string) RunFunc {
	return func(context.Context, *moat.Spec) (*moat.Result, error) { return nil, unverified(why) }
}

type unverified string

func (u unverified) Error() string { return string(u) }

// verifyTimeout bounds the verification run (one interpreter start and
// at most observe.MaxPycPairs compiles; generous for a loaded host and a
// micro-VM's boot).
const verifyTimeout = 60 * time.Second

// verifyScript is run as `python -I -S -B -c verifyScript NONCE OPTS`
// in a sandbox holding only N.pyc and N.py for each suspect: isolated (no
// PYTHONPATH, no working directory or user site on sys.path, no site.py,
// so no file of the sandbox is imported), it checks that each .pyc's
// magic number is this interpreter's, unmarshals its code object and
// compares it by value (bytecode, constants with nested code, names,
// line table; not the file name) with what compiling the source the way
// importlib does gives, at the .opt-N level of its name. marshal.loads
// builds objects of the builtin types only and runs no code of the file:
// a malformed one raises (or crashes the interpreter): no answer, and the
// suspect stays unverified. Every answer line carries the nonce, which
// only the command line holds.
const verifyScript = `import sys, marshal, importlib.util
nonce, opts = sys.argv[1], [o for o in sys.argv[2].split(",") if o]
out = []
for i, o in enumerate(opts):
    try:
        with open("%d.pyc" % i, "rb") as f:
            data = f.read()
        with open("%d.py" % i, "rb") as f:
            src = f.read()
        if data[:4] != importlib.util.MAGIC_NUMBER:
            v = "magic"
        else:
            code = marshal.loads(data[16:])
            ref = compile(src, "%d.py" % i, "exec", dont_inherit=True, optimize=int(o))
            v = "same" if type(code) is type(ref) and code == ref else "differs"
    except Exception as e:
        v = "error"
    out.append("%s %d %s" % (nonce, i, v))
out.append("%s done %d" % (nonce, len(opts)))
sys.stdout.write("\n".join(out) + "\n")
`

// VerifyBytecode checks the suspect bytecode of a run (the fs diff's
// "bytecode" events) against its source, in one run of run: a .pyc whose
// code object is what its source compiles to is benign bytecode
// (compileall, py_compile, an interpreter without moat's hook), marked
// BytecodeSame; one whose code differs is marked BytecodeDiffers. Every
// other (no pair kept, the verification failed, timed out, or gave no
// answer for it, a magic number not the run's interpreter's) keeps no
// verdict and says why in its Detail: the finding stays high (fail
// closed). pairs are the diff's (observe.Differ.Pycs); run nil: the
// backend cannot carry them out, nothing is verified. A verdict an event
// came with is dropped first: only this function gives one.
func VerifyBytecode(evs []moat.Event, pairs []observe.PycPair, run RunFunc) []moat.Event {
	// A verdict comes from here alone: one an event brought with it (a
	// micro-VM's guest sends its events) is dropped.
	out := append([]moat.Event(nil), evs...)
	var idx []int
	for i, e := range out {
		if e.Source == moat.SourceFS && e.Kind == moat.KindBytecode {
			out[i].Name = ""
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return out
	}
	// A pair answers for the one event of its path: a path (cut to its
	// bound) two pairs or two events share is not verified, so that a
	// benign .pyc cannot answer for a planted one.
	byPath, events := map[string]int{}, map[string]int{}
	for i, p := range pairs {
		if _, dup := byPath[p.Path]; dup {
			byPath[p.Path] = -1
		} else if i < observe.MaxPycPairs {
			byPath[p.Path] = i
		}
	}
	for _, i := range idx {
		events[out[i].Path]++
	}
	answers, why := map[int]string{}, ""
	switch {
	case run == nil:
		why = "this backend does not carry the .pyc files and their sources out for it"
	case len(pairs) == 0:
		why = "the .pyc or its source was not carried out (over the bounds, or not readable)"
	default:
		answers, why = verifyRun(pairs[:min(len(pairs), observe.MaxPycPairs)], run)
	}
	for _, i := range idx {
		e := &out[i]
		n, ok := byPath[e.Path]
		if ok && (n < 0 || events[e.Path] > 1) {
			e.Detail += "; not verified: its path, cut to its bound, is not told apart from another's"
			continue
		}
		if !ok {
			e.Detail += "; not verified: " + cmp.Or(why, "the .pyc or its source was not carried out (over the bounds, a .pyc with no source, or not readable)")
			continue
		}
		switch answers[n] {
		case "same":
			e.Name = BytecodeSame
		case "differs":
			e.Name = BytecodeDiffers
			e.Detail += "; its code differs from what " + audit.CleanPath(pairs[n].SourcePath, audit.MaxPath) + " compiles to (verified with the run's interpreter)"
		case "magic":
			e.Detail += "; not verified: its magic number is not the run's interpreter's"
		case "error":
			e.Detail += "; not verified: its code could not be unmarshalled or its source compiled"
		default:
			e.Detail += "; not verified: " + cmp.Or(why, "the verification gave no answer for it")
		}
	}
	return out
}

// verifyRun runs the verification of pairs and returns its answers by
// index ("same", "differs", "magic", "error"), or why it has none.
func verifyRun(pairs []observe.PycPair, run RunFunc) (map[int]string, string) {
	var nonce [16]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return nil, "no nonce: " + err.Error()
	}
	tag := hex.EncodeToString(nonce[:])
	files := map[string][]byte{}
	opts := make([]string, len(pairs))
	for i, p := range pairs {
		files[strconv.Itoa(i)+".pyc"] = p.Pyc
		files[strconv.Itoa(i)+".py"] = p.Source
		opts[i] = strconv.Itoa(min(max(p.Opt, 0), 2))
	}
	spec := &moat.Spec{
		Args:     []string{"-I", "-S", "-B", "-c", verifyScript, tag, strings.Join(opts, ",")},
		Files:    files,
		NoReport: true,
		// memory and processes at their defaults: under gVisor through
		// Docker the Sentry and its threads count in them
		Limits: moat.Limits{Timeout: verifyTimeout, Disk: 64 << 20, OutputLimit: 64 << 10},
	}
	ctx, cancel := context.WithTimeout(context.Background(), verifyTimeout+30*time.Second)
	defer cancel()
	res, err := run(ctx, spec)
	switch {
	case errors.As(err, new(unverified)):
		return nil, err.Error()
	case err != nil:
		return nil, "the verification run failed: " + audit.Clean(err.Error(), 200)
	case res.Status != moat.StatusExited || res.ExitCode != 0:
		return nil, fmt.Sprintf("the verification run ended %s (exit %d)", res.Status, res.ExitCode)
	}
	answers, ok := parseAnswers(res.Stdout, tag, len(pairs))
	if !ok {
		return nil, "the verification run did not finish its answer"
	}
	return answers, ""
}

// parseAnswers reads the verification's output (untrusted: it came out
// of a sandbox): the first answer for each index below n on a line that
// starts with tag, and whether the line that ends it ("TAG done N") came.
func parseAnswers(out, tag string, n int) (map[int]string, bool) {
	answers := map[int]string{}
	done := false
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != tag {
			continue
		}
		if f[1] == "done" {
			done = f[2] == strconv.Itoa(n)
			continue
		}
		i, err := strconv.Atoi(f[1])
		if err != nil || i < 0 || i >= n {
			continue
		}
		if _, dup := answers[i]; !dup && (f[2] == "same" || f[2] == "differs" || f[2] == "magic" || f[2] == "error") {
			answers[i] = f[2]
		}
	}
	return answers, done
}
