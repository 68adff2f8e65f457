package pkgtest

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/moat-sandbox/moat/internal/termsafe"
)

// Caps of the JUnit parser: the XML was written inside the sandbox, by
// code under test, and is untrusted.
const (
	maxJUnitBytes = 32 << 20 // whole document
	maxJUnitDepth = 64       // element nesting
	maxFailures   = 1000     // names kept
	maxNameLen    = 512      // bytes per name
)

// Tests is the pytest outcome read from a JUnit XML report.
type Tests struct {
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Errors  int `json:"errors"`
	Skipped int `json:"skipped"`
	// Failures names the failed and errored tests ("classname::name"),
	// at most 1000; FailuresTruncated says some were left out.
	Failures          []string `json:"failures"`
	FailuresTruncated bool     `json:"failures_truncated,omitempty"`
}

// ParseJUnit reads a JUnit XML report (pytest's xunit1 or xunit2, or any
// tool writing testsuite/testcase elements). Each <testcase> counts once:
// as an error if it has an <error>, else failed with a <failure>, else
// skipped with a <skipped>, else passed. Testcases nested in a testcase
// are ignored. The document is bounded in size and depth; DTDs and
// entities are not expanded (encoding/xml never does).
func ParseJUnit(r io.Reader) (*Tests, error) {
	lr := &io.LimitedReader{R: r, N: maxJUnitBytes + 1}
	d := xml.NewDecoder(lr)
	d.Strict = true
	t := &Tests{Failures: []string{}}
	depth := 0
	inCase := 0 // depth of the open testcase, 0 if none
	var name string
	var hasErr, hasFail, hasSkip bool
	sawCase, sawSuite := false, false
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if lr.N <= 0 {
			return nil, fmt.Errorf("junit: larger than %d bytes", maxJUnitBytes)
		}
		if err != nil {
			return nil, fmt.Errorf("junit: %s", bound(err.Error()))
		}
		switch e := tok.(type) {
		case xml.StartElement:
			depth++
			if depth > maxJUnitDepth {
				return nil, fmt.Errorf("junit: nested deeper than %d", maxJUnitDepth)
			}
			switch {
			case inCase == 0 && e.Name.Local == "testcase":
				inCase, sawCase = depth, true
				hasErr, hasFail, hasSkip = false, false, false
				name = caseName(e.Attr)
			case inCase == 0 && (e.Name.Local == "testsuite" || e.Name.Local == "testsuites"):
				sawSuite = true
			case inCase == depth-1:
				switch e.Name.Local {
				case "error":
					hasErr = true
				case "failure":
					hasFail = true
				case "skipped":
					hasSkip = true
				}
			}
		case xml.EndElement:
			if depth == 0 {
				return nil, errors.New("junit: unbalanced end element")
			}
			if inCase == depth {
				inCase = 0
				switch {
				case hasErr:
					t.Errors++
					t.addFailure(name)
				case hasFail:
					t.Failed++
					t.addFailure(name)
				case hasSkip:
					t.Skipped++
				default:
					t.Passed++
				}
			}
			depth--
		}
	}
	if depth != 0 {
		return nil, errors.New("junit: document ends inside an element")
	}
	if !sawSuite && !sawCase {
		return nil, errors.New("junit: no testsuite or testcase element")
	}
	return t, nil
}

func (t *Tests) addFailure(name string) {
	if len(t.Failures) >= maxFailures {
		t.FailuresTruncated = true
		return
	}
	t.Failures = append(t.Failures, name)
}

// caseName is "classname::name", bounded to maxNameLen bytes of valid
// UTF-8 and escaped to one line (termsafe.Inline): the name is the
// package's, and a newline in it must not write lines of moat's own.
func caseName(attrs []xml.Attr) string {
	var class, name string
	for _, a := range attrs {
		switch a.Name.Local {
		case "classname":
			class = a.Value
		case "name":
			name = a.Value
		}
	}
	s := name
	if class != "" {
		s = class + "::" + name
	}
	return termsafe.Inline(bound(s))
}

// bound cuts s to maxNameLen bytes at a rune boundary.
func bound(s string) string {
	if len(s) <= maxNameLen {
		return s
	}
	s = s[:maxNameLen]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return strings.TrimSpace(s) + "..."
}
