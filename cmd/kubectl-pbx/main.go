// Command kubectl-pbx is the kubectl plugin of pbx-operator (kubectl pbx ...): export an existing
// PBX account as ready-to-apply manifests, plan what applying manifests would do to the PBX, and
// show the status of the managed objects per account. The logic lives in internal/plugin; this
// file holds the flags and the wiring.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

// version is stamped by the Makefile with -ldflags "-X main.version=...".
var version = "dev"

const usage = `kubectl pbx: onboard an existing PBX and watch it with pbx-operator.

Commands:
  export   write ready-to-apply ExtensionGroups and Extensions of a PBX account
  plan     show what applying manifests would do to the PBX (exit 2: changes, 0: none, 1: error)
  status   one screen per account: objects by state and reason, drift, last errors
  version  print the version

Run 'kubectl pbx COMMAND -h' for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches to a command and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		return 0
	}
	var err error
	code := 0
	switch args[0] {
	case "export":
		err = export(ctx, args[1:], stdout, stderr)
	case "plan":
		code, err = plan(ctx, args[1:], stdin, stdout, stderr)
	case "status":
		err = status(ctx, args[1:], stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, version)
	default:
		err = fmt.Errorf("unknown command %q\n\n%s", args[0], usage)
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return code
}

// kube holds the kubeconfig flags every command shares, as kubectl spells them.
type kube struct {
	kubeconfig, context, namespace string
}

func (k *kube) register(fs *flag.FlagSet) {
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "path of the kubeconfig (default: $KUBECONFIG or ~/.kube/config)")
	fs.StringVar(&k.context, "context", "", "kubeconfig context to use")
	fs.StringVar(&k.namespace, "namespace", "", "namespace (default: the context's)")
	fs.StringVar(&k.namespace, "n", "", "shorthand for --namespace")
}

func (k *kube) config() clientcmd.ClientConfig {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = k.kubeconfig
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.context})
}

// ns is the namespace of the flags, or the context's.
func (k *kube) ns() (string, error) {
	if k.namespace != "" {
		return k.namespace, nil
	}
	ns, _, err := k.config().Namespace()
	if err != nil {
		return "", fmt.Errorf("reading the kubeconfig: %w", err)
	}
	return ns, nil
}

// client connects to the cluster of the kubeconfig.
func (k *kube) client() (client.Client, error) {
	cfg, err := k.config().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig: %w", err)
	}
	cfg.UserAgent = "kubectl-pbx/" + version
	c, err := client.New(cfg, client.Options{Scheme: plugin.Scheme()})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cluster: %w", err)
	}
	return c, nil
}

func progress(w io.Writer) plugin.Progress {
	return func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }
}

func export(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("kubectl pbx export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var k kube
	k.register(fs)
	var (
		accountName, url, clientID, accountRef, policy, out, group, numbers, typ string
		clusterAccountRef                                                        bool
	)
	fs.StringVar(&accountName, "account", "", "read the PBX of this Account (in --namespace) with its credentials Secret")
	fs.StringVar(&url, "url", "", "read the PBX at this API base URL instead; the secret comes from $PBX_CLIENT_SECRET")
	fs.StringVar(&clientID, "client-id", os.Getenv("PBX_CLIENT_ID"), "the trusted app's client ID with --url (default $PBX_CLIENT_ID)")
	fs.StringVar(&accountRef, "account-ref", "", "the account the exported objects use (spec.accountRef.name; default --account)")
	fs.BoolVar(&clusterAccountRef, "cluster-account-ref", false, "--account-ref names a ClusterAccount")
	fs.StringVar(&policy, "management-policy", string(v1alpha1.ManagementPolicyObserveOnly), "ObserveOnly (never write to the PBX) or Manage")
	fs.StringVar(&out, "o", "", "write one file per kind and a kustomization.yaml into this directory (default: one YAML stream on stdout)")
	fs.StringVar(&group, "group", "", "export only this group (PBX name or exported name) and its extensions")
	fs.StringVar(&numbers, "numbers", "", "export only the extensions with these numbers (100-199 or 101)")
	fs.StringVar(&typ, "type", "", "export only the extensions of this type: Phone, Queue, IVR or Fax")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: kubectl pbx export (--account NAME [-n NS] | --url URL --account-ref NAME) [flags]\n\n"+
			"Writes ready-to-apply ExtensionGroups and Extensions of a PBX account. Each carries the\n"+
			"pbx.cloudpbx.dev/external-id annotation, so the operator takes it over without writing to the PBX.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (accountName == "") == (url == "") {
		return errors.New("give exactly one of --account NAME and --url URL")
	}
	cmd := plugin.ExportCommand{
		Account:   accountName,
		Dir:       out,
		Out:       stdout,
		Progress:  progress(stderr),
		UserAgent: "kubectl-pbx/" + version,
	}
	switch p := v1alpha1.ManagementPolicy(policy); p {
	case v1alpha1.ManagementPolicyObserveOnly, v1alpha1.ManagementPolicyManage:
		cmd.Options.ManagementPolicy = p
	default:
		return fmt.Errorf("--management-policy %q: want ObserveOnly or Manage", policy)
	}
	cmd.Options.AccountRef = v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: accountRef}
	if clusterAccountRef {
		cmd.Options.AccountRef.Kind = v1alpha1.AccountKindClusterAccount
	}
	cmd.Options.Filter.Group = group
	if numbers != "" {
		lo, hi, err := plugin.ParseNumbers(numbers)
		if err != nil {
			return err
		}
		cmd.Options.Filter.NumberMin, cmd.Options.Filter.NumberMax = lo, hi
	}
	if typ != "" {
		t, err := plugin.ParseType(typ)
		if err != nil {
			return err
		}
		cmd.Options.Filter.Type = t
	}
	if accountName != "" {
		ns, err := k.ns()
		if err != nil {
			return err
		}
		cmd.Namespace = ns
		if cmd.Kube, err = k.client(); err != nil {
			return err
		}
	} else {
		cmd.Namespace = k.namespace
		cmd.Source = plugin.Source{URL: url, ClientID: clientID, ClientSecret: os.Getenv("PBX_CLIENT_SECRET")}
	}
	return cmd.Run(ctx)
}
