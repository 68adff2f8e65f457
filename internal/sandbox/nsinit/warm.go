package nsinit

import (
	_ "embed"
	"strconv"
	"strings"
)

//go:embed warm.py
var warmSource string

// WarmStub is the program of a prestarted interpreter ([Prestart]),
// run as `python -c WarmStub`: warm.py without its comment lines, which
// would name moat in the interpreter's argv until the stub replaces it.
var WarmStub = uncomment(warmSource)

// uncomment drops the lines of Python source src that hold a comment
// alone.
func uncomment(src string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(src, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l)
		}
	}
	return b.String()
}

// warmMessage is what the init hands a prestarted interpreter: the
// number of argv fields, argv, then the environment, each field ended by
// a NUL (execve's strings cannot hold one either).
func warmMessage(argv, env []string) []byte {
	b := strconv.AppendInt(nil, int64(len(argv)), 10)
	b = append(b, 0)
	for _, s := range append(append([]string(nil), argv...), env...) {
		b = append(append(b, s...), 0)
	}
	return b
}
