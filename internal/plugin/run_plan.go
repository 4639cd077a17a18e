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
	"github.com/cloudpbx/pbx-operator/internal/controller"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
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
	desired := in.objects()
	if len(desired) == 0 {
		return PlanResult{}, fmt.Errorf("the manifests hold none of the managed kinds (%s)", strings.Join(controller.ManagedKinds(), ", "))
	}
	in.Prune = c.Prune
	namespaces := map[string]bool{}
	accounts := map[AccountKey]bool{}
	for _, o := range desired {
		namespaces[o.GetNamespace()] = true
		accounts[accountOf(o.GetNamespace(), o.GetManagedSpec().AccountRef)] = true
	}
	for ns := range namespaces {
		objs, err := listManaged(ctx, c.Kube, ns)
		if err != nil {
			return PlanResult{}, err
		}
		for _, o := range objs {
			switch o := o.(type) {
			case *v1alpha1.ExtensionGroup:
				in.ClusterGroups = append(in.ClusterGroups, *o)
			case *v1alpha1.Extension:
				in.ClusterExtensions = append(in.ClusterExtensions, *o)
			case *v1alpha1.PhoneNumber:
				in.ClusterPhoneNumbers = append(in.ClusterPhoneNumbers, *o)
			case *v1alpha1.EventSubscription:
				in.ClusterEventSubscriptions = append(in.ClusterEventSubscriptions, *o)
			}
		}
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
		t, err := readTenant(ctx, cn, c.Progress)
		if err != nil {
			return PlanResult{}, fmt.Errorf("%s: %w", k, err)
		}
		if ids, numbers := in.subscribed(k); len(ids)+len(numbers) > 0 {
			want := func(x pbx.Extension) bool { return ids[x.ID] || numbers[pbx.ShortName(x.Name)] }
			if err := readHooks(ctx, cn, &t, want, c.Progress); err != nil {
				return PlanResult{}, fmt.Errorf("%s: %w", k, err)
			}
		}
		in.Tenants[k] = t
	}
	return Plan(in), nil
}

// objects are the manifests' resources.
func (in *PlanInput) objects() []managed.Object {
	var out []managed.Object
	for i := range in.Groups {
		out = append(out, &in.Groups[i])
	}
	for i := range in.Extensions {
		out = append(out, &in.Extensions[i])
	}
	for i := range in.PhoneNumbers {
		out = append(out, &in.PhoneNumbers[i])
	}
	for i := range in.EventSubscriptions {
		out = append(out, &in.EventSubscriptions[i])
	}
	return out
}

// subscribed names the PBX extensions of account k whose subscriptions the manifests' webhooks
// may be: by id (extensionID, or an Extension's recorded id) and by number (an Extension's, in
// the manifests or the cluster). Only those extensions' subscriptions are read, a call each.
func (in *PlanInput) subscribed(k AccountKey) (ids map[int64]bool, numbers map[string]bool) {
	ids, numbers = map[int64]bool{}, map[string]bool{}
	exts := append(slices.Clone(in.Extensions), in.ClusterExtensions...)
	for _, s := range in.EventSubscriptions {
		if accountOf(s.Namespace, s.Spec.AccountRef) != k {
			continue
		}
		if s.Spec.ExtensionID != 0 {
			ids[s.Spec.ExtensionID] = true
		}
		for i := range exts {
			if x := &exts[i]; x.Namespace == s.Namespace && x.Name == s.Spec.ExtensionRef.Name {
				numbers[x.Spec.Name] = true
				if id := managed.KnownID(x); id != 0 {
					ids[id] = true
				}
			}
		}
	}
	return ids, numbers
}

// readManifests decodes the managed kinds' resources of the paths; other kinds are skipped.
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
		if !slices.Contains(controller.ManagedKinds(), u.GetKind()) {
			continue
		}
		obj, err := scheme.New(u.GroupVersionKind())
		if err != nil {
			return fmt.Errorf("%s: %s %s: %w", file, u.GetKind(), u.GetName(), err)
		}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			return fmt.Errorf("%s: %s %s: %w", file, u.GetKind(), u.GetName(), err)
		}
		switch o := obj.(type) {
		case *v1alpha1.ExtensionGroup:
			in.Groups = append(in.Groups, *o)
		case *v1alpha1.Extension:
			in.Extensions = append(in.Extensions, *o)
		case *v1alpha1.PhoneNumber:
			in.PhoneNumbers = append(in.PhoneNumbers, *o)
		case *v1alpha1.EventSubscription:
			in.EventSubscriptions = append(in.EventSubscriptions, *o)
		default:
			return fmt.Errorf("%s: kubectl pbx plan does not know the managed kind %s yet", file, u.GetKind())
		}
	}
}
