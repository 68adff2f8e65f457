package container

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/backend/internal/ctrinit"
)

// frames builds the init's side of a stream under key.
type frames struct {
	tags *ctrinit.Tagger
	buf  bytes.Buffer
}

func newFrames(key []byte) *frames { return &frames{tags: ctrinit.NewTagger(key)} }

func (f *frames) add(t byte, p []byte) *frames {
	h := []byte{t, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(h[1:], uint32(len(p)))
	f.buf.Write(h)
	f.buf.Write(p)
	f.buf.Write(f.tags.Tag(nil, t, p))
	return f
}

func exitFrame(code int) []byte {
	b, _ := json.Marshal(Exit{Exit: code})
	return b
}

func testSession(t *testing.T) *Session {
	t.Helper()
	t.Setenv("MOAT_EVENTS", "off")
	return NewSession(&moat.Spec{Args: []string{"-c", "pass"}}, moat.Limits{}.WithDefaults(), NewPersona(""), func(moat.Status) {})
}

// TestReceiveAuthenticates: frames of the init are believed; a frame the
// program writes (a fake exit, extra stdout), bytes it puts between or
// inside the init's frames, a replayed or a dropped frame all end the run
// as a protocol error, before anything of them is used.
func TestReceiveAuthenticates(t *testing.T) {
	s := testSession(t)
	good := newFrames(s.key).add('o', []byte("real\n")).add('x', exitFrame(7))
	if err := s.Receive(bytes.NewReader(good.buf.Bytes())); err != nil {
		t.Fatalf("the init's own frames: %v", err)
	}
	var res moat.Result
	s.Fill(&res)
	if e := s.ExitReport(); e == nil || e.Exit != 7 || res.Stdout != "real\n" {
		t.Fatalf("exit %+v, stdout %q", e, res.Stdout)
	}

	forged := func(k []byte) []byte { // what a program without the key writes
		return newFrames(k).add('o', []byte("all tests passed\n")).add('x', exitFrame(0)).buf.Bytes()
	}
	cases := map[string]func(key []byte) []byte{
		"forged with another key": func([]byte) []byte { return forged(make([]byte, ctrinit.KeySize)) },
		"forged before the init's": func(key []byte) []byte {
			return append(forged(make([]byte, ctrinit.KeySize)), newFrames(key).add('x', exitFrame(7)).buf.Bytes()...)
		},
		"forged after the init's": func(key []byte) []byte {
			f := newFrames(key).add('o', []byte("real\n"))
			return append(f.buf.Bytes(), forged(make([]byte, ctrinit.KeySize))...)
		},
		"garbage inside a frame": func(key []byte) []byte {
			b := newFrames(key).add('o', bytes.Repeat([]byte("a"), 9000)).add('x', exitFrame(7)).buf.Bytes()
			return append(append(append([]byte(nil), b[:4000]...), "x\x00\x00\x00\x02{}"...), b[4000:]...)
		},
		"replayed frame": func(key []byte) []byte {
			f := newFrames(key).add('o', []byte("once\n"))
			one := bytes.Clone(f.buf.Bytes())
			return append(f.add('x', exitFrame(7)).buf.Bytes(), one...)
		},
		"dropped frame": func(key []byte) []byte {
			f := newFrames(key).add('o', []byte("a"))
			n := f.buf.Len()
			b := f.add('x', exitFrame(7)).buf.Bytes()
			return append(b[:0:0], b[n:]...) // the first frame stolen
		},
	}
	// A stream cut inside a frame (the container killed) is no error, and
	// the cut frame is not used.
	s = testSession(t)
	b := newFrames(s.key).add('o', []byte("a")).add('x', exitFrame(7)).buf.Bytes()
	if err := s.Receive(bytes.NewReader(b[:len(b)-3])); err != nil || s.ExitReport() != nil {
		t.Fatalf("a stream cut in its exit frame: err %v, exit %+v", err, s.ExitReport())
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			s := testSession(t)
			err := s.Receive(bytes.NewReader(build(s.key)))
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("Receive = %v, want ErrProtocol", err)
			}
			var res moat.Result
			s.Fill(&res)
			if e := s.ExitReport(); e != nil && e.Exit != 7 || strings.Contains(res.Stdout, "passed") {
				t.Fatalf("a forged frame was used: exit %+v, stdout %q", e, res.Stdout)
			}
			s.Report(&res)
			if !hasFinding(res.Findings, "evasion", "wrote into its output") {
				t.Fatalf("no evasion finding: %+v", res.Findings)
			}
		})
	}
}

