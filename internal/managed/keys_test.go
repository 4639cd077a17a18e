package managed_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// keyed is an adapter of a kind whose natural key (here the label) the PBX changes in place, with
// its objects in an extension's realm.
type keyed struct {
	managed.AdapterFns[*v1alpha1.Extension]
}

func (keyed) Key(e *v1alpha1.Extension) (string, bool) { return e.Spec.Label, true }
func (keyed) Realm() string                            { return "extension/7" }

func labelled(l string) func(*v1alpha1.Extension) {
	return func(e *v1alpha1.Extension) { e.Spec.Label = l }
}

// createRecord is the key record a create writes with its mark (id 0) in the realm of keyed.
func createRecord(keys string) func(*v1alpha1.Extension) {
	return func(e *v1alpha1.Extension) {
		annotate(v1alpha1.AnnotationExternalKey, `{"id":0,"keys":`+keys+`}`)(e)
		annotate(v1alpha1.AnnotationRealm, "extension/7")(e)
	}
}

// TestKeyRecord: the keys recorded with the id decide whether an object at the id with another key
// than the spec's is the resource's (a rename) or another object (the PBX reused the id).
func TestKeyRecord(t *testing.T) {
	record := func(keys string) func(*v1alpha1.Extension) {
		return annotate(v1alpha1.AnnotationExternalKey, `{"id":42,"keys":`+keys+`}`)
	}
	cases := map[string]struct {
		reason string
		obj    *v1alpha1.Extension
		found  string // the key of the object at the recorded id
		// recordAtUpdate is the key record stored when Update is called ("" when it is not).
		recordAtUpdate string
		// annotations are the identity annotations after the pass.
		id, keys, realm string
		lost            bool
	}{
		"RenameRecordsBothKeysFirst": {
			reason: "A spec rename records the old and the new key before the PBX is asked to rename, so a pass cut off after the rename still knows the object.",
			obj:    ext(withID(42), record(`["Sales"]`), labelled("Sales EMEA")), found: "Sales",
			recordAtUpdate: `{"id":42,"keys":["Sales","Sales EMEA"]}`,
			id:             "42", keys: `{"id":42,"keys":["Sales","Sales EMEA"]}`, realm: "extension/7",
		},
		"RenameOfARename": {
			reason: "A second rename before the first one's answer came back keeps every key the object may carry: the first rename may have been made.",
			obj:    ext(withID(42), record(`["Sales","Sales EMEA"]`), labelled("Sales Europe")), found: "Sales",
			recordAtUpdate: `{"id":42,"keys":["Sales","Sales EMEA","Sales Europe"]}`,
			id:             "42", keys: `{"id":42,"keys":["Sales","Sales EMEA","Sales Europe"]}`, realm: "extension/7",
		},
		"RenameDoneKeepsOneKey": {
			reason: "Once the object carries the new key, the old one is dropped from the record.",
			obj:    ext(withID(42), record(`["Sales","Sales EMEA"]`), labelled("Sales EMEA")), found: "Sales EMEA",
			id: "42", keys: `{"id":42,"keys":["Sales EMEA"]}`, realm: "extension/7",
		},
		"ForeignKeyIsLost": {
			reason: "An object at the id with a key never recorded is not the resource's: it is not renamed, the id is forgotten.",
			obj:    ext(withID(42), record(`["Sales"]`), labelled("Sales")), found: "Marketing",
			lost: true,
		},
		"RecordOfAnotherID": {
			reason: "A record written for another id (a user set the external-id annotation to import an object) does not apply: the import renames the object, and the record is written for it.",
			obj:    ext(withID(42), annotate(v1alpha1.AnnotationExternalKey, `{"id":41,"keys":["Sales"]}`), labelled("Sales")), found: "Imported",
			recordAtUpdate: `{"id":42,"keys":["Imported","Sales"]}`,
			id:             "42", keys: `{"id":42,"keys":["Imported","Sales"]}`, realm: "extension/7",
		},
		"CreateRecordForeignKeyIsLost": {
			reason: "The record a create wrote with its mark stands for the id in status: an object there with another key is not the resource's.",
			obj:    ext(made(42), createRecord(`["Sales"]`), labelled("Sales")), found: "Marketing",
			lost: true,
		},
		"CreateRecordInSync": {
			reason: "An object made under the mark, with its key: nothing more is recorded (no external-id annotation).",
			obj:    ext(made(42), createRecord(`["Sales"]`), labelled("Sales")), found: "Sales",
			id: "", keys: `{"id":0,"keys":["Sales"]}`, realm: "extension/7",
		},
		"CreateRecordRename": {
			reason: "A rename of an object made under the mark records the id and both keys before the PBX is asked to rename.",
			obj:    ext(made(42), createRecord(`["Sales"]`), labelled("Sales EMEA")), found: "Sales",
			recordAtUpdate: `{"id":42,"keys":["Sales","Sales EMEA"]}`,
			id:             "42", keys: `{"id":42,"keys":["Sales","Sales EMEA"]}`, realm: "extension/7",
		},
		"ImportOverCreateRecord": {
			reason: "An external-id annotation names an id: the create's record does not apply to it (an import renames the object).",
			obj:    ext(made(42), annotate(v1alpha1.AnnotationExternalID, "42"), createRecord(`["Sales"]`), labelled("Sales")), found: "Imported",
			recordAtUpdate: `{"id":42,"keys":["Imported","Sales"]}`,
			id:             "42", keys: `{"id":42,"keys":["Imported","Sales"]}`, realm: "extension/7",
		},
		"NoRecordIsWritten": {
			reason: "A resource from before the record gets one at its next pass.",
			obj:    ext(withID(42), labelled("Sales")), found: "Sales",
			id: "42", keys: `{"id":42,"keys":["Sales"]}`, realm: "extension/7",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, got := newClient(t, tc.obj)
			var atUpdate string
			var calls calls
			a := keyed{managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: func(_ context.Context, e *v1alpha1.Extension, _ time.Time) (managed.Observation, error) {
					calls.observe++
					if managed.KnownID(e) == 0 {
						return managed.Observation{}, nil // nothing else has the key
					}
					return managed.Observation{Exists: true, ExternalID: 42, Key: tc.found, UpToDate: tc.found == e.Spec.Label}, nil
				},
				UpdateFn: func(context.Context, *v1alpha1.Extension) error {
					calls.update++
					atUpdate = got().Annotations[v1alpha1.AnnotationExternalKey]
					return nil
				},
				CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) {
					calls.create++
					return 0, &apiErr{status: 400, msg: "stop here"}
				},
			}}
			r := managed.NewReconciler[*v1alpha1.Extension](c, managed.ConnectorFn[*v1alpha1.Extension](
				func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
					return a, nil
				}),
				managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }))
			_ = reconcileStored(t, c, r)
			ann := got().Annotations
			if atUpdate != tc.recordAtUpdate {
				t.Errorf("%s\nrecord when Update was called: want %q, got %q", tc.reason, tc.recordAtUpdate, atUpdate)
			}
			if tc.lost {
				if calls.update != 0 || calls.create != 1 || ann[v1alpha1.AnnotationExternalID] != "" || ann[v1alpha1.AnnotationExternalKey] != "" {
					t.Errorf("%s\nwant no update, a create, the identity forgotten: %+v, %v", tc.reason, calls, ann)
				}
				return
			}
			if ann[v1alpha1.AnnotationExternalID] != tc.id || ann[v1alpha1.AnnotationExternalKey] != tc.keys || ann[v1alpha1.AnnotationRealm] != tc.realm {
				t.Errorf("%s\nidentity annotations: want %s %s %s, got %v", tc.reason, tc.id, tc.keys, tc.realm, ann)
			}
		})
	}
}

