package server

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Tokens are the bearer tokens the service accepts, each an identity of
// its own: a run is visible only to the token that created it. Only their
// SHA-256 digests are kept.
type Tokens struct {
	sums [][sha256.Size]byte
}

// ReadTokenFile reads one token per line (blank lines and lines starting
// with # are skipped). The file must belong to the server's user and not
// be readable by others, and each token must be at least 16 characters.
func ReadTokenFile(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("token file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	// Someone else's file is someone else's tokens, whatever its mode.
	if uid, ok := fileOwner(fi); ok && uid != os.Geteuid() {
		return nil, fmt.Errorf("token file %s belongs to uid %d, not to this server's user (%d)", path, uid, os.Geteuid())
	}
	var lines []string
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	return NewTokens(lines...)
}

// NewTokens accepts the given tokens (blank and # lines skipped).
func NewTokens(tokens ...string) (*Tokens, error) {
	t := &Tokens{}
	for _, l := range tokens {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if len(l) < 16 {
			return nil, errors.New("token file: a token shorter than 16 characters")
		}
		t.sums = append(t.sums, sha256.Sum256([]byte(l)))
	}
	if len(t.sums) == 0 {
		return nil, errors.New("token file: no token")
	}
	return t, nil
}

// owner returns the identity of the bearer token in an Authorization
// header value, or "" if it is not one of ours. Every token is compared,
// in constant time, over digests of equal length.
func (t *Tokens) owner(header string) string {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || tok == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(tok))
	found := -1
	for i, s := range t.sums {
		if subtle.ConstantTimeCompare(sum[:], s[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return ""
	}
	return "token:" + hex.EncodeToString(t.sums[found][:8])
}
