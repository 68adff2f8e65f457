//go:build !nokube

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/moat-sandbox/moat/backend/kubernetes"
)

func kubeSeccompCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "kube-seccomp [DIR]",
		Short: "Install moat's seccomp profile on this Kubernetes node, in the kubelet's seccomp directory DIR (default " + kubernetes.SeccompDir + ")",
		Long: "Install moat's seccomp profile on this Kubernetes node, in the kubelet's seccomp directory DIR\n" +
			"(default " + kubernetes.SeccompDir + "). The kubernetes backend's Pods name it as a Localhost\n" +
			"profile; a node without it does not start them. Run it on every node.",
		Args: cobra.MaximumNArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			dir := ""
			if len(args) == 1 {
				dir = args[0]
			}
			p, err := kubernetes.InstallSeccomp(dir)
			if err != nil {
				return err
			}
			fmt.Fprintln(c.OutOrStdout(), p)
			return nil
		},
	}
}