// TestStaleCopyAfterLossNeverTakesTheOldID: a resource whose object is lost (the id now holds
// another integration's object, Marketing) forgets its id and makes its object again, or, when
// another integration made a Sales meanwhile, reports AlreadyExists. The cache may serve a pass
// any version the API server held meanwhile; none of them may make a pass take the old id for the
// resource's own (an id in status without its key record looks like an import) and rename the
// other object, nor take the other Sales for the object of a lost create (a create-pending mark
// without an id). The resource records its id by annotation (adopted, or made by an earlier
// version) or in status alone (made under its mark).
func TestStaleCopyAfterLossNeverTakesTheOldID(t *testing.T) {
	for name, obj := range map[string]*v1alpha1.Extension{
		"Annotation": ext(withID(42), annotate(v1alpha1.AnnotationExternalKey, `{"id":42,"keys":["Sales"]}`), labelled("Sales")),
		"Status":     ext(made(42), createRecord(`["Sales"]`), labelled("Sales")),
	} {
		for _, taken := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/NameTaken=%t", name, taken), func(t *testing.T) { staleCopiesAfterLoss(t, obj.DeepCopy(), taken) })
		}
	}
}

func staleCopiesAfterLoss(t *testing.T, obj *v1alpha1.Extension, nameTaken bool) {
	versions := []*v1alpha1.Extension{obj.DeepCopy()}
	var c client.Client
	keep := func(ctx context.Context, cl client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
		if err := cl.Patch(ctx, obj, patch, opts...); err != nil {
			return err
		}
		versions = append(versions, obj.DeepCopyObject().(*v1alpha1.Extension))
		return nil
	}
	keepStatus := func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
		if err := cl.SubResource(sub).Patch(ctx, obj, patch, opts...); err != nil {
			return err
		}
		versions = append(versions, obj.DeepCopyObject().(*v1alpha1.Extension))
		return nil
	}
	c, got := newClient(t, obj, interceptor.Funcs{Patch: keep, SubResourcePatch: keepStatus})
	renamed := 0
	a := keyed{managed.AdapterFns[*v1alpha1.Extension]{
		ObserveFn: func(_ context.Context, e *v1alpha1.Extension, _ time.Time) (managed.Observation, error) {
			switch managed.KnownID(e) {
			case 0:
				if nameTaken {
					// Another integration's Sales, made since: only a create's mark would take it.
					return managed.Observation{Exists: true, UpToDate: true, ExternalID: 50, Key: "Sales"}, nil
				}
				return managed.Observation{}, nil
			case 42:
				return managed.Observation{Exists: true, ExternalID: 42, Key: "Marketing", Diff: "name"}, nil
			}
			return managed.Observation{Exists: true, UpToDate: true, ExternalID: 43, Key: "Sales"}, nil
		},
		UpdateFn: func(context.Context, *v1alpha1.Extension) error { renamed++; return nil },
		CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) { return 43, nil },
	}}
	r := managed.NewReconciler[*v1alpha1.Extension](c, managed.ConnectorFn[*v1alpha1.Extension](
		func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
			return a, nil
		}),
		managed.WithClock[*v1alpha1.Extension](func() time.Time { return now.Add(time.Hour) }))
	err := reconcileStored(t, c, r)
	switch {
	case nameTaken && (got().Status.ID != 0 || !strings.Contains(fmt.Sprint(err), "not managed by this resource")):
		t.Fatalf("the pass forgot the id and found the other Sales somebody else's: status id %d, %v", got().Status.ID, err)
	case !nameTaken && (err != nil || got().Status.ID != 43):
		t.Fatalf("the pass forgot the id and made the object again: status id %d, %v", got().Status.ID, err)
	}
	var seen []string
	for i, v := range versions {
		seen = append(seen, fmt.Sprintf("%d: external-id %q, mark %q, status id %d", i,
			v.Annotations[v1alpha1.AnnotationExternalID], v.Annotations[v1alpha1.AnnotationCreatePending], v.Status.ID))
	}
	for i, v := range versions {
		// Each version as a new process would read it (nothing known of the last create call).
		fresh := managed.NewReconciler[*v1alpha1.Extension](c, managed.ConnectorFn[*v1alpha1.Extension](
			func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
				return a, nil
			}),
			managed.WithClock[*v1alpha1.Extension](func() time.Time { return now.Add(2 * time.Hour) }))
		for _, r := range []*managed.Reconciler[*v1alpha1.Extension]{r, fresh} {
			res, err := r.Reconcile(context.Background(), v.DeepCopy())
			if id := got().Status.ID; renamed != 0 || id == 50 {
				t.Fatalf("a pass on version %d renamed the object at the old id (%d renames) or took another's (status id %d): %v %v\nversions:\n%s",
					i, renamed, id, res, err, strings.Join(seen, "\n"))
			}
		}
	}
}
