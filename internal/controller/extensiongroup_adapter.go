package controller

import (
	"context"
	"errors"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// groupAdapter manages one ExtensionGroup's PBX group through its account's connection.
type groupAdapter struct {
	poller
	conn   *account.Connection
	groups objects[pbx.ExtensionGroup]
	// observed is what Observe saw in this pass; Update diffs against it. An adapter lives for
	// one pass (Connect makes a new one).
	observed *pbx.ExtensionGroup
}

var _ managed.Adapter[*v1alpha1.ExtensionGroup] = (*groupAdapter)(nil)

// Observe finds the group by id, or by name (names are not unique: several matches are a
// Conflict, never a guess).
func (a *groupAdapter) Observe(ctx context.Context, g *v1alpha1.ExtensionGroup, since time.Time) (managed.Observation, error) {
	x, err := a.find(ctx, g, since)
	if err != nil || x == nil {
		return managed.Observation{}, err
	}
	a.groups.Own(x.ID, client.ObjectKeyFromObject(g))
	a.observed = x
	_, diff := groupDiff(&g.Spec, x)
	return managed.Observation{Exists: true, UpToDate: len(diff) == 0, Diff: strings.Join(diff, ", "), ExternalID: x.ID, Key: x.Name}, nil
}

// Key is the natural key the spec asks for, the group's name, which the PBX changes in place (a
// rename).
func (a *groupAdapter) Key(g *v1alpha1.ExtensionGroup) (string, bool) { return g.Spec.Name, true }

// Realm is the account's client, where groups live.
func (a *groupAdapter) Realm() string { return "" }

func (a *groupAdapter) find(ctx context.Context, g *v1alpha1.ExtensionGroup, since time.Time) (*pbx.ExtensionGroup, error) {
	if id := managed.KnownID(g); id != 0 {
		return a.groups.byID(ctx, id, since, func(ctx context.Context) (*pbx.ExtensionGroup, error) {
			return a.conn.Client.Groups.Get(ctx, a.conn.Realm, id)
		})
	}
	found, err := a.groups.Find(ctx, g.Spec.Name, since)
	if err != nil {
		return nil, err
	}
	return a.groups.one(found, func(n int, ids []int64) error {
		return managed.Conflict("%d groups named %q exist in the PBX (ids %v): set the %s annotation to the id of the one to manage",
			n, g.Spec.Name, ids, v1alpha1.AnnotationExternalID)
	})
}

// Create creates the group.
func (a *groupAdapter) Create(ctx context.Context, g *v1alpha1.ExtensionGroup) (int64, error) {
	x, err := a.groups.create(ctx, g, func(ctx context.Context) (*pbx.ExtensionGroup, error) {
		return a.conn.Client.Groups.Create(ctx, a.conn.Realm, groupCreate(&g.Spec))
	})
	if err != nil {
		return 0, err
	}
	return x.ID, nil
}

// Update sends the fields that differ.
func (a *groupAdapter) Update(ctx context.Context, g *v1alpha1.ExtensionGroup) error {
	if a.observed == nil {
		return errors.New("update before observe")
	}
	u, _ := groupDiff(&g.Spec, a.observed)
	_, err := a.groups.update(ctx, a.observed.ID, func(ctx context.Context) (*pbx.ExtensionGroup, error) {
		return a.conn.Client.Groups.Update(ctx, a.conn.Realm, a.observed.ID, u)
	})
	return err
}

// Release forgets that the ExtensionGroup owns a PBX group.
func (a *groupAdapter) Release(g *v1alpha1.ExtensionGroup) { a.groups.release(g) }

// Delete deletes the group; its members stay, outside any group.
func (a *groupAdapter) Delete(ctx context.Context, g *v1alpha1.ExtensionGroup) error {
	id := managed.KnownID(g)
	return a.groups.remove(ctx, id, func(ctx context.Context) error {
		return a.conn.Client.Groups.Delete(ctx, a.conn.Realm, id)
	})
}
