// Command payload is the static binary exec_at.py drops and runs: it
// does nothing, so only how it was run is what a test looks at.
package main

func main() {}
