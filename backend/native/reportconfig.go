package native

import "github.com/moat-sandbox/moat/internal/honeytoken"

// reportConfig is the parent's part of initConfig for the report.
type reportConfig struct {
	StartMono int64              `json:"start_mono"` // CLOCK_MONOTONIC of the run's start
	Files     map[string]string  `json:"files"`      // honeytoken files to plant
	Tokens    []honeytoken.Token `json:"tokens"`
}
