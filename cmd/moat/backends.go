package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat"
)

// backendRow is one line of `moat backends`.
type backendRow struct {
	Name      string     `json:"name"`
	Title     string     `json:"title"`
	Level     moat.Level `json:"level"`
	Built     bool       `json:"built"`
	Available bool       `json:"available"`
	Reason    string     `json:"reason,omitempty"` // why not available, and how to fix
	Notes     []string   `json:"notes,omitempty"`
	Auto      bool       `json:"auto"` // what --isolation auto picks
}

func backendRows(ctx context.Context) []backendRow {
	auto := ""
	if c, err := moat.Select(ctx, "auto"); err == nil {
		auto = c.Name
	}
	var rows []backendRow
	for _, t := range moat.Techniques {
		row := backendRow{Name: t.Name, Title: t.Title, Level: t.Level, Auto: t.Name == auto}
		b, err := moat.Get(t.Name)
		if err != nil {
			row.Reason = "not in this build of moat"
			rows = append(rows, row)
			continue
		}
		row.Built = true
		if err := moat.Check(ctx, b); err != nil {
			row.Reason = err.Error()
		} else {
			row.Available = true
		}
		if d, ok := b.(moat.Describer); ok {
			row.Notes = d.Describe(ctx)
		}
		rows = append(rows, row)
	}
	return rows
}

func backendsCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "backends",
		Short: "List the isolation techniques, their security level and whether they work here",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(c.Context(), 30*time.Second)
			defer cancel()
			rows := backendRows(ctx)
			if asJSON {
				enc := json.NewEncoder(c.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			w := tabwriter.NewWriter(c.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tLEVEL\tAVAILABLE\tDETAILS")
			for _, r := range rows {
				avail := "no"
				if r.Available {
					avail = "yes"
					if r.Auto {
						avail = "yes (auto)"
					}
				}
				details := r.Reason
				if r.Available {
					details = strings.Join(r.Notes, "; ")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s: %s\n", r.Name, r.Level, avail, r.Title, details)
			}
			return w.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return c
}
