package controller

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// eventAdapter manages one EventSubscription's PBX subscription through its account's
// connection, in the subscriptions of one extension.
type eventAdapter struct {
	poller
	conn *account.Connection
	// extensionID is the extension the subscription belongs to, and events the snapshot of its
	// subscriptions. 0 only while deleting a subscription whose extension is unknown.
	extensionID int64
	events      objects[pbx.Event]
	// extension is the extension as the spec names it, confirmed before a create.
	extension pbxRef
	// observed is what Observe saw in this pass; Update diffs against it. An adapter lives for
	// one pass (Connect makes a new one).
	observed *pbx.Event
}

var _ managed.Adapter[*v1alpha1.EventSubscription] = (*eventAdapter)(nil)

// realm is the extension's realm, where its subscriptions live.
func (a *eventAdapter) realm() pbx.Realm { return pbx.ExtensionRealm(a.extensionID) }

// Observe finds the subscription by id, or by its natural key (url, event type, method) among the
// extension's subscriptions, where the PBX allows duplicates: several matches are a Conflict,
// never a guess. It reports the resolved URL (its query hidden: shownURL) and the extension in
// status.
func (a *eventAdapter) Observe(ctx context.Context, s *v1alpha1.EventSubscription, since time.Time) (managed.Observation, error) {
	if a.extensionID == 0 {
		// Deleting, with the extension unknown: its Extension is gone, and with it, most likely,
		// the PBX extension and its subscriptions.
		return managed.Observation{}, nil
	}
	if s.DeletionTimestamp.IsZero() {
		s.Status.URL, s.Status.ExtensionID = shownURL(eventURL(s)), a.extensionID
	}
	x, err := a.find(ctx, s, since)
	if err != nil {
		return managed.Observation{}, err
	}
	if x == nil {
		// A create follows: the extension must still be the one its Extension records.
		if mayWrite(s) {
			err = a.extension.confirm(ctx, extensionName(a.conn))
		}
		return managed.Observation{}, err
	}
	a.events.Own(x.ID, client.ObjectKeyFromObject(s))
	a.observed = x
	_, diff := eventDiff(eventWant(s), x)
	// Every field is part of the natural key and the PBX changes each in place: an object at the
	// recorded id that differs is updated only if it carries a key recorded for it (Key).
	return managed.Observation{Exists: true, UpToDate: len(diff) == 0, Diff: strings.Join(diff, ", "), ExternalID: x.ID,
		Key: pbxEventKey(*x)}, nil
}

// Key is the natural key the spec asks for (url, event type, method), which the PBX changes in
// place.
func (a *eventAdapter) Key(s *v1alpha1.EventSubscription) (string, bool) {
	return eventSpecKey(s), true
}

// Realm is the extension's realm, recorded with the subscription's id.
func (a *eventAdapter) Realm() string { return a.realm().String() }

func (a *eventAdapter) find(ctx context.Context, s *v1alpha1.EventSubscription, since time.Time) (*pbx.Event, error) {
	if id := managed.KnownID(s); id != 0 {
		return a.events.byID(ctx, id, since, func(ctx context.Context) (*pbx.Event, error) {
			return a.conn.Client.Events.Get(ctx, a.realm(), id)
		})
	}
	// The PBX allows identical subscriptions, so the look that decides about a create must see the
	// extension's subscriptions as they are now, not as the last poll listed them: one made since
	// by somebody else would get a twin instead of AlreadyExists. Only subscriptions without an id
	// (new, or not ours) pay this list.
	found, err := a.events.Find(ctx, eventSpecKey(s), time.Now())
	if err != nil {
		return nil, err
	}
	return a.events.one(found, func(n int, ids []int64) error {
		want := eventWant(s)
		return managed.Conflict("%d subscriptions of the PBX extension %d send %s events to %s by %s (ids %v): set the %s annotation to the id of the one to manage",
			n, a.extensionID, want.EventType, shownURL(want.URL), want.Method, ids, v1alpha1.AnnotationExternalID)
	})
}

// Create subscribes the extension.
func (a *eventAdapter) Create(ctx context.Context, s *v1alpha1.EventSubscription) (int64, error) {
	x, err := a.events.create(ctx, s, func(ctx context.Context) (*pbx.Event, error) {
		return a.conn.Client.Events.Create(ctx, a.realm(), eventWant(s))
	})
	if err != nil {
		return 0, a.limitReached(err)
	}
	return x.ID, nil
}

// limitReached explains a create refused because the client's limit of subscriptions is reached,
// which the PBX tells with a 400 whose message names the limit; other errors pass unchanged.
func (a *eventAdapter) limitReached(err error) error {
	var apiErr *pbx.APIError
	if !pbx.IsBadRequest(err) || !errors.As(err, &apiErr) || !strings.Contains(strings.ToLower(apiErr.Message), "limit") {
		return err
	}
	limit := "The PBX client's limit of event subscriptions is reached"
	if l := a.conn.Limits.EventSubscriptions; l != nil {
		limit = "The PBX client's limit of " + strconv.Itoa(l.Max) + " event subscriptions is reached"
	}
	return managed.InvalidSpec("%s (see the account's status.limits); free one or ask the provider for more, then request a reconcile: %s",
		limit, apiErr.Message)
}

// Update sends the fields that differ.
func (a *eventAdapter) Update(ctx context.Context, s *v1alpha1.EventSubscription) error {
	if a.observed == nil {
		return errors.New("update before observe")
	}
	u, _ := eventDiff(eventWant(s), a.observed)
	_, err := a.events.update(ctx, a.observed.ID, func(ctx context.Context) (*pbx.Event, error) {
		return a.conn.Client.Events.Update(ctx, a.realm(), a.observed.ID, u)
	})
	return err
}

// Release forgets that the EventSubscription owns a PBX subscription.
func (a *eventAdapter) Release(s *v1alpha1.EventSubscription) {
	if a.extensionID != 0 {
		a.events.release(s)
	}
}

// Delete deletes the subscription. A 404 is success: deleting an extension deletes its
// subscriptions.
func (a *eventAdapter) Delete(ctx context.Context, s *v1alpha1.EventSubscription) error {
	id := managed.KnownID(s)
	return a.events.remove(ctx, id, func(ctx context.Context) error {
		return a.conn.Client.Events.Delete(ctx, a.realm(), id)
	})
}
