// Package matcher times the secret matcher (honeytoken.Matcher) on the
// data sizes docs/report.md quotes: run
//
//	go test -run - -bench . -benchtime 3x ./bench/matcher
package matcher

import (
	"math/rand"
	"strings"
	"syscall"
	"testing"

	"github.com/moat-sandbox/moat/internal/observe/honeytoken"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// tokens: n values shaped as moat's (40 random letters and digits),
// none of them in the data, so every view is searched for every token.
func tokens(n int) []honeytoken.Token {
	r := rand.New(rand.NewSource(1))
	var ts []honeytoken.Token
	for i := range n {
		v := make([]byte, 40)
		for j := range v {
			v[j] = alnum[r.Intn(len(alnum))]
		}
		ts = append(ts, honeytoken.Token{ID: string(rune('a' + i)), Value: string(v)})
	}
	return ts
}

// BenchmarkBase64MiB: one call on 1 MiB of base64-alphabet data.
func BenchmarkBase64MiB(b *testing.B) {
	const b64 = alnum + "+/"
	r := rand.New(rand.NewSource(2))
	data := make([]byte, 1<<20)
	for i := range data {
		data[i] = b64[r.Intn(len(b64))]
	}
	m := honeytoken.NewMatcher(tokens(20))
	b.ResetTimer()
	defer cpu(b)()
	for range b.N {
		if hits := m.Match(data); len(hits) != 0 {
			b.Fatal(hits)
		}
	}
}

// BenchmarkWalkFlood: the 200 file events of report's
// TestSecretSearchBudget, each a path of 3,750 hex-like characters
// (moattest's walk-flood), in the form the report searches them.
func BenchmarkWalkFlood(b *testing.B) {
	dir := "/work/f" + strings.Repeat("/"+strings.Repeat("d", 250), 15)
	var names [][]byte
	for i := range 200 {
		p := dir + "/" + strings.Repeat("n", 240) + string(rune('a'+i%26))
		names = append(names, []byte(p+"\n"+strings.NewReplacer(".", "", "/", "").Replace(p)))
	}
	m := honeytoken.NewMatcher(tokens(20))
	b.ResetTimer()
	defer cpu(b)()
	for range b.N {
		for _, n := range names {
			if hits := m.Match(n); len(hits) != 0 {
				b.Fatal(hits)
			}
		}
	}
}

// cpu reports the process's CPU time an operation (cpu-ns/op) besides
// the wall time: on a shared machine the wall time is mostly the wait.
func cpu(b *testing.B) func() {
	start := used()
	return func() { b.ReportMetric(float64(used()-start)/float64(b.N), "cpu-ns/op") }
}

func used() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkNewMatcher: the index of 20 tokens' forms, made once a run.
func BenchmarkNewMatcher(b *testing.B) {
	ts := tokens(20)
	defer cpu(b)()
	for range b.N {
		honeytoken.NewMatcher(ts)
	}
}
