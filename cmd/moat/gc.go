package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat/internal/cgroup"
)

func gcCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove what crashed runs left behind (empty moat cgroups)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			removed, err := cgroup.GC("moat-")
			for _, r := range removed {
				fmt.Fprintln(c.OutOrStdout(), "removed cgroup", r)
			}
			if err != nil {
				return fmt.Errorf("gc: %w", err)
			}
			return nil
		},
	}
}
