//go:build !linux

// Command zygote times the native zygote, which needs Linux.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "bench/zygote: the native zygote needs Linux")
	os.Exit(1)
}
