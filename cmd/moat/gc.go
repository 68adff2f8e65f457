package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat/backend/docker"
	"github.com/moat-sandbox/moat/backend/gvisor"
	"github.com/moat-sandbox/moat/backend/podman"
	"github.com/moat-sandbox/moat/internal/cgroup"
)

func gcCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove what crashed runs left behind (empty moat cgroups, labelled containers) and other builds' init volumes",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			// gVisor sandboxes first: their cgroups are empty only then.
			gvisorRemoved, gerr := gvisor.GC(c.Context())
			for _, r := range gvisorRemoved {
				fmt.Fprintln(c.OutOrStdout(), "removed", r)
			}
			removed, err := cgroup.GC("moat-")
			for _, r := range removed {
				fmt.Fprintln(c.OutOrStdout(), "removed cgroup", r)
			}
			// Containers labelled moat.run by the docker and podman backends,
			// and init volumes of other builds.
			dockerRemoved, derr := docker.GC(c.Context(), "")
			for _, r := range dockerRemoved {
				fmt.Fprintln(c.OutOrStdout(), "removed docker", r)
			}
			podmanRemoved, perr := podman.GC(c.Context())
			for _, r := range podmanRemoved {
				fmt.Fprintln(c.OutOrStdout(), "removed podman", r)
			}
			if err := errors.Join(gerr, err, derr, perr); err != nil {
				return fmt.Errorf("gc: %w", err)
			}
			return nil
		},
	}
}
