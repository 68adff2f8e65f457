package container

import (
	"archive/tar"
	"bytes"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/moat-sandbox/moat/internal/observe/audit"
)

// TestCheckCompiled: the hook compiled by the host's python3 passes; the
// same .pyc with another source's hash, or bytecode of another source,
// does not.
func TestCheckCompiled(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3 to compile the hook with")
	}
	compile := func(src string) []byte {
		cmd := exec.Command(py, "-I", "-S", "-c", audit.CompileCode, "/x.py")
		cmd.Stdin = strings.NewReader(src)
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	good := compile(audit.Hook())
	if _, err := checkCompiled(good); err != nil {
		t.Fatalf("the hook's own bytecode: %v", err)
	}
	if _, err := checkCompiled(compile("pass\n")); err == nil {
		t.Fatal("bytecode of another source was believed")
	}
	i := bytes.IndexByte(good, '\n') + 1
	bad := bytes.Clone(good)
	bad[i+8] ^= 1
	if _, err := checkCompiled(bad); err == nil {
		t.Fatal("a .pyc with another source hash was believed")
	}
}

// TestCheckInitTar: a volume of this binary alone passes; one with a file
// of an image's /.moat besides it, or another binary, does not.
func TestCheckInitTar(t *testing.T) {
	tarOf := func(extra string, body []byte) *bytes.Buffer {
		r, err := InitTar()
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tr := tar.NewReader(r)
		_ = tw.WriteHeader(&tar.Header{Name: ".moat/", Typeflag: tar.TypeDir, Mode: 0o755})
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(tr)
			if body != nil {
				b = append(bytes.Clone(body), b[len(body):]...)
			}
			h.Name = ".moat/" + h.Name
			_ = tw.WriteHeader(h)
			_, _ = tw.Write(b)
		}
		if extra != "" {
			_ = tw.WriteHeader(&tar.Header{Name: extra, Typeflag: tar.TypeReg, Mode: 0o755, Size: 2})
			_, _ = tw.Write([]byte("#!"))
		}
		_ = tw.Close()
		return &buf
	}
	if err := CheckInitTar(tarOf("", nil)); err != nil {
		t.Fatalf("moat alone: %v", err)
	}
	if err := CheckInitTar(tarOf(".moat/evil", nil)); err == nil || !strings.Contains(err.Error(), "besides moat") {
		t.Fatalf("a file besides moat: %v", err)
	}
	if err := CheckInitTar(tarOf("", []byte("XX"))); err == nil || !strings.Contains(err.Error(), "not this binary") {
		t.Fatalf("another binary: %v", err)
	}
}
