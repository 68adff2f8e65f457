package report

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	"github.com/moat-sandbox/moat"
	"github.com/moat-sandbox/moat/internal/termsafe"
)

// SARIF 2.1.0, the subset code scanning reads.
const (
	SARIFVersion = "2.1.0"
	SARIFSchema  = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool        sarifTool         `json:"tool"`
	Results     []sarifResult     `json:"results"`
	Invocations []sarifInvocation `json:"invocations,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	DefaultConfiguration map[string]any `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations,omitempty"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation struct {
		ArtifactLocation struct {
			URI string `json:"uri"`
		} `json:"artifactLocation"`
		Region *sarifRegion `json:"region,omitempty"`
	} `json:"physicalLocation"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

type sarifInvocation struct {
	ExecutionSuccessful bool           `json:"executionSuccessful"`
	ExitCode            int            `json:"exitCode"`
	ExitCodeDescription string         `json:"exitCodeDescription,omitempty"`
	Properties          map[string]any `json:"properties,omitempty"`
}

var categoryText = map[moat.Category]string{
	moat.CategoryCredentialAccess: "The program read credentials: moat's planted fake secrets (honeytokens).",
	moat.CategoryExfiltration:     "A planted fake secret, raw or encoded, appeared in network traffic, DNS names, commands or files the program wrote.",
	moat.CategoryPersistence:      "The program wrote something that runs again later: .pth with code, sitecustomize, shell rc files, crontabs, autostart entries, entry-point scripts.",
	moat.CategoryExecution:        "The program started other programs: shells, downloaded files.",
	moat.CategoryNetwork:          "The program tried to reach the network.",
	moat.CategoryEvasion:          "The program tried to get around observation or confinement: native code bypassing audit hooks, denied syscalls.",
	moat.CategoryResourceAbuse:    "The program exhausted a limit: CPU time until the timeout, memory, processes.",
}

// Categories lists every category in a fixed order (the SARIF rules).
var Categories = []moat.Category{moat.CategoryCredentialAccess, moat.CategoryExfiltration, moat.CategoryPersistence, moat.CategoryExecution, moat.CategoryNetwork, moat.CategoryEvasion, moat.CategoryResourceAbuse}

func sarifLevel(sev moat.Severity) string {
	switch sev {
	case "critical", "high":
		return "error"
	case "medium":
		return "warning"
	}
	return "note"
}

var securitySeverity = map[moat.Severity]string{"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}

// SARIFOptions say what the run was about.
type SARIFOptions struct {
	// Artifact is the file the findings are located in (the script or
	// package under test), relative to the repository root if possible.
	Artifact string
	Version  string // moat's version
}

// WriteSARIF writes res's findings as a SARIF 2.1.0 log with one run.
func WriteSARIF(w io.Writer, res *moat.Result, opt SARIFOptions) error {
	inv := []sarifInvocation{{ExecutionSuccessful: res.Status != moat.StatusError, ExitCode: res.ExitStatus(), ExitCodeDescription: string(res.Status)}}
	return writeSARIF(w, res.Findings, inv, opt)
}

func writeSARIF(w io.Writer, findings []moat.Finding, inv []sarifInvocation, opt SARIFOptions) error {
	d := sarifDriver{Name: "moat", InformationURI: "https://github.com/moat-sandbox/moat", Version: opt.Version}
	index := map[moat.Category]int{}
	for i, cat := range Categories {
		c := string(cat)
		index[cat] = i
		d.Rules = append(d.Rules, sarifRule{
			ID: "moat/" + c, Name: ruleName(c),
			ShortDescription:     sarifText{c},
			FullDescription:      sarifText{categoryText[cat]},
			DefaultConfiguration: map[string]any{"level": "warning"},
			Properties:           map[string]any{"tags": []string{"security", "behaviour", c}},
		})
	}
	results := []sarifResult{}
	for _, f := range findings {
		i, ok := index[f.Category]
		if !ok {
			continue
		}
		r := sarifResult{RuleID: "moat/" + string(f.Category), RuleIndex: i, Level: sarifLevel(f.Severity), Message: sarifText{f.Summary},
			Properties: map[string]any{"severity": f.Severity, "security-severity": securitySeverity[f.Severity], "evidence": f.Evidence}}
		if f.Phase != "" {
			r.Properties["phase"] = f.Phase
		}
		if f.Rule != "" {
			r.Properties["rule"] = f.Rule
		}
		if f.Confirmed != "" {
			r.Properties["confirmed"] = f.Confirmed
		}
		if locs := scanLocations(f, opt.Artifact); len(locs) > 0 {
			r.Locations = locs
		} else if opt.Artifact != "" {
			var l sarifLocation
			l.PhysicalLocation.ArtifactLocation.URI = opt.Artifact
			r.Locations = []sarifLocation{l}
		}
		results = append(results, r)
	}
	log := sarifLog{Schema: SARIFSchema, Version: SARIFVersion, Runs: []sarifRun{{
		Tool: sarifTool{Driver: d}, Results: results, Invocations: inv,
	}}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(log); err != nil {
		return err
	}
	// A name's invisible characters and bidi marks, shown (as on moat's
	// lines): inside a JSON string, an escaped backslash and uXXXX.
	_, err := w.Write(termsafe.ShowUnseen(b.Bytes(), `\\u`))
	return err
}

// WriteFindingsSARIF writes findings of `moat scan` as a SARIF 2.1.0 log:
// each located at the file and line its evidence names (inside the
// artifact for an archive).
func WriteFindingsSARIF(w io.Writer, findings []moat.Finding, opt SARIFOptions) error {
	return writeSARIF(w, findings, []sarifInvocation{{ExecutionSuccessful: true}}, opt)
}

// scanLocations are the files and lines a scan finding's evidence names:
// relative to a project directory, or below an archive's name.
func scanLocations(f moat.Finding, artifact string) []sarifLocation {
	var out []sarifLocation
	for _, e := range f.Evidence {
		if e.Source != moat.SourceScan || e.Path == "" || len(out) == 5 {
			continue
		}
		var l sarifLocation
		uri := e.Path
		if artifact != "" && (strings.HasSuffix(artifact, ".tar.gz") || strings.HasSuffix(artifact, ".tgz") || strings.HasSuffix(artifact, ".whl") || strings.HasSuffix(artifact, ".zip")) {
			uri = strings.TrimSuffix(artifact, "/") + "/" + e.Path
		}
		l.PhysicalLocation.ArtifactLocation.URI = uri
		if e.Line > 0 {
			l.PhysicalLocation.Region = &sarifRegion{StartLine: e.Line}
		}
		out = append(out, l)
	}
	return out
}

func ruleName(c string) string {
	parts := strings.Split(c, "-")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "")
}
