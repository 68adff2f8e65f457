package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat"
)

func gcCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove what crashed runs left behind (empty moat cgroups, labelled containers) and other builds' init volumes",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			removed, err := moat.Collect(c.Context())
			for _, r := range removed {
				fmt.Fprintln(c.OutOrStdout(), "removed", r)
			}
			if err != nil {
				return fmt.Errorf("gc: %w", err)
			}
			return nil
		},
	}
}
