package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadTokenFile: a token file of another user, or one others may
// read, is refused: its tokens are not this server's secret.
func TestReadTokenFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "tokens")
	if err := os.WriteFile(p, []byte("# comment\n\ntoken-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tk, err := ReadTokenFile(p); err != nil || len(tk.sums) != 1 {
		t.Fatalf("own 0600 file: %v", err)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(p); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("0640 file: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to give the file to another user")
	}
	if err := os.Chown(p, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokenFile(p); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Errorf("another user's 0600 file: %v", err)
	}
}
