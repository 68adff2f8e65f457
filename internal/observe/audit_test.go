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

// TestReadUntilUnfinishedLine: a line the program leaves unfinished in
// the hook's channel (written without its newline, then the program
// ended) does not hide the end mark that moat writes behind it: the
// reading ends there, as for a channel that holds whole lines only, and
// the unfinished line is counted as dropped. Before, the mark was read as
// the end of the program's line and the reading went on past it (here:
// into the line behind it; in a run: until the backstop deadline, a
// second of every run, with nothing said).
func TestReadUntilUnfinishedLine(t *testing.T) {
	mark := []byte("\x00moat-end 0123456789abcdef\n")
	var stream bytes.Buffer
	stream.WriteString(`{"k":"open","pid":12,"path":"/etc/hostname"}` + "\n")
	stream.WriteString(`{"k":"open","pid":12,"pa`) // unfinished
	stream.Write(mark)
	stream.WriteString(`{"k":"open","pid":12,"path":"/etc/passwd"}` + "\n") // behind the mark: never read
	c := NewCollector(func() int64 { return 0 })
	c.ReadUntil(&stream, mark)
	evs, dropped := c.Events()
	var paths []string
	for _, e := range evs {
		paths = append(paths, e.Path)
	}
	if len(evs) != 1 || evs[0].Path != "/etc/hostname" || dropped != 1 {
		t.Errorf("events %q, dropped %d: want only /etc/hostname, 1 dropped", paths, dropped)
	}
}

// TestCollectorWitnessReserve: the test runner's records are kept beside
// a flood of telling events (which fill the priority reserve) and of
// ordinary ones, up to their own reserve; a flood of them is counted.
func TestCollectorWitnessReserve(t *testing.T) {
	c := NewCollector(func() int64 { return 0 })
	var b bytes.Buffer
	for i := 0; i < MaxAuditEvents; i++ {
		b.WriteString(`{"k":"exec","pid":5,"path":"/bin/true","detail":"` + strings.Repeat("x", i%9) + `"}` + "\n")
		b.WriteString(`{"k":"open","pid":5,"path":"/work/f"}` + "\n")
	}
	b.WriteString(`{"k":"testreport","pid":5,"path":"end","detail":"exitstatus=0"}` + "\n")
	c.Write(b.Bytes())
	evs, _ := c.Events()
	if e := evs[len(evs)-1]; e.Kind != moat.KindTestReport || e.Path != "end" {
		t.Fatalf("the record after the flood was not kept: last event %+v", e)
	}
	b.Reset()
	for i := 0; i < WitnessReserve; i++ {
		b.WriteString(`{"k":"testreport","pid":5,"path":"failed","name":"t"}` + "\n")
	}
	c.Write(b.Bytes())
	evs, dropped := c.Events()
	n := 0
	for _, e := range evs {
		if e.Kind == moat.KindTestReport {
			n++
		}
	}
	if n != WitnessReserve || dropped == 0 {
		t.Fatalf("%d records kept, %d dropped; want %d kept", n, dropped, WitnessReserve)
	}
}
