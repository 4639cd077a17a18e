package controller

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// resolveGroup returns the PBX id of the Extension's group: groupRef's ExtensionGroup once it is
// Ready, groupID as written, or nil for no group; and the group as a reference to confirm.
func resolveGroup(ctx context.Context, c client.Reader, e *v1alpha1.Extension) (*int64, pbxRef, error) {
	switch {
	case e.Spec.GroupRef != nil:
		var g v1alpha1.ExtensionGroup
		what := "The ExtensionGroup " + e.Spec.GroupRef.Name
		if err := readyRef(ctx, c, e, e.Spec.GroupRef.Name, what, &g, nil); err != nil {
			return nil, pbxRef{}, err
		}
		return &g.Status.ID, groupRef(what, &g), nil
	case e.Spec.GroupID != 0:
		id := e.Spec.GroupID
		if err := foreignID(ctx, c, e, "groupID", id, &v1alpha1.ExtensionGroupList{}); err != nil {
			return nil, pbxRef{}, err
		}
		return &id, pbxRef{id: id}, nil
	default:
		return nil, pbxRef{}, nil
	}
}

// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=extensions,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=extensions/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=create;patch

// setupExtension registers the Extension controller, with a snapshot of each account's extensions.
func setupExtension(mgr ctrl.Manager, o Options) error {
	c := mgr.GetClient()
	drift := &driftQueue{}
	extensions := snapshotPart(o.Registry, drift,
		func(ctx context.Context, c *account.Connection) ([]pbx.Extension, error) {
			return c.Client.Extensions.ListAll(ctx, c.Realm, pbx.ExtensionFilter{})
		},
		func(e pbx.Extension) int64 { return e.ID },
		func(e pbx.Extension) string { return e.Name })
	phoneReads := account.AddPart(o.Registry, func(conn *account.Connection) *phones {
		return &phones{conn: conn, byID: map[int64]phoneRead{}}
	})
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(ctx context.Context, e *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		conn, err := connection(ctx, c, o, e)
		if err != nil {
			return nil, err
		}
		var groupID *int64
		var group pbxRef
		if e.DeletionTimestamp.IsZero() {
			if groupID, group, err = resolveGroup(ctx, c, e); err != nil {
				return nil, err
			}
		}
		return &extensionAdapter{poller: poller{conn}, conn: conn, extensions: extensions.Of(conn), phones: phoneReads.Of(conn), groupID: groupID, group: group,
			kube: c, apiReader: mgr.GetAPIReader()}, nil
	})
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Extension{}, indexGroup, func(o client.Object) []string {
		if ref := o.(*v1alpha1.Extension).Spec.GroupRef; ref != nil {
			return []string{o.GetNamespace() + "/" + ref.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Extension{}, indexPasswordSecret, func(o client.Object) []string {
		if ref := o.(*v1alpha1.Extension).Spec.PasswordSecretRef; ref.Name != "" {
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
	// A password Secret that changes sets the new password.
	passwords := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, s client.Object) []reconcile.Request {
		return requestsFor(ctx, c, &v1alpha1.ExtensionList{}, indexPasswordSecret, s.GetNamespace()+"/"+s.GetName())
	})
	// A credentials Secret that somebody deleted or edited is written again; the operator's own
	// writes (a new password goes in with an empty password-set mark) bring no extra pass.
	edited := predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		UpdateFunc: func(u event.UpdateEvent) bool {
			// The cache holds metadata only: an update that leaves the password-set mark as it
			// was is somebody else's (the operator's own writes empty the mark, then set it).
			o, n := u.ObjectOld, u.ObjectNew
			mark := n.GetAnnotations()[annotationPasswordSet]
			return mark != "" && mark == o.GetAnnotations()[annotationPasswordSet] && o.GetResourceVersion() != n.GetResourceVersion()
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
	return setupManaged(mgr, o, managedKind[*v1alpha1.Extension]{
		name:       "extension",
		object:     &v1alpha1.Extension{},
		newList:    func() client.ObjectList { return &v1alpha1.ExtensionList{} },
		naturalKey: ExtensionClaim,
		connector:  connector,
		drift:      drift,
		watches: func(b *builder.Builder) *builder.Builder {
			return b.Watches(&v1alpha1.ExtensionGroup{}, members).
				WatchesMetadata(&corev1.Secret{}, passwords).
				Owns(&corev1.Secret{}, builder.OnlyMetadata, builder.WithPredicates(edited))
		},
	}, mgr.GetEventRecorder("extension-controller"))
}
