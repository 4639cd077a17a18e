package controller

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/account"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"github.com/cloudpbx/pbx-operator/internal/pbx"
)

// phoneNumberAdapter routes one PhoneNumber's DID through its account's connection. The provider
// allocates DIDs and the API can neither create nor delete them: the adapter binds the DID with
// the resource's number and changes only where it routes.
type phoneNumberAdapter struct {
	poller
	conn *account.Connection
	dids objects[pbx.DID]
	// route is the resolved routing of the spec, and extension and messageExtension the Extensions
	// it names (zero for raw ids), confirmed before a route to them is written.
	route                       didRoute
	extension, messageExtension pbxRef
	// observed is what Observe saw in this pass; Update and Delete diff against it. An adapter
	// lives for one pass (Connect makes a new one).
	observed *pbx.DID
}

var _ managed.Adapter[*v1alpha1.PhoneNumber] = (*phoneNumberAdapter)(nil)

// Key says that a DID's natural key, its digits, never changes in place: the provider does not
// renumber a DID.
func (a *phoneNumberAdapter) Key(*v1alpha1.PhoneNumber) (string, bool) { return "", false }

// Realm is the account's client, where DIDs live.
func (a *phoneNumberAdapter) Realm() string { return "" }

// Observe finds the DID by its recorded id, or else the DID with the resource's number, which is
// bound unless it is in use elsewhere, and fills the status fields of its routing. A number the
// account does not have is NotFound, an error, so that the engine never tries to create it.
func (a *phoneNumberAdapter) Observe(ctx context.Context, p *v1alpha1.PhoneNumber, since time.Time) (managed.Observation, error) {
	x, err := a.find(ctx, p, since)
	if err != nil || x == nil {
		return managed.Observation{}, err
	}
	a.dids.Own(x.ID, client.ObjectKeyFromObject(p))
	a.observed = x
	last := didRoute{extension: idOrNil(p.Status.ExtensionID), messageExtension: idOrNil(p.Status.MessageExtensionID)}
	a.report(p, x)
	_, diff := phoneNumberDiff(&p.Spec, a.route, x)
	if err := a.confirm(ctx, p, diff); err != nil {
		return managed.Observation{}, err
	}
	// A number is the resource's by its digits (the provider gave it to the client, nobody made
	// it), unless it rings where the spec does not say: then somebody uses it, and the resource
	// takes it over only when adopted. Two resources that name one number are a Conflict through
	// the claims before this.
	return managed.Observation{Exists: true, UpToDate: len(diff) == 0, Diff: strings.Join(diff, ", "), ExternalID: x.ID,
		Unclaimed: !phoneNumberInUse(&p.Spec, a.route, last, x)}, nil
}

func (a *phoneNumberAdapter) find(ctx context.Context, p *v1alpha1.PhoneNumber, since time.Time) (*pbx.DID, error) {
	if id := managed.KnownID(p); id != 0 {
		x, err := a.dids.byID(ctx, id, since, func(ctx context.Context) (*pbx.DID, error) {
			return a.conn.Client.DIDs.Get(ctx, a.conn.Realm, id)
		})
		if err != nil || x == nil {
			return nil, err
		}
		if x.Name != p.Spec.Number {
			// The provider does not renumber a DID, so the one at the recorded id is another
			// number (a PBX restored from a backup, an id imported by mistake): not ours. The
			// engine confirms with a fresh look, forgets the id and observes again, which binds
			// the number by its digits.
			return nil, nil
		}
		return x, nil
	}
	found, err := a.dids.Find(ctx, p.Spec.Number, since)
	if err != nil {
		return nil, err
	}
	x, err := a.dids.one(found, func(n int, ids []int64) error {
		return managed.Conflict("%d DIDs of the account have the number %s (ids %v): set the %s annotation to the id of the one to route",
			n, p.Spec.Number, ids, v1alpha1.AnnotationExternalID)
	})
	if err != nil {
		return nil, err
	}
	if x == nil {
		return nil, managed.NotFound("The number %s is not in the PBX account of %s: numbers are allocated by the provider, so the operator cannot create one; check the digits or ask the provider for the number",
			p.Spec.Number, account.KeyFor(p.Spec.AccountRef, p.Namespace))
	}
	return x, nil
}

// confirm checks, when a route to an Extension is about to be written, that the extension is still
// the one the Extension records (pbxRef.confirm).
func (a *phoneNumberAdapter) confirm(ctx context.Context, p *v1alpha1.PhoneNumber, diff []string) error {
	if !mayWrite(p) {
		return nil
	}
	if slices.Contains(diff, "extension") {
		if err := a.extension.confirm(ctx, extensionName(a.conn)); err != nil {
			return err
		}
	}
	if slices.Contains(diff, "messageExtension") {
		return a.messageExtension.confirm(ctx, extensionName(a.conn))
	}
	return nil
}

// report fills the status fields of the DID's routing.
func (a *phoneNumberAdapter) report(p *v1alpha1.PhoneNumber, x *pbx.DID) {
	st := &p.Status
	st.ExtensionID, st.MessageExtensionID = idOrZero(x.ExtensionID), idOrZero(x.MessageExtensionID)
	st.Messages = PhoneNumberMessages(x.AllowMessage)
	st.ExtensionFullName = ""
	if r := a.route.extension; r != nil && st.ExtensionID == *r {
		st.ExtensionFullName = a.extension.name()
	}
}

// idOrZero turns an optional PBX id into a status field (0 for none).
func idOrZero(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}

// Create is never called: Observe either finds the number or returns NotFound, which the engine
// reports instead of creating. The API has no create for DIDs, so should it be called after all,
// it answers the same NotFound.
func (a *phoneNumberAdapter) Create(_ context.Context, p *v1alpha1.PhoneNumber) (int64, error) {
	return 0, managed.NotFound("The number %s is not in the PBX account: numbers are allocated by the provider, so the operator cannot create one", p.Spec.Number)
}

// Update sends the routing fields that differ.
func (a *phoneNumberAdapter) Update(ctx context.Context, p *v1alpha1.PhoneNumber) error {
	if a.observed == nil {
		return errors.New("update before observe")
	}
	u, _ := phoneNumberDiff(&p.Spec, a.route, a.observed)
	return a.put(ctx, u)
}

// Release forgets that the PhoneNumber routes a DID.
func (a *phoneNumberAdapter) Release(p *v1alpha1.PhoneNumber) { a.dids.release(p) }

// Delete unassigns the DID (phoneNumberUnassign says what that resets); the number stays with the
// client. The engine observes before it deletes, and a DID already unassigned costs no call.
func (a *phoneNumberAdapter) Delete(ctx context.Context, p *v1alpha1.PhoneNumber) error {
	if a.observed == nil {
		return errors.New("delete before observe")
	}
	u, diff := phoneNumberUnassign(&p.Spec, a.observed)
	if len(diff) == 0 {
		return nil
	}
	return a.put(ctx, u)
}

// put sends a partial update of the observed DID; a 404 leaves the snapshot, and the engine takes
// it for a DID that is gone.
func (a *phoneNumberAdapter) put(ctx context.Context, u pbx.DIDUpdate) error {
	id := a.observed.ID
	_, err := a.dids.update(ctx, id, func(ctx context.Context) (*pbx.DID, error) {
		return a.conn.Client.DIDs.Update(ctx, a.conn.Realm, id, u)
	})
	return err
}
