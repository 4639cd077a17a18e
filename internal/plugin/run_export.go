package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// ExportCommand is one run of kubectl pbx export.
type ExportCommand struct {
	// Kube reads the Account and its Secret; it may be nil when Source is given.
	Kube client.Reader
	// Account names the Account (in Namespace) to read; empty when Source is given.
	Account string
	// Namespace is the Account's namespace and the exported objects' one.
	Namespace string
	// Source is the PBX account to read when Account is empty.
	Source Source
	// Options shape the objects; an empty AccountRef name defaults to Account.
	Options ExportOptions
	// Dir, when set, receives one file per kind and a kustomization.yaml instead of Out.
	Dir string
	// Out receives the YAML; Progress the progress lines and warnings.
	Out      io.Writer
	Progress Progress
	// UserAgent is sent to the PBX.
	UserAgent string
}

// Run reads the account and writes the manifests.
func (c *ExportCommand) Run(ctx context.Context) error {
	src := c.Source
	o := c.Options
	o.Namespace = c.Namespace
	if c.Account != "" {
		if c.Kube == nil {
			return errors.New("--account needs a cluster: check the kubeconfig")
		}
		var err error
		if src, err = AccountSource(ctx, c.Kube, c.Namespace, c.Account); err != nil {
			return err
		}
		if o.AccountRef.Name == "" {
			o.AccountRef = v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: c.Account}
		}
	}
	if o.AccountRef.Name == "" {
		return errors.New("--account-ref is required with --url: name the Account the exported objects will use")
	}
	if o.AccountRef.Kind == "" {
		o.AccountRef.Kind = v1alpha1.AccountKindAccount
	}
	cn, err := connect(ctx, src, c.UserAgent)
	if err != nil {
		return err
	}
	c.Progress.printf("Reading the PBX client %s at %s", cn.realm.ID, src.URL)
	t, err := readTenant(ctx, cn, c.Progress)
	if err != nil {
		return err
	}
	// The webhooks of the extensions the export writes: Build selects the same ones.
	first := Build(t, o)
	selected := first.exported()
	if err := readHooks(ctx, cn, &t, func(x pbx.Extension) bool { return selected[x.ID] != "" }, c.Progress); err != nil {
		return err
	}
	ex := Build(t, o)
	for _, w := range ex.Warnings {
		c.Progress.printf("Warning: %s", w)
	}
	if c.Dir != "" {
		if err := ex.WriteDir(c.Dir); err != nil {
			return err
		}
		c.Progress.printf("Wrote %s to %s", ex.Counts(), c.Dir)
		return nil
	}
	data, err := ex.YAML()
	if err != nil {
		return err
	}
	if _, err := c.Out.Write(data); err != nil {
		return fmt.Errorf("writing the manifests: %w", err)
	}
	c.Progress.printf("Wrote %s", ex.Counts())
	return nil
}
