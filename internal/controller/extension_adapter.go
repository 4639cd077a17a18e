package controller

import (
	"context"
	"errors"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// extensionAdapter manages one Extension's PBX extension through its account's connection.
type extensionAdapter struct {
	conn *account.Connection
	// groupID is the resolved group of the spec: groupRef's group, groupID, or nil for none.
	groupID *int64
	// observed is what Observe saw in this pass; Update diffs against it. An adapter lives for
	// one pass (Connect makes a new one).
	observed *pbx.Extension
}

// PollInterval is the account's poll interval.
func (a *extensionAdapter) PollInterval() time.Duration { return a.conn.PollInterval() }

// fullName is the PBX name of the extension: prefix*number.
func (a *extensionAdapter) fullName(e *v1alpha1.Extension) string {
	return pbx.FullName(a.conn.Prefix, e.Spec.Name)
}

// Observe finds the extension by id, or by its name (unique per client), and fills the status
// fields the PBX reports.
func (a *extensionAdapter) Observe(ctx context.Context, e *v1alpha1.Extension) (managed.Observation, error) {
	x, err := a.find(ctx, e)
	if err != nil || x == nil {
		return managed.Observation{}, err
	}
	if pbx.ShortName(x.Name) != e.Spec.Name {
		// The PBX cannot renumber an extension, so the one at the recorded id is another: ours is
		// gone (the PBX lost it and reused the id).
		return managed.Observation{}, nil
	}
	if x.Type != pbxType(e.Spec.Type) {
		return managed.Observation{}, managed.InvalidSpec("The PBX extension %s is of type %s, not %s; the PBX cannot change its type", x.Name, x.Type, pbxType(e.Spec.Type))
	}
	a.conn.Extensions.Own(x.ID, client.ObjectKeyFromObject(e))
	a.observed = x
	e.Status.FullName, e.Status.Domain = x.Name, x.Domain
	_, diff := extensionDiff(&e.Spec, a.groupID, x)
	return managed.Observation{Exists: true, UpToDate: len(diff) == 0, Diff: strings.Join(diff, ", "), ExternalID: x.ID}, nil
}

func (a *extensionAdapter) find(ctx context.Context, e *v1alpha1.Extension) (*pbx.Extension, error) {
	if id := managed.KnownID(e); id != 0 {
		return observeByID(ctx, a.conn.Extensions, id, func(ctx context.Context) (*pbx.Extension, error) {
			return a.conn.Client.Extensions.Get(ctx, a.conn.Realm, id)
		})
	}
	found, err := a.conn.Extensions.Find(ctx, a.fullName(e))
	if err != nil || len(found) == 0 {
		return nil, err
	}
	return &found[0], nil
}

// Create creates the extension with its state sent explicitly (the PBX would make it blocked).
func (a *extensionAdapter) Create(ctx context.Context, e *v1alpha1.Extension) (int64, error) {
	if n := a.conn.ExtensionLen; n > 0 && len(e.Spec.Name) != n {
		return 0, managed.InvalidSpec("The number %s has %d digits; every extension number of this PBX client has %d", e.Spec.Name, len(e.Spec.Name), n)
	}
	x, err := a.conn.Client.Extensions.Create(ctx, a.conn.Realm, extensionCreate(&e.Spec, a.groupID))
	if err != nil {
		// Unless the PBX made nothing, which no answer proves (a 5xx may come after the commit, and
		// "already exists" may answer our own earlier create), the copy may lack the object.
		a.conn.Extensions.Invalidate()
		return 0, err
	}
	a.conn.Extensions.Put(*x)
	a.conn.Extensions.Own(x.ID, client.ObjectKeyFromObject(e))
	e.Status.FullName, e.Status.Domain = x.Name, x.Domain
	return x.ID, nil
}

// Update sends the fields that differ; a field removed from the spec is cleared with null.
func (a *extensionAdapter) Update(ctx context.Context, e *v1alpha1.Extension) error {
	if a.observed == nil {
		return errors.New("update before observe")
	}
	u, _ := extensionDiff(&e.Spec, a.groupID, a.observed)
	x, err := a.conn.Client.Extensions.Update(ctx, a.conn.Realm, a.observed.ID, u)
	if err != nil {
		if pbx.IsNotFound(err) {
			a.conn.Extensions.Delete(a.observed.ID)
		}
		return err
	}
	a.conn.Extensions.Put(*x)
	return nil
}

// Release forgets that the Extension owns a PBX extension.
func (a *extensionAdapter) Release(e *v1alpha1.Extension) {
	a.conn.Extensions.Disown(client.ObjectKeyFromObject(e))
}

// Delete deletes the extension.
func (a *extensionAdapter) Delete(ctx context.Context, e *v1alpha1.Extension) error {
	id := managed.KnownID(e)
	if err := a.conn.Client.Extensions.Delete(ctx, a.conn.Realm, id); err != nil && !pbx.IsNotFound(err) {
		return err
	}
	a.conn.Extensions.Delete(id)
	return nil
}

// resolveGroup returns the PBX id of the Extension's group: groupRef's ExtensionGroup once it is
// Ready, groupID as written, or nil for no group.
func resolveGroup(ctx context.Context, c client.Reader, e *v1alpha1.Extension) (*int64, error) {
	switch {
	case e.Spec.GroupRef != nil:
		var g v1alpha1.ExtensionGroup
		key := client.ObjectKey{Namespace: e.Namespace, Name: e.Spec.GroupRef.Name}
		if err := c.Get(ctx, key, &g); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, managed.DependencyNotReady("The ExtensionGroup %s does not exist", e.Spec.GroupRef.Name)
			}
			return nil, err
		}
		if g.Spec.AccountRef != e.Spec.AccountRef {
			return nil, managed.InvalidSpec("The ExtensionGroup %s uses another account (%s %s)", g.Name, g.Spec.AccountRef.Kind, g.Spec.AccountRef.Name)
		}
		if !meta.IsStatusConditionTrue(g.Status.Conditions, v1alpha1.ConditionReady) || g.Status.ID == 0 {
			return nil, managed.DependencyNotReady("The ExtensionGroup %s is not Ready", g.Name)
		}
		return &g.Status.ID, nil
	case e.Spec.GroupID != 0:
		id := e.Spec.GroupID
		return &id, nil
	default:
		return nil, nil
	}
}

// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=extensions,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=extensions/status,verbs=patch

// SetupExtension registers the Extension controller.
func SetupExtension(mgr ctrl.Manager, o Options) error {
	c := mgr.GetClient()
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(ctx context.Context, e *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		conn, err := connection(ctx, c, o.Registry, e)
		if err != nil {
			return nil, err
		}
		var groupID *int64
		if e.DeletionTimestamp.IsZero() {
			if groupID, err = resolveGroup(ctx, c, e); err != nil {
				return nil, err
			}
		}
		return &extensionAdapter{conn: conn, groupID: groupID}, nil
	})
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Extension{}, indexGroup, func(o client.Object) []string {
		if ref := o.(*v1alpha1.Extension).Spec.GroupRef; ref != nil {
			return []string{o.GetNamespace() + "/" + ref.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	// A group that becomes Ready (or changes) re-triggers the extensions that reference it.
	members := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, g client.Object) []reconcile.Request {
		return requestsFor(ctx, c, &v1alpha1.ExtensionList{}, indexGroup, g.GetNamespace()+"/"+g.GetName())
	})
	return setupManaged(mgr, o, managedKind[*v1alpha1.Extension]{
		name:       "extension",
		object:     &v1alpha1.Extension{},
		newList:    func() client.ObjectList { return &v1alpha1.ExtensionList{} },
		naturalKey: func(e *v1alpha1.Extension) string { return "number=" + e.Spec.Name },
		connector:  connector,
		drift:      &o.Registry.OnExtensionDrift,
		watches:    func(b *builder.Builder) *builder.Builder { return b.Watches(&v1alpha1.ExtensionGroup{}, members) },
	}, mgr.GetEventRecorder("extension-controller"))
}
