package main

import (
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

func newStatusCommand(k *kube, streams genericiooptions.IOStreams) *cobra.Command {
	var (
		output    outputFormat
		all       bool
		maxErrors int
	)
	c := &cobra.Command{
		Use:   "status [-n NS | -A] [-o json|yaml]",
		Short: "One screen per account: objects by state and reason, drift, last errors",
		Long: `Shows one screen per account: the managed objects by Ready and Synced reason, the drifted ones
and the last errors, from the custom resources' status.`,
		Example: `  kubectl pbx status
  kubectl pbx status -A -o json | jq '.accounts[] | select(.errorsTotal > 0) | .name'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			ns := ""
			if !all {
				var err error
				if ns, err = k.namespace(); err != nil {
					return err
				}
			}
			cl, err := k.client()
			if err != nil {
				return err
			}
			report, err := plugin.ReadStatus(c.Context(), cl, ns, maxErrors)
			if err != nil {
				return err
			}
			return output.print(streams.Out, report, report.WriteText)
		},
	}
	addOutputFlag(c, &output)
	c.Flags().BoolVarP(&all, "all-namespaces", "A", false, "every namespace")
	c.Flags().IntVar(&maxErrors, "errors", 10, "how many of the last errors to show per account")
	return c
}
