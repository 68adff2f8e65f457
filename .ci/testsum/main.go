// Command testsum reads `go test -json` on stdin and prints each
// package's result line, build errors, and the output of tests that failed
// or never ended (a subtest's that passed is left out), then the slowest
// tests: CI has a time limit, and its log says where the time went. Its exit status is go test's, which the caller's
// pipefail keeps.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Elapsed float64
	Output  string
}

type timed struct {
	name    string
	elapsed float64
}

func main() {
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	held := map[string][]string{} // package/test -> its output until it ends
	var times []timed
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 64<<20)
	for in.Scan() {
		var e event
		if json.Unmarshal(in.Bytes(), &e) != nil {
			fmt.Fprintln(out, in.Text()) // not JSON: a build error, say
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(out, e.Output) // a build or vet error (its event has no Package)
		case e.Test == "" && e.Action == "output":
			if !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "PASS\n") {
				fmt.Fprint(out, e.Output)
				out.Flush()
			}
		case e.Action == "output":
			held[key] = append(held[key], e.Output)
		case e.Action == "fail":
			// A subtest's output is printed with its parent's.
			for _, l := range held[key] {
				fmt.Fprint(out, l)
			}
			delete(held, key)
		case e.Action == "pass" || e.Action == "skip":
			delete(held, key)
		}
		if e.Test != "" && (e.Action == "pass" || e.Action == "fail") && strings.Count(e.Test, "/") <= 1 {
			times = append(times, timed{e.Package[strings.LastIndex(e.Package, "/")+1:] + " " + e.Test, e.Elapsed})
		}
	}
	// A test still running when its binary died (a timeout's panic, a
	// crash) never ends: its output is printed, not lost.
	for _, lines := range held {
		for _, l := range lines {
			fmt.Fprint(out, l)
		}
	}
	if err := in.Err(); err != nil {
		out.Flush()
		fmt.Fprintln(os.Stderr, "testsum: reading go test's output:", err)
		os.Exit(1)
	}
	sort.Slice(times, func(i, j int) bool { return times[i].elapsed > times[j].elapsed })
	fmt.Fprintln(out, "== slowest tests")
	for i, t := range times {
		if i == 40 {
			break
		}
		fmt.Fprintf(out, "%8.1fs %s\n", t.elapsed, t.name)
	}
}
