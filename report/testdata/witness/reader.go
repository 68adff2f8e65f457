// Command reader is a static binary that reads a file with no Python in
// the way: the witness corpus ships it into the workspace.
package main

import (
	"fmt"
	"os"
)

func main() {
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("read", len(b))
}
