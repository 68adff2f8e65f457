package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/report"
)

func main() {
	for _, f := range os.Args[1:] {
		b, _ := os.ReadFile(f)
		var r struct {
			Phases []struct {
				Name   string       `json:"name"`
				Events []moat.Event `json:"events"`
			} `json:"phases"`
		}
		json.Unmarshal(b, &r)
		var out []string
		for _, p := range r.Phases {
			for _, fd := range report.Analyze(p.Events) {
				if fd.Severity.Rank() > 1 && strings.HasPrefix(fd.Summary, "sent the machine's identity") {
					out = append(out, fmt.Sprintf("**%s** (%s): %s", fd.Severity, p.Name, fd.Summary))
				}
			}
		}
		fmt.Printf("%s\t%s\n", strings.TrimSuffix(filepath.Base(f), ".json"), strings.Join(out, "; "))
	}
}
