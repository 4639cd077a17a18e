package controller

import (
	"context"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=extensiongroups,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=extensiongroups/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// setupExtensionGroup registers the ExtensionGroup controller, with a snapshot of each account's
// groups.
func setupExtensionGroup(mgr ctrl.Manager, o Options) error {
	drift := &driftQueue{}
	groups := snapshotPart(o.Registry, drift,
		func(ctx context.Context, c *account.Connection) ([]pbx.ExtensionGroup, error) {
			return c.Client.Groups.ListAll(ctx, c.Realm, pbx.GroupFilter{})
		},
		func(g pbx.ExtensionGroup) int64 { return g.ID },
		func(g pbx.ExtensionGroup) string { return g.Name })
	connector := managed.ConnectorFn[*v1alpha1.ExtensionGroup](func(ctx context.Context, g *v1alpha1.ExtensionGroup) (managed.Adapter[*v1alpha1.ExtensionGroup], error) {
		conn, err := connection(ctx, mgr.GetClient(), o, g)
		if err != nil {
			return nil, err
		}
		return &groupAdapter{poller: poller{conn}, conn: conn, groups: groups.Of(conn)}, nil
	})
	return setupManaged(mgr, o, managedKind[*v1alpha1.ExtensionGroup]{
		name:       "extensiongroup",
		object:     &v1alpha1.ExtensionGroup{},
		newList:    func() client.ObjectList { return &v1alpha1.ExtensionGroupList{} },
		naturalKey: GroupClaim,
		connector:  connector,
		drift:      drift,
	}, mgr.GetEventRecorder("extensiongroup-controller"))
}
