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
	// Check returns a Conflict error unless obj holds the claim on its natural key.
	Check(ctx context.Context, obj O) error
	// HeldByOther returns the namespace/name of another resource of obj's account that records
	// the PBX id, or "" when none does.
	HeldByOther(ctx context.Context, obj O, id int64) (string, error)
}

// Claims is the ClaimChecker over ClaimIndex: among the resources of a kind that claim the same
// account and natural key, the holder is the one that recorded a PBX id first, or else the oldest.
// Every other one gets a Conflict and never writes. PBX names are one namespace per client, so the
// check spans namespaces.
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

// HeldByOther returns another resource of obj's account and kind that records id.
func (c Claims[O]) HeldByOther(ctx context.Context, obj O, id int64) (string, error) {
	list := c.NewList()
	if err := c.Reader.List(ctx, list, client.MatchingFields{IDIndex: ClaimKey(obj, "id="+strconv.FormatInt(id, 10))}); err != nil {
		return "", fmt.Errorf("listing resources with the same PBX id: %w", err)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return "", err
	}
	for _, it := range items {
		if o, ok := it.(Object); ok && o.GetUID() != obj.GetUID() {
			return o.GetNamespace() + "/" + o.GetName(), nil
		}
	}
	return "", nil
}

// IndexValue is the index function to register for ClaimIndex.
func (c Claims[O]) IndexValue(o client.Object) []string {
	obj, ok := o.(O)
	if !ok {
		return nil
	}
	return []string{c.Key(obj)}
}

// Check returns a Conflict error unless obj holds its claim.
func (c Claims[O]) Check(ctx context.Context, obj O) error {
	list := c.NewList()
	if err := c.Reader.List(ctx, list, client.MatchingFields{ClaimIndex: c.Key(obj)}); err != nil {
		return fmt.Errorf("listing resources with the same natural key: %w", err)
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return err
	}
	var holder Object
	for _, it := range items {
		o, ok := it.(Object)
		if !ok {
			continue
		}
		if holder == nil || holds(o, holder) {
			holder = o
		}
	}
	if holder == nil || holder.GetUID() == obj.GetUID() {
		return nil
	}
	return Conflict("%s/%s already manages the PBX object with this natural key in this account",
		holder.GetNamespace(), holder.GetName())
}

// holds tells whether a has a better claim than b: a recorded PBX id first, then age, then name.
func holds(a, b Object) bool {
	aID, bID := hasID(a), hasID(b)
	if aID != bID {
		return aID
	}
	at, bt := a.GetCreationTimestamp(), b.GetCreationTimestamp()
	if !at.Equal(&bt) {
		return at.Before(&bt)
	}
	return a.GetNamespace()+"/"+a.GetName() < b.GetNamespace()+"/"+b.GetName()
}

func hasID(o Object) bool { return KnownID(o) != 0 }
