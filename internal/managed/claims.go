package managed

import (
	"context"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// ClaimIndex is the field index of managed resources by the PBX object they claim: their account
// and natural key.
const ClaimIndex = "pbx.cloudpbx.dev/claim"

// IDIndex is the field index of managed resources by the PBX id they record, with their account.
const IDIndex = "pbx.cloudpbx.dev/id"

// ClaimChecker tells whether another resource already holds the PBX object a resource claims.
type ClaimChecker[O Object] interface {
	// Check returns a Conflict error when obj, which records no PBX id, would find its object by a
	// natural key that another resource holds.
	Check(ctx context.Context, obj O) error
	// HeldByOther names another resource of obj's account whose claim on the PBX id is at least
	// as strong as obj's (see Claims), as obj's users may read it (one in another namespace is
	// not named), or returns "" when none has one.
	HeldByOther(ctx context.Context, obj O, id int64) (string, error)
}

// Claims is the ClaimChecker over ClaimIndex. A natural key only finds an object: once a resource
// records a PBX id, its identity is that id, and two resources bound to two objects never
// conflict, whatever their keys (the PBX allows two groups with one name). A resource without an
// id would find its object by the key, so among the resources of a kind that claim the same
// account and natural key, the holder is the one that recorded its PBX id first, or else the
// oldest; a resource without an id that is not the holder gets a Conflict and never writes. Two
// resources that record one id are kept apart by HeldByOther. PBX names are one namespace per client,
// so the check spans namespaces (through a ClusterAccount), and so it rests only on what a tenant
// cannot forge: status.id, which only the operator writes, records an id; the external-id
// annotation, which users may write (to import an object, and which a restore brings back without
// status), only asks for one. A resource whose status records the id it manages beats one that
// asks for an id by annotation alone, whatever their ages; between equals the older holds, then
// the one first by namespace/name.
type Claims[O Object] struct {
	// Reader lists resources through ClaimIndex (the manager's cached client).
	Reader client.Reader
	// NewList returns an empty list of the kind.
	NewList func() client.ObjectList
	// Key is the claim of a resource: ClaimKey of its account and natural key.
	Key func(O) string
}

// ClaimKey joins a resource's account and a natural key into a claim.
func ClaimKey(obj Object, naturalKey string) string {
	ref := obj.GetManagedSpec().AccountRef
	if ref.Kind == v1alpha1.AccountKindClusterAccount {
		return fmt.Sprintf("ClusterAccount/%s/%s", ref.Name, naturalKey)
	}
	return fmt.Sprintf("Account/%s/%s/%s", obj.GetNamespace(), ref.Name, naturalKey)
}

// IDIndexValue is the index function to register for IDIndex: the account and the recorded id.
func (c Claims[O]) IDIndexValue(o client.Object) []string {
	obj, ok := o.(O)
	if !ok {
		return nil
	}
	if id := KnownID(obj); id != 0 {
		return []string{ClaimKey(obj, "id="+strconv.FormatInt(id, 10))}
	}
	return nil
}

// HeldByOther names another resource of obj's account and kind that records id with a claim at
// least as strong as obj's: one whose status records id holds it against one that only asks for
// it by annotation, and equals hold it against each other (two resources must not manage one
// object, and neither can tell which is right).
func (c Claims[O]) HeldByOther(ctx context.Context, obj O, id int64) (string, error) {
	list := c.NewList()
	if err := c.Reader.List(ctx, list, client.MatchingFields{IDIndex: ClaimKey(obj, "id="+strconv.FormatInt(id, 10))}); err != nil {
		return "", fmt.Errorf("listing resources with the same PBX id: %w", err)
	}
	items, err := objects(list)
	if err != nil {
		return "", err
	}
	if h := IDHolder(items, obj, id); h != nil {
		return holderName(h, obj), nil
	}
	return "", nil
}

// IDHolder returns the resource of others, other than obj, that records the PBX id (in status or
// by annotation) with a claim at least as strong as obj's, or nil: the rule HeldByOther applies to the resources of obj's
// account and kind, for callers that hold those resources themselves (kubectl pbx plan).
func IDHolder(others []Object, obj Object, id int64) Object {
	mine := idClaim(obj, id)
	for _, o := range others {
		if c := idClaim(o, id); o.GetUID() != obj.GetUID() && c != claimNone && c >= mine {
			return o
		}
	}
	return nil
}

// objects returns the items of a list of managed resources.
func objects(list client.ObjectList) ([]Object, error) {
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil, err
	}
	out := make([]Object, 0, len(items))
	for _, it := range items {
		if o, ok := it.(Object); ok {
			out = append(out, o)
		}
	}
	return out, nil
}

