package nsinit

import (
	_ "embed"
	"strconv"
)

// WarmStub is the program of a prestarted interpreter ([Prestart]),
// run as `python -c WarmStub`.
//
//go:embed warm.py
var WarmStub string

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
