package plugin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// PlanCommand is one run of kubectl pbx plan. It reads the cluster and the PBX and writes to
// neither.
type PlanCommand struct {
	// Kube reads the resources, the accounts and their Secrets.
	Kube client.Reader
	// Paths are files, directories (their *.yaml, *.yml and *.json files, kustomization.yaml
	// excepted) or "-" for Stdin.
	Paths []string
	Stdin io.Reader
	// Namespace is the namespace of manifests without one.
	Namespace string
	// Prune plans the removal of the resources of the manifests' namespaces that the manifests
	// do not hold.
	Prune bool
	// Progress receives progress lines; UserAgent is sent to the PBX.
	Progress  Progress
	UserAgent string
}

// Run reads everything and returns the plan.
func (c *PlanCommand) Run(ctx context.Context) (PlanResult, error) {
	in, err := c.readManifests()
	if err != nil {
		return PlanResult{}, err
	}
	if len(in.Groups)+len(in.Extensions) == 0 {
		return PlanResult{}, errors.New("the manifests hold no ExtensionGroup and no Extension")
	}
	in.Prune = c.Prune
	namespaces := map[string]bool{}
	accounts := map[AccountKey]bool{}
	for _, g := range in.Groups {
		namespaces[g.Namespace] = true
		accounts[accountOf(g.Namespace, g.Spec.AccountRef)] = true
	}
	for _, x := range in.Extensions {
		namespaces[x.Namespace] = true
		accounts[accountOf(x.Namespace, x.Spec.AccountRef)] = true
	}
	for ns := range namespaces {
		var gl v1alpha1.ExtensionGroupList
		var el v1alpha1.ExtensionList
		if err := c.Kube.List(ctx, &gl, client.InNamespace(ns)); err != nil {
			return PlanResult{}, fmt.Errorf("listing the ExtensionGroups of %s: %w", ns, err)
		}
		if err := c.Kube.List(ctx, &el, client.InNamespace(ns)); err != nil {
			return PlanResult{}, fmt.Errorf("listing the Extensions of %s: %w", ns, err)
		}
		in.ClusterGroups = append(in.ClusterGroups, gl.Items...)
		in.ClusterExtensions = append(in.ClusterExtensions, el.Items...)
	}
	in.Tenants = map[AccountKey]Tenant{}
	keys := make([]AccountKey, 0, len(accounts))
	for k := range accounts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b AccountKey) int { return strings.Compare(a.String(), b.String()) })
	for _, k := range keys {
		var src Source
		if k.Kind == v1alpha1.AccountKindClusterAccount {
			src, err = ClusterAccountSource(ctx, c.Kube, k.Name)
		} else {
			src, err = AccountSource(ctx, c.Kube, k.Namespace, k.Name)
		}
		if err != nil {
			return PlanResult{}, err
		}
		cn, err := connect(ctx, src, c.UserAgent)
		if err != nil {
			return PlanResult{}, fmt.Errorf("%s: %w", k, err)
		}
		c.Progress.printf("Reading the PBX of %s", k)
		if in.Tenants[k], err = readTenant(ctx, cn, c.Progress); err != nil {
			return PlanResult{}, fmt.Errorf("%s: %w", k, err)
		}
	}
	return Plan(in), nil
}

// readManifests decodes the ExtensionGroups and Extensions of the paths; other kinds are skipped.
func (c *PlanCommand) readManifests() (PlanInput, error) {
	var in PlanInput
	var files []string
	for _, p := range c.Paths {
		if p == "-" {
			files = append(files, p)
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return in, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch filepath.Ext(path) {
			case ".yaml", ".yml", ".json":
				if d.Name() != "kustomization.yaml" && d.Name() != "kustomization.yml" {
					files = append(files, path)
				}
			}
			return nil
		})
		if err != nil {
			return in, err
		}
	}
	slices.Sort(files)
	for _, f := range files {
		var data []byte
		var err error
		if f == "-" {
			data, err = io.ReadAll(c.Stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return in, err
		}
		if err := c.decode(f, data, &in); err != nil {
			return in, err
		}
	}
	return in, nil
}

func (c *PlanCommand) decode(file string, data []byte, in *PlanInput) error {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		if len(u.Object) == 0 || u.GroupVersionKind().Group != v1alpha1.GroupVersion.Group {
			continue
		}
		if u.GetNamespace() == "" {
			u.SetNamespace(c.Namespace)
		}
		var obj runtime.Object
		switch u.GetKind() {
		case "ExtensionGroup":
			obj = &v1alpha1.ExtensionGroup{}
		case "Extension":
			obj = &v1alpha1.Extension{}
		default:
			continue
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			return fmt.Errorf("%s: %s %s: %w", file, u.GetKind(), u.GetName(), err)
		}
		switch o := obj.(type) {
		case *v1alpha1.ExtensionGroup:
			in.Groups = append(in.Groups, *o)
		case *v1alpha1.Extension:
			in.Extensions = append(in.Extensions, *o)
		}
	}
}
