package observe

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// FuzzCollectorWrite feeds the audit stream, which a hostile program
// writes, to the line splitter in two pieces cut anywhere: the events kept
// and the count dropped are those of the stream written at once, every
// complete line is either kept or counted, and nothing over audit.MaxLine
// is ever parsed.
func FuzzCollectorWrite(f *testing.F) {
	f.Add([]byte(`{"k":"open","pid":12,"path":"/home/sandbox/.aws/credentials"}`+"\n"), 10)
	f.Add([]byte(`{"k":"exec","pid":1,"path":"/bin/sh"}`+"\n"+`{"k":"conn`), 30)
	f.Add([]byte(strings.Repeat("x", audit.MaxLine+10)+"\n"+`{"k":"open","pid":2,"path":"/etc/passwd"}`+"\n"), audit.MaxLine)
	f.Add([]byte("\n\n\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, cut int) {
		if len(data) > 1<<16 {
			return
		}
		if cut < 0 {
			cut = -cut
		}
		if len(data) > 0 {
			cut %= len(data) + 1
		} else {
			cut = 0
		}
		now := func() int64 { return 0 }
		whole := NewCollector(now)
		whole.Write(data)
		split := NewCollector(now)
		split.Write(data[:cut])
		split.Write(data[cut:])
		ew, dw := whole.Events()
		es, ds := split.Events()
		if len(ew) != len(es) || dw != ds {
			t.Fatalf("whole: %d events, %d dropped; split at %d: %d events, %d dropped", len(ew), dw, cut, len(es), ds)
		}
		for i := range ew {
			if ew[i] != es[i] {
				t.Fatalf("event %d differs: %+v vs %+v", i, ew[i], es[i])
			}
		}
		lines := bytes.Count(data, []byte("\n"))
		if len(ew)+dw < lines {
			t.Fatalf("%d complete lines, but %d kept and %d dropped", lines, len(ew), dw)
		}
	})
}

// A burst of ordinary opens (pip's own) does not crowd out what tells:
// the credential read and the exec that follow it are kept, and the
// opens over the bulk's share are counted.
func TestCollectorReserve(t *testing.T) {
	c := NewCollector(func() int64 { return 0 })
	var b bytes.Buffer
	for i := 0; i < MaxAuditEvents; i++ {
		b.WriteString(`{"k":"open","pid":5,"path":"/usr/lib/python3/x` + strings.Repeat("y", i%7) + `.py"}` + "\n")
	}
	b.WriteString(`{"k":"open","pid":5,"path":"/home/sandbox/.ssh/id_rsa"}` + "\n")
	b.WriteString(`{"k":"exec","pid":5,"path":"/bin/sh","detail":"sh -c id"}` + "\n")
	c.Write(b.Bytes())
	evs, dropped := c.Events()
	var cred, exec bool
	for _, e := range evs {
		cred = cred || e.Path == "/home/sandbox/.ssh/id_rsa"
		exec = exec || e.Kind == "exec"
	}
	if !cred || !exec || dropped == 0 {
		t.Fatalf("credential read kept %v, exec kept %v, dropped %d", cred, exec, dropped)
	}
}

func TestKernelReserves(t *testing.T) {
	sum := 0
	for _, k := range []string{"exec", "connect", "exec-failed", "denied"} {
		sum += KernelReserve(moat.Kind(k))
	}
	if sum != MaxKernelEvents {
		t.Fatalf("reserves sum to %d, want MaxKernelEvents %d", sum, MaxKernelEvents)
	}
}

// TestCollectorUntilHello: what a prestarted interpreter's stub does
// before its hello is not kept, nor counted; the hello and everything
// after it is, a hello forged later changes nothing.
func TestCollectorUntilHello(t *testing.T) {
	c := NewCollector(func() int64 { return 0 })
	c.UntilHello()
	for _, l := range []string{
		`{"k":"native","pid":2,"name":"ctypes.dlopen"}`,
		`{"k":"open","pid":2,"path":"/home/x/.aws/credentials"}`,
		`not json`,
		`{"k":"hello","pid":2,"path":"/usr/bin/python3"}`,
		`{"k":"open","pid":2,"path":"/home/x/.ssh/id_rsa"}`,
		`{"k":"hello","pid":2,"path":"/usr/bin/python3"}`,
		`{"k":"open","pid":2,"path":"/home/x/.netrc"}`,
	} {
		c.Line([]byte(l))
	}
	evs, dropped := c.Events()
	var got []string
	for _, e := range evs {
		got = append(got, string(e.Kind)+" "+e.Path)
	}
	want := "hello /usr/bin/python3,open /home/x/.ssh/id_rsa,hello /usr/bin/python3,open /home/x/.netrc"
	if strings.Join(got, ",") != want || dropped != 0 {
		t.Errorf("kept %q dropped %d, want %q and 0", got, dropped, want)
	}
}
