package microvm

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrames(t *testing.T) {
	var b bytes.Buffer
	fw := &frameWriter{w: &b}
	if err := fw.write(frameExit, []byte(`{"exited":true}`)); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 3*chunkSize+5)
	if _, err := fw.stream(frameStdout).Write(big); err != nil {
		t.Fatal(err)
	}
	kind, p, err := readFrame(&b, nil, maxGuestFrame)
	if err != nil || kind != frameExit || string(p) != `{"exited":true}` {
		t.Fatalf("first frame: %q %q %v", kind, p, err)
	}
	var got []byte
	n := 0
	for {
		kind, p, err := readFrame(&b, nil, maxGuestFrame)
		if err == io.EOF {
			break
		}
		if err != nil || kind != frameStdout || len(p) > chunkSize {
			t.Fatalf("chunk: %q %d bytes %v", kind, len(p), err)
		}
		got = append(got, p...)
		n++
	}
	if !bytes.Equal(got, big) || n != 4 {
		t.Fatalf("stream: %d bytes in %d frames, want %d in 4", len(got), n, len(big))
	}
}

// TestFrameBounds: a frame from the guest over the bound is refused before
// anything is allocated for it; a cut frame is an error, not a short read.
func TestFrameBounds(t *testing.T) {
	_, _, err := readFrame(bytes.NewReader([]byte{frameStdout, 0xff, 0xff, 0xff, 0xff}), nil, maxGuestFrame)
	if !errors.Is(err, errFrame) {
		t.Errorf("4GiB frame: %v, want errFrame", err)
	}
	_, _, err = readFrame(bytes.NewReader([]byte{frameStdout, 0, 0, 0, 9, 'a'}), nil, maxGuestFrame)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut frame: %v, want ErrUnexpectedEOF", err)
	}
}

func FuzzReadFrame(f *testing.F) {
	f.Add([]byte{frameDone, 0, 0, 0, 0})
	f.Add([]byte{frameStdout, 0, 0, 0, 2, 'h', 'i'})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for {
			_, p, err := readFrame(r, nil, 64)
			if err != nil {
				return
			}
			if len(p) > 64 {
				t.Fatalf("payload of %d bytes over the bound", len(p))
			}
		}
	})
}

func TestClean(t *testing.T) {
	if got := clean("a\x1b[2Jb\nc\u009b"); got != `a\x1b[2Jb | c\x9b` {
		t.Errorf("clean: %q", got)
	}
}
