package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

// userAgent is sent to the API server and to the PBX.
func userAgent() string { return "kubectl-pbx/" + version }

// newRootCommand builds kubectl pbx with its commands; k's flags become its persistent flags.
func newRootCommand(k *kube, streams genericiooptions.IOStreams) *cobra.Command {
	root := &cobra.Command{
		// The name is the binary's, so that completion scripts complete kubectl-pbx and never
		// replace kubectl's own; help shows the command as kubectl users type it.
		Use:   "kubectl-pbx",
		Short: "Onboard an existing PBX and watch it with pbx-operator",
		Long: `kubectl pbx: onboard an existing PBX and watch it with pbx-operator.

It connects to the cluster as kubectl does (--kubeconfig, --context, -n, --as, ...), and to the
PBX with the credentials of an Account of the cluster (or, for export, a URL and credentials).`,
		Example: `  kubectl pbx export --account pbx --output-dir pbx/
  kubectl pbx plan -f pbx/
  kubectl apply -k pbx/ && kubectl pbx status -o yaml`,
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl pbx"},
		// run prints the error once; a usage dump would bury it.
		SilenceErrors: true,
		SilenceUsage:  true,
		// The completion command is ours: bash, zsh and fish, with how to hook it into kubectl.
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nSee '%s --help' for the flags", err, c.CommandPath())
	})
	k.flags.AddFlags(root.PersistentFlags())
	k.registerCompletions(root)
	root.AddCommand(
		newExportCommand(k, streams),
		newPlanCommand(k, streams),
		newStatusCommand(k, streams),
		newCompletionCommand(streams),
		newVersionCommand(streams),
	)
	return root
}

func newVersionCommand(streams genericiooptions.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(streams.Out, version)
			return err
		},
	}
}

// kube is the connection to the cluster, from kubectl's flags.
type kube struct {
	flags *genericclioptions.ConfigFlags
}

// newKube is a connection with kubectl's flags at their defaults.
func newKube() *kube { return &kube{flags: genericclioptions.NewConfigFlags(true)} }

// namespace is --namespace, or else the kubeconfig context's namespace ("default" when it has
// none).
func (k *kube) namespace() (string, error) {
	ns, _, err := k.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	return ns, nil
}

// client connects to the cluster of the flags.
func (k *kube) client() (client.Client, error) {
	cfg, err := k.flags.ToRESTConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.UserAgent = userAgent()
	c, err := client.New(cfg, client.Options{Scheme: plugin.Scheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, nil
}

// registerCompletions completes the values of kubectl's flags that name kubeconfig entries
// (from the kubeconfig) or namespaces (from the cluster).
func (k *kube) registerCompletions(root *cobra.Command) {
	fromKubeconfig := func(names func(clientcmdapi.Config) []string) cobra.CompletionFunc {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			cfg, err := k.flags.ToRawKubeConfigLoader().RawConfig()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return names(cfg), cobra.ShellCompDirectiveNoFileComp
		}
	}
	complete := map[string]cobra.CompletionFunc{
		"context": fromKubeconfig(func(c clientcmdapi.Config) []string { return slices.Sorted(maps.Keys(c.Contexts)) }),
		"cluster": fromKubeconfig(func(c clientcmdapi.Config) []string { return slices.Sorted(maps.Keys(c.Clusters)) }),
		"user":    fromKubeconfig(func(c clientcmdapi.Config) []string { return slices.Sorted(maps.Keys(c.AuthInfos)) }),
		"namespace": func(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
			return k.completeNames(c, &corev1.NamespaceList{})
		},
	}
	for name, f := range complete {
		mustRegister(root, name, f)
	}
}

// completionTimeout bounds the cluster reads of a completion: a cluster out of reach offers
// nothing rather than hang the shell.
const completionTimeout = 5 * time.Second

// completeNames completes with the names of the objects of the list's kind.
func (k *kube) completeNames(c *cobra.Command, list client.ObjectList, opts ...client.ListOption) ([]string, cobra.ShellCompDirective) {
	cl, err := k.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	ctx, cancel := context.WithTimeout(c.Context(), completionTimeout)
	defer cancel()
	if err := cl.List(ctx, list, opts...); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(items))
	for _, o := range items {
		if m, err := meta.Accessor(o); err == nil {
			names = append(names, m.GetName())
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

// progress prints the library's progress lines on w.
func progress(w io.Writer) plugin.Progress {
	return func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
}

// fixedValues completes a flag with a fixed list of values.
func fixedValues(values ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(values, cobra.ShellCompDirectiveNoFileComp)
}

// mustRegister registers the completion of a flag of c: an error (an unknown flag, a second
// registration) is a programming error.
func mustRegister(c *cobra.Command, flag string, f cobra.CompletionFunc) {
	if err := c.RegisterFlagCompletionFunc(flag, f); err != nil {
		panic(err)
	}
}
