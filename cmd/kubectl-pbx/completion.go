package main

import (
	"fmt"
	"slices"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// shells are the shells that completion writes scripts for.
var shells = []string{"bash", "zsh", "fish"}

func newCompletionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print the shell completion script",
		Long: `Prints the shell completion script of kubectl-pbx for bash, zsh or fish.

The script completes the kubectl-pbx command. For "kubectl pbx <TAB>", kubectl (1.26 and
later) runs an executable named kubectl_complete-pbx from the PATH; a link by that name to
kubectl-pbx answers it:

  ln -s "$(command -v kubectl-pbx)" "$(dirname "$(command -v kubectl-pbx)")/kubectl_complete-pbx"

(installed with krew, that is ~/.krew/bin/kubectl_complete-pbx).`,
		Example: `  source <(kubectl pbx completion bash)
  kubectl pbx completion zsh > "${fpath[1]}/_kubectl-pbx"
  kubectl pbx completion fish > ~/.config/fish/completions/kubectl-pbx.fish`,
		ValidArgs: shells,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains(shells, args[0]) {
				return fmt.Errorf("give one shell: bash, zsh or fish (got %q)", args)
			}
			return nil
		},
		DisableFlagsInUseLine: true,
		RunE: func(c *cobra.Command, args []string) error {
			root := c.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(streams.Out, true)
			case "zsh":
				return root.GenZshCompletion(streams.Out)
			default:
				return root.GenFishCompletion(streams.Out, true)
			}
		},
	}
}
