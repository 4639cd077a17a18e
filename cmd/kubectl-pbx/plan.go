package main

import (
	"errors"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

// planChanges is plan's exit code when applying the manifests would change the PBX or stall;
// 0 is nothing to do and 1 an error, for CI gates.
const planChanges exitCode = 2

func newPlanCommand(k *kube, streams genericiooptions.IOStreams) *cobra.Command {
	var (
		paths  []string
		prune  bool
		output outputFormat
	)
	c := &cobra.Command{
		Use:   "plan -f FILE|DIR|- [-n NS] [--prune=false] [-o json|yaml]",
		Short: "Show what applying manifests would do to the PBX (exit 2: changes, 0: none, 1: error)",
		Long: `Shows what the operator would do to the PBX if the manifests were applied: create, update
(with a field diff), adopt, conflict, already exists, delete on removal. Writes nothing, neither
to the cluster nor to the PBX.

Exit code: 0 nothing to do, 2 changes or objects that would stall, 1 an error.`,
		Example: `  kubectl pbx plan -f pbx/
  kustomize build overlays/prod | kubectl pbx plan -f - -o json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if len(paths) == 0 {
				return errors.New("give the manifests with -f FILE, -f DIR or -f -")
			}
			ns, err := k.namespace()
			if err != nil {
				return err
			}
			cl, err := k.client()
			if err != nil {
				return err
			}
			cmd := plugin.PlanCommand{Kube: cl, Paths: paths, Stdin: streams.In, Namespace: ns, Prune: prune,
				Progress: progress(streams.ErrOut), UserAgent: userAgent()}
			result, err := cmd.Run(c.Context())
			if err != nil {
				return err
			}
			if err := output.print(streams.Out, result, result.WriteText); err != nil {
				return err
			}
			if result.HasChanges() {
				return planChanges
			}
			return nil
		},
	}
	c.Flags().StringSliceVarP(&paths, "filename", "f", nil, "a manifest file, a directory of them, or - for stdin (repeatable)")
	if err := c.MarkFlagFilename("filename", "yaml", "yml", "json"); err != nil {
		panic(err)
	}
	c.Flags().BoolVar(&prune, "prune", true, "plan the deletion of resources of the manifests' namespaces that the manifests do not hold")
	addOutputFlag(c, &output)
	return c
}