// holderName names the resource holder to the users of obj: by namespace/name in obj's own
// namespace, and only as "a resource in another namespace" otherwise, since one tenant is not
// told of another's resources.
func holderName(holder, obj Object) string {
	if holder.GetNamespace() != obj.GetNamespace() {
		return "a resource in another namespace"
	}
	return holder.GetNamespace() + "/" + holder.GetName()
}

// IndexValue is the index function to register for ClaimIndex.
func (c Claims[O]) IndexValue(o client.Object) []string {
	obj, ok := o.(O)
	if !ok {
		return nil
	}
	return []string{c.Key(obj)}
}

// Check returns a Conflict error when obj records no PBX id and another resource holds its claim
// on the natural key (a resource that records an id is not found by its key).
func (c Claims[O]) Check(ctx context.Context, obj O) error {
	if KnownID(obj) != 0 {
		return nil
	}
	list := c.NewList()
	if err := c.Reader.List(ctx, list, client.MatchingFields{ClaimIndex: c.Key(obj)}); err != nil {
		return fmt.Errorf("listing resources with the same natural key: %w", err)
	}
	items, err := objects(list)
	if err != nil {
		return err
	}
	holder := KeyHolder(items)
	if holder == nil || holder.GetUID() == obj.GetUID() {
		return nil
	}
	if holder.GetNamespace() != obj.GetNamespace() {
		return Conflict("A resource in another namespace already manages the PBX object with this natural key in this account")
	}
	return Conflict("%s already manages the PBX object with this natural key in this account", holderName(holder, obj))
}

// KeyHolder returns which of the resources that claim one account and natural key holds it (nil
// for none): the one with the best claim on its PBX id (recorded in status, then asked for by
// annotation), then the oldest, then the first by namespace/name. It is the rule Check applies,
// for callers that hold the claimants themselves (kubectl pbx plan).
func KeyHolder(claimants []Object) Object {
	var holder Object
	for _, o := range claimants {
		if holder == nil || holds(o, holder) {
			holder = o
		}
	}
	return holder
}

// holds tells whether a has a better claim than b: a PBX id recorded in status, then one asked
// for by annotation, then age, then namespace/name.
func holds(a, b Object) bool {
	aClaim, bClaim := idClaim(a, KnownID(a)), idClaim(b, KnownID(b))
	if aClaim != bClaim {
		return aClaim > bClaim
	}
	at, bt := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !at.Equal(&bt) {
		return at.Before(&bt)
	}
	return a.GetNamespace()+"/"+a.GetName() < b.GetNamespace()+"/"+b.GetName()
}

// Strengths of a resource's claim on a PBX id, from idClaim.
const (
	claimNone       = iota // the resource does not record the id
	claimAnnotation        // the external-id annotation asks for it; status does not record it
	claimStatus            // status.id, written only by the operator, records it
)

// idClaim tells how strongly o claims the PBX id.
func idClaim(o Object, id int64) int {
	switch {
	case id == 0:
		return claimNone
	case o.GetManagedStatus().ID == id:
		return claimStatus
	case KnownID(o) == id:
		return claimAnnotation
	}
	return claimNone
}
