package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

func newExportCommand(k *kube, streams genericiooptions.IOStreams) *cobra.Command {
	var (
		accountName, url, clientID, accountRef, policy, dir, group, numbers, typ, format string
		clusterAccountRef                                                                bool
	)
	c := &cobra.Command{
		Use:   "export (--account NAME [-n NS] | --url URL --account-ref NAME) [--output-dir DIR]",
		Short: "Write ready-to-apply resources of a PBX account: groups, extensions, routed numbers, webhooks",
		Long: `Writes ready-to-apply ExtensionGroups, Extensions, PhoneNumbers (routed numbers) and
EventSubscriptions (webhooks) of a PBX account, as one YAML stream on stdout or, with --output-dir,
one file per kind and a kustomization.yaml. Each object is bound to its PBX object (by the
pbx.cloudpbx.dev/external-id annotation, a number by its digits), so the operator takes it over
without writing to the PBX.

With --account, the PBX and its credentials are the Account's (in --namespace). With --url, the
client secret comes from $PBX_CLIENT_SECRET and needs no cluster.`,
		Example: `  kubectl pbx export --account pbx --output-dir pbx/
  kubectl pbx export --account pbx --group Sales --numbers 100-199 > sales.yaml
  PBX_CLIENT_ID=... PBX_CLIENT_SECRET=... kubectl pbx export --url https://pbx.example.com/ --account-ref pbx -n telephony`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if format != "" && format != outputYAML {
				return fmt.Errorf("-o %q: export writes YAML only (-o yaml); to write one file per kind into a directory, use --output-dir DIR", format)
			}
			if (accountName == "") == (url == "") {
				return errors.New("give exactly one of --account NAME and --url URL")
			}
			cmd := plugin.ExportCommand{
				Account:   accountName,
				Dir:       dir,
				Out:       streams.Out,
				Progress:  progress(streams.ErrOut),
				UserAgent: userAgent(),
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
				ns, err := k.namespace()
				if err != nil {
					return err
				}
				cmd.Namespace = ns
				if cmd.Kube, err = k.client(); err != nil {
					return err
				}
			} else {
				// Without a cluster, the objects get the namespace only when it is given: else
				// kubectl apply -n chooses.
				cmd.Namespace = *k.flags.Namespace
				cmd.Source = plugin.Source{URL: url, ClientID: clientID, ClientSecret: os.Getenv("PBX_CLIENT_SECRET")}
			}
			return cmd.Run(c.Context())
		},
	}
	f := c.Flags()
	f.StringVar(&accountName, "account", "", "read the PBX of this Account (in --namespace) with its credentials Secret")
	f.StringVar(&url, "url", "", "read the PBX at this API base URL instead; the secret comes from $PBX_CLIENT_SECRET")
	f.StringVar(&clientID, "client-id", os.Getenv("PBX_CLIENT_ID"), "the trusted app's client ID with --url (default $PBX_CLIENT_ID)")
	f.StringVar(&accountRef, "account-ref", "", "the account the exported objects use (spec.accountRef.name; default --account)")
	f.BoolVar(&clusterAccountRef, "cluster-account-ref", false, "--account-ref names a ClusterAccount")
	f.StringVar(&policy, "management-policy", string(v1alpha1.ManagementPolicyObserveOnly), "ObserveOnly (never write to the PBX) or Manage")
	f.StringVar(&dir, "output-dir", "", "write one file per kind and a kustomization.yaml into this directory (default: one YAML stream on stdout)")
	f.StringVar(&group, "group", "", "export only this group (PBX name or exported name) and its extensions")
	f.StringVar(&numbers, "numbers", "", "export only the extensions with these numbers (100-199 or 101)")
	f.StringVar(&typ, "type", "", "export only the extensions of this type: Phone, Queue, IVR or Fax")
	// -o is a format everywhere in kubectl, and export writes YAML only: -o yaml is accepted, and
	// -o DIR (this command's flag before --output-dir) gets an error that names the new flag.
	f.StringVarP(&format, "output", "o", "", "output format: yaml only")
	if err := f.MarkHidden("output"); err != nil {
		panic(err)
	}
	if err := c.MarkFlagDirname("output-dir"); err != nil {
		panic(err)
	}
	mustRegister(c, "account", k.completeAccounts)
	mustRegister(c, "account-ref", k.completeAccounts)
	mustRegister(c, "management-policy", fixedValues(string(v1alpha1.ManagementPolicyObserveOnly), string(v1alpha1.ManagementPolicyManage)))
	mustRegister(c, "type", fixedValues(string(v1alpha1.ExtensionTypePhone), string(v1alpha1.ExtensionTypeQueue), string(v1alpha1.ExtensionTypeIVR), string(v1alpha1.ExtensionTypeFax)))
	return c
}

// completeAccounts completes the names of the Accounts of the namespace.
func (k *kube) completeAccounts(c *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
	ns, err := k.namespace()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	return k.completeNames(c, &v1alpha1.AccountList{}, client.InNamespace(ns))
}
