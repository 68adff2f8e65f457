//go:build nokube

package main

import (
	"errors"

	"github.com/spf13/cobra"
)

func kubeSeccompCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "kube-seccomp [DIR]",
		Short:  "Not in this moat: it was built without the kubernetes backend (tag nokube)",
		Hidden: true,
		RunE: func(c *cobra.Command, args []string) error {
			return errors.New("kube-seccomp: this moat was built without the kubernetes backend (tag nokube)")
		},
	}
}