func hasFinding(fs []moat.Finding, cat, summary string) bool {
	for _, f := range fs {
		if string(f.Category) == cat && strings.Contains(f.Summary, summary) {
			return true
		}
	}
	return false
}

// FuzzReceive: whatever the container writes, Receive returns (nil or an
// error), never panics, and believes no frame without the run's tag.
func FuzzReceive(f *testing.F) {
	key := make([]byte, ctrinit.KeySize)
	f.Add(newFrames(key).add('o', []byte("hi")).add('x', exitFrame(3)).buf.Bytes())
	f.Add(newFrames(key).add('t', []byte("tar")).add('t', nil).add('P', []byte("x")).buf.Bytes())
	f.Add([]byte("x\x00\x00\x00\x02{}"))
	f.Add([]byte{'o', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		t.Setenv("MOAT_EVENTS", "")
		s := NewSession(&moat.Spec{Args: []string{"-c", "pass"}}, moat.Limits{}.WithDefaults(), NewPersona(""), func(moat.Status) {})
		s.key = key // the seeds' key: the fuzzer can find only what the tag admits
		err := s.Receive(bytes.NewReader(b))
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Fatalf("Receive = %v", err)
		}
		var res moat.Result
		s.Fill(&res)
		s.Report(&res)
	})
}

// TestBootstrapTags: bootstrap.py's tags are the Go init's (its tagger,
// run by the host's python3).
func TestBootstrapTags(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 to run the bootstrap's tagger with")
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	const run = `import ast, struct, sys
src = sys.stdin.read()
mod = ast.parse(src)
code = compile(ast.Module([n for n in mod.body if isinstance(n, ast.FunctionDef) and n.name in ('sha256', 'tagger')], []), 'b', 'exec')
g = {'struct': struct}
exec(code, g)
tag = g['tagger'](b'0123456789abcdef0123456789abcdef')
for t, p in ((b'o', b'hello'), (b'x', b''), (b'o', b'hello')):
    print(tag(struct.pack('>cI', t, len(p)), p).hex())
`
	cmd := exec.Command(py, "-I", "-S", "-c", run)
	cmd.Stdin = strings.NewReader(bootstrap)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run the bootstrap's tagger: %v\n%s", err, out)
	}
	g := ctrinit.NewTagger(key)
	var want []string
	for _, f := range []struct {
		t byte
		p string
	}{{'o', "hello"}, {'x', ""}, {'o', "hello"}} {
		want = append(want, hex.EncodeToString(g.Tag(nil, f.t, []byte(f.p))))
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("bootstrap tags %v, Go's %v", got, want)
	}
}

// TestReaped: output frames leave the program running; the first frame
// the init sends only after the program's end (here the copy-out's)
// closes Reaped; a forged one does not.
func TestReaped(t *testing.T) {
	s := testSession(t)
	reaped := func() bool {
		select {
		case <-s.Reaped():
			return true
		default:
			return false
		}
	}
	if err := s.Receive(bytes.NewReader(newFrames(s.key).add('o', []byte("x")).add('e', []byte("y")).buf.Bytes())); err != nil || reaped() {
		t.Fatalf("after output frames: %v, reaped %v", err, reaped())
	}
	s = testSession(t)
	_ = s.Receive(bytes.NewReader(newFrames(make([]byte, ctrinit.KeySize)).add('t', nil).buf.Bytes()))
	if reaped() {
		t.Fatal("a forged frame closed Reaped")
	}
	s = testSession(t)
	if err := s.Receive(bytes.NewReader(newFrames(s.key).add('o', []byte("x")).add('t', nil).buf.Bytes())); err != nil || !reaped() {
		t.Fatalf("after the copy-out's frame: %v, reaped %v", err, reaped())
	}
}
