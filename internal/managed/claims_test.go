package managed_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

// claimant is an Extension of the shared ClusterAccount "shared" with number 101, made age
// before now, with the PBX id statusID in status (0: none) and the external-id annotation
// annotated ("": none).
func claimant(ns, name string, age time.Duration, statusID int64, annotated string) *v1alpha1.Extension {
	e := ext(func(e *v1alpha1.Extension) {
		e.Namespace, e.Name, e.UID = ns, name, types.UID(ns+"/"+name)
		e.CreationTimestamp = metav1.NewTime(now.Add(-age))
		e.Spec.AccountRef = v1alpha1.AccountReference{Kind: v1alpha1.AccountKindClusterAccount, Name: "shared"}
		e.Status.ID = statusID
	})
	if annotated != "" {
		annotate(v1alpha1.AnnotationExternalID, annotated)(e)
	}
	return e
}

func newClaims(t *testing.T, objs ...client.Object) managed.Claims[*v1alpha1.Extension] {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c := managed.Claims[*v1alpha1.Extension]{
		NewList: func() client.ObjectList { return &v1alpha1.ExtensionList{} },
		Key:     func(e *v1alpha1.Extension) string { return managed.ClaimKey(e, e.Spec.Name) },
	}
	c.Reader = fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithIndex(&v1alpha1.Extension{}, managed.ClaimIndex, c.IndexValue).
		WithIndex(&v1alpha1.Extension{}, managed.IDIndex, c.IDIndexValue).
		Build()
	return c
}

// TestClaimsCheck: a natural key only finds an object. Resources bound to an id never conflict by
// key; one without an id conflicts with a bound resource of the same key, or with an older one
// without an id. The Conflict names a holder in another namespace only as that.
func TestClaimsCheck(t *testing.T) {
	type want struct {
		conflict bool
		msg      string
	}
	cases := map[string]struct {
		reason string
		obj    *v1alpha1.Extension
		other  *v1alpha1.Extension
		want   want
	}{
		"BoundResourcesNeverConflictByKey": {
			reason: "two resources bound to two PBX objects do not conflict, whatever their natural keys (the PBX allows two groups with one name)",
			obj:    claimant("b", "second", time.Minute, 43, "43"),
			other:  claimant("a", "first", time.Hour, 42, "42"),
		},
		"AnnotatedResourceIsBound": {
			reason: "an id asked for by annotation binds too: an import of two same-named objects is two resources, not a Conflict (HeldByOther guards the id itself)",
			obj:    claimant("a", "second", time.Minute, 0, "43"),
			other:  claimant("a", "first", time.Hour, 42, "42"),
		},
		"UnboundLosesToBound": {
			reason: "a resource without an id would find its object by the key, which a bound resource holds, however old the unbound one is",
			obj:    claimant("a", "second", 2*time.Hour, 0, ""),
			other:  claimant("a", "first", time.Hour, 42, "42"),
			want:   want{conflict: true, msg: "a/first already manages the PBX object with this natural key in this account"},
		},
		"UnboundOlderHolds": {
			reason: "between two resources without an id, the older holds the natural key",
			obj:    claimant("b", "second", time.Minute, 0, ""),
			other:  claimant("a", "first", time.Hour, 0, ""),
			want:   want{conflict: true, msg: "A resource in another namespace already manages the PBX object with this natural key in this account"},
		},
		"UnboundOlderIsTheHolder": {
			reason: "the oldest resource without an id holds the key against younger ones",
			obj:    claimant("a", "first", time.Hour, 0, ""),
			other:  claimant("a", "second", time.Minute, 0, ""),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newClaims(t, tc.obj, tc.other)
			err := c.Check(context.Background(), tc.obj)
			got := want{conflict: err != nil}
			if err != nil {
				got.msg = managed.Classify(err).Message
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s\nCheck: -want +got:\n%s (error %v)", tc.reason, diff, err)
			}
			if err != nil && managed.Classify(err).Reason != v1alpha1.ReasonConflict {
				t.Errorf("%s\nwant a Conflict, got %v", tc.reason, err)
			}
		})
	}
}

// TestClaimsHeldByOther: another resource holds an id when its claim on the id is at least as
// strong: an id recorded in status is not held by another that only asks for it by annotation.
func TestClaimsHeldByOther(t *testing.T) {
	cases := map[string]struct {
		reason string
		obj    *v1alpha1.Extension
		other  *v1alpha1.Extension
		want   bool
	}{
		"AnnotationDoesNotHoldARecordedID": {
			reason: "a tenant's annotation does not make the id another's for the resource whose status records it",
			obj:    claimant("victim", "sales", time.Minute, 42, "42"),
			other:  claimant("attacker", "mine", time.Hour, 7, "42"),
		},
		"RecordedIDHeldAgainstAnnotation": {
			reason: "an id asked for by annotation is held by the resource whose status records it",
			obj:    claimant("attacker", "mine", time.Hour, 7, "42"),
			other:  claimant("victim", "sales", time.Minute, 42, "42"),
			want:   true,
		},
		"BothRecorded": {
			reason: "after a data loss two statuses may record one id: each is held by the other",
			obj:    claimant("a", "first", time.Hour, 42, "42"),
			other:  claimant("b", "second", time.Minute, 42, "42"),
			want:   true,
		},
		"BothAnnotated": {
			reason: "two annotations of one id (a restore, or a forgery of a restored one): each is held by the other",
			obj:    claimant("a", "first", time.Hour, 0, "42"),
			other:  claimant("b", "second", time.Minute, 0, "42"),
			want:   true,
		},
		"NoOther": {
			reason: "nobody else records the id",
			obj:    claimant("a", "first", time.Hour, 42, "42"),
			other:  claimant("b", "second", time.Minute, 43, "43"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c := newClaims(t, tc.obj, tc.other)
			holder, err := c.HeldByOther(context.Background(), tc.obj, 42)
			if err != nil {
				t.Fatal(err)
			}
			if got := holder != ""; got != tc.want {
				t.Errorf("%s\nheld by another: want %v, got %q", tc.reason, tc.want, holder)
			}
			if holder != "" && holder != "a resource in another namespace" {
				t.Errorf("%s\nthe holder in another namespace is not named: %q", tc.reason, holder)
			}
		})
	}
}
