package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/snapshot"
)

// groupAdapter manages one ExtensionGroup's PBX group through its account's connection.
type groupAdapter struct {
	conn *account.Connection
	// observed is what Observe saw in this pass; Update diffs against it.
	observed *pbx.ExtensionGroup
}

// PollInterval is the account's poll interval.
func (a *groupAdapter) PollInterval() time.Duration { return a.conn.PollInterval() }

// Observe finds the group by id, or by name (names are not unique: several matches are a
// Conflict, never a guess).
func (a *groupAdapter) Observe(ctx context.Context, g *v1alpha1.ExtensionGroup) (managed.Observation, error) {
	x, err := a.find(ctx, g)
	if err != nil || x == nil {
		return managed.Observation{}, err
	}
	a.conn.Groups.Own(x.ID, client.ObjectKeyFromObject(g))
	a.observed = x
	_, diff := groupDiff(&g.Spec, x)
	return managed.Observation{Exists: true, UpToDate: len(diff) == 0, Diff: strings.Join(diff, ", "), ExternalID: x.ID,
		KeyChanged: x.Name != g.Spec.Name}, nil
}

func (a *groupAdapter) find(ctx context.Context, g *v1alpha1.ExtensionGroup) (*pbx.ExtensionGroup, error) {
	if id := managed.KnownID(g); id != 0 {
		return observeByID(ctx, a.conn.Groups, id, func(ctx context.Context) (*pbx.ExtensionGroup, error) {
			return a.conn.Client.Groups.Get(ctx, a.conn.Realm, id)
		})
	}
	found, err := a.conn.Groups.Find(ctx, g.Spec.Name)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, nil
	case 1:
		return &found[0], nil
	default:
		ids := make([]int64, 0, len(found))
		for _, f := range found {
			ids = append(ids, f.ID)
		}
		slices.Sort(ids)
		return nil, managed.Conflict("%d groups named %q exist in the PBX (ids %v): set the %s annotation to the id of the one to manage",
			len(found), g.Spec.Name, ids, v1alpha1.AnnotationExternalID)
	}
}

// Create creates the group.
func (a *groupAdapter) Create(ctx context.Context, g *v1alpha1.ExtensionGroup) (int64, error) {
	x, err := a.conn.Client.Groups.Create(ctx, a.conn.Realm, groupCreate(&g.Spec))
	if err != nil {
		// Unless the PBX made nothing, which no answer proves (a 5xx may come after the commit),
		// the copy may lack the object.
		a.conn.Groups.Invalidate()
		return 0, err
	}
	a.conn.Groups.Put(*x)
	a.conn.Groups.Own(x.ID, client.ObjectKeyFromObject(g))
	return x.ID, nil
}

// Update sends the fields that differ.
func (a *groupAdapter) Update(ctx context.Context, g *v1alpha1.ExtensionGroup) error {
	if a.observed == nil {
		return errors.New("update before observe")
	}
	u, _ := groupDiff(&g.Spec, a.observed)
	x, err := a.conn.Client.Groups.Update(ctx, a.conn.Realm, a.observed.ID, u)
	if err != nil {
		if pbx.IsNotFound(err) {
			a.conn.Groups.Delete(a.observed.ID)
		}
		return err
	}
	a.conn.Groups.Put(*x)
	return nil
}

// Release forgets that the ExtensionGroup owns a PBX group.
func (a *groupAdapter) Release(g *v1alpha1.ExtensionGroup) {
	a.conn.Groups.Disown(client.ObjectKeyFromObject(g))
}

// Delete deletes the group; its members stay, outside any group.
func (a *groupAdapter) Delete(ctx context.Context, g *v1alpha1.ExtensionGroup) error {
	id := managed.KnownID(g)
	if err := a.conn.Client.Groups.Delete(ctx, a.conn.Realm, id); err != nil && !pbx.IsNotFound(err) {
		return err
	}
	a.conn.Groups.Delete(id)
	return nil
}

// store is the part of a snapshot the adapters read and write.
type store[T any] interface {
	Get(ctx context.Context, id int64) (T, bool, error)
	Put(T)
	Delete(id int64)
}

// observeByID reads an object by id from a fresh snapshot, or with a GET when the snapshot does
// not show it (it may be newer than the list) or the read asks for a fresh look (one GET is
// cheaper than a list). Not found is nil, not an error.
func observeByID[T any](ctx context.Context, s store[T], id int64, get func(context.Context) (*T, error)) (*T, error) {
	if _, fresh := snapshot.Freshness(ctx); !fresh {
		x, found, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if found {
			return &x, nil
		}
	}
	y, err := get(ctx)
	if pbx.IsNotFound(err) {
		s.Delete(id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.Put(*y)
	return y, nil
}

// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=extensiongroups,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=pbx.cloudpbx.dev,resources=extensiongroups/status,verbs=patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// SetupExtensionGroup registers the ExtensionGroup controller.
func SetupExtensionGroup(mgr ctrl.Manager, o Options) error {
	connector := managed.ConnectorFn[*v1alpha1.ExtensionGroup](func(ctx context.Context, g *v1alpha1.ExtensionGroup) (managed.Adapter[*v1alpha1.ExtensionGroup], error) {
		conn, err := connection(ctx, mgr.GetClient(), o.Registry, g)
		if err != nil {
			return nil, err
		}
		return &groupAdapter{conn: conn}, nil
	})
	return setupManaged(mgr, o, managedKind[*v1alpha1.ExtensionGroup]{
		name:       "extensiongroup",
		object:     &v1alpha1.ExtensionGroup{},
		newList:    func() client.ObjectList { return &v1alpha1.ExtensionGroupList{} },
		naturalKey: func(g *v1alpha1.ExtensionGroup) string { return "name=" + g.Spec.Name },
		connector:  connector,
		drift:      &o.Registry.OnGroupDrift,
	}, mgr.GetEventRecorder("extensiongroup-controller"))
}
