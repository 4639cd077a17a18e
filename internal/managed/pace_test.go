package managed_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

// pacedAdapter is an adapter whose account hands out turns: wait until the next one.
type pacedAdapter struct {
	managed.AdapterFns[*v1alpha1.Extension]
	wait  time.Duration
	asked []string
}

// turnKey marks the context a turn hands to the write.
type turnKey struct{}

func (a *pacedAdapter) Turn(ctx context.Context, uid string) (context.Context, time.Duration) {
	a.asked = append(a.asked, uid)
	return context.WithValue(ctx, turnKey{}, uid), a.wait
}

// TestPacedWrites: a write whose turn is not due ends the pass before anything is written, to the
// PBX or to the API server (no create-pending mark, no finalizer, no status), and comes back when
// it is due; a long wait shows in Synced, once.
func TestPacedWrites(t *testing.T) {
	noFinalizer := func(e *v1alpha1.Extension) { e.Finalizers = nil }
	ready := func(e *v1alpha1.Extension) {
		for _, c := range []metav1.Condition{
			{Type: v1alpha1.ConditionReady, Reason: v1alpha1.ReasonAvailable, Message: "The PBX object exists"},
			{Type: v1alpha1.ConditionSynced, Reason: v1alpha1.ReasonUpToDate, Message: "The PBX object matches the spec"},
		} {
			c.Status, c.ObservedGeneration = metav1.ConditionTrue, 3
			meta.SetStatusCondition(&e.Status.Conditions, c)
		}
		e.Status.ObservedGeneration = ptr.To[int64](3)
	}
	cases := map[string]struct {
		obj    *v1alpha1.Extension
		exists bool
		wait   time.Duration
		synced string
	}{
		"Create":     {obj: ext(noFinalizer), wait: 3 * time.Second},
		"Update":     {obj: ext(withID(42), ready), exists: true, wait: 3 * time.Second},
		"Delete":     {obj: ext(withID(42), deleting), exists: true, wait: 3 * time.Second},
		"LongCreate": {obj: ext(noFinalizer), wait: 5 * time.Minute, synced: v1alpha1.ReasonRateLimited},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			writes := 0
			count := interceptor.Funcs{
				Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
					writes++
					return c.Patch(ctx, o, p, opts...)
				},
				SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
					writes++
					return c.SubResource(sub).Patch(ctx, o, p, opts...)
				},
			}
			tc.obj.UID = "uid-1"
			c, got := newClient(t, tc.obj, count)
			pbxWrites := 0
			write := func(ctx context.Context) {
				pbxWrites++
				if ctx.Value(turnKey{}) != "uid-1" {
					t.Error("the write does not run with the context its turn gave")
				}
			}
			a := &pacedAdapter{wait: tc.wait, AdapterFns: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
					return managed.Observation{Exists: tc.exists, ExternalID: 42, Diff: "label"}, nil
				},
				CreateFn: func(ctx context.Context, _ *v1alpha1.Extension) (int64, error) { write(ctx); return 42, nil },
				UpdateFn: func(ctx context.Context, _ *v1alpha1.Extension) error { write(ctx); return nil },
				DeleteFn: func(ctx context.Context, _ *v1alpha1.Extension) error { write(ctx); return nil },
			}}
			connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
				return a, nil
			})
			r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }),
				managed.WithRecorder[*v1alpha1.Extension](events.NewFakeRecorder(10)))
			pass := func() (time.Duration, error) {
				obj := &v1alpha1.Extension{}
				if err := c.Get(context.Background(), key, obj); err != nil {
					t.Fatal(err)
				}
				res, err := r.Reconcile(context.Background(), obj)
				return res.RequeueAfter, err
			}

			after, err := pass()
			if err != nil || after != tc.wait {
				t.Errorf("a pass whose turn is %v away: requeue %v, error %v; want a requeue at its turn and no error", tc.wait, after, err)
			}
			if len(a.asked) != 1 || a.asked[0] != "uid-1" {
				t.Errorf("turns asked: %v, want one for the resource's uid", a.asked)
			}
			wantWrites := 0
			if tc.synced != "" || tc.obj.DeletionTimestamp != nil {
				wantWrites = 1 // the condition that says why (a long wait; Ready=False Deleting)
			}
			if pbxWrites != 0 || writes != wantWrites {
				t.Errorf("writes before the turn: %d to the PBX, %d to the API server; want 0 and %d", pbxWrites, writes, wantWrites)
			}
			stored := got()
			if _, marked := stored.Annotations[v1alpha1.AnnotationCreatePending]; marked {
				t.Error("a paced create left a create-pending mark")
			}
			if s := reason(stored.Status.Conditions, v1alpha1.ConditionSynced); s != tc.synced && (tc.synced != "" || s != v1alpha1.ReasonUpToDate) {
				t.Errorf("Synced: got %q, want %q", s, tc.synced)
			}
			if tc.synced != "" {
				if _, err := pass(); err != nil {
					t.Fatal(err)
				}
				if writes != wantWrites {
					t.Errorf("waiting again for the same turn wrote %d more times", writes-wantWrites)
				}
			}

			a.wait = 0
			if _, err := pass(); err != nil {
				t.Fatal(err)
			}
			if pbxWrites != 1 {
				t.Errorf("the pass whose turn came: %d PBX writes, want 1", pbxWrites)
			}
		})
	}
}

// TestRoutineEventsBounded: past the bound, routine events are left out; warnings never are.
func TestRoutineEventsBounded(t *testing.T) {
	c, _ := newClient(t, ext(withID(42)))
	fail := false
	a := managed.AdapterFns[*v1alpha1.Extension]{
		ObserveFn: func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
			return managed.Observation{Exists: true, ExternalID: 42, Diff: "label"}, nil
		},
		UpdateFn: func(context.Context, *v1alpha1.Extension) error {
			if fail {
				return &apiErr{status: http.StatusBadRequest, msg: "label: too long"}
			}
			return nil
		},
	}
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		return a, nil
	})
	rec := events.NewFakeRecorder(10)
	r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }),
		managed.WithRecorder[*v1alpha1.Extension](rec), managed.WithRoutineEvents[*v1alpha1.Extension](0, 2))
	for range 3 {
		_ = reconcileStored(t, c, r)
	}
	fail = true
	_ = reconcileStored(t, c, r)
	close(rec.Events)
	var got []string
	for e := range rec.Events {
		got = append(got, strings.Fields(e)[0]+" "+strings.Fields(e)[1])
	}
	want := []string{"Normal Updated", "Normal Updated", "Warning InvalidSpec"}
	if !cmp.Equal(got, want) {
		t.Errorf("events: got %v, want %v (two routine ones, the burst, then the warning)", got, want)
	}
}

// notSent stands for the client's DeferredError: the request never left the process.
type notSent struct{}

func (notSent) Error() string           { return "POST /extension/: not sent: waiting 2s for its turn" }
func (notSent) Deferred() time.Duration { return 2 * time.Second }

// TestCreateNotSentAfterItsMark: a create whose turn came but whose request was still deferred
// leaves its create-pending mark; the next pass knows nothing was sent, so it neither waits for the
// call to settle nor asks for a fresh list, and creates at once. A new process does not know it and
// looks afresh, the safe side.
func TestCreateNotSentAfterItsMark(t *testing.T) {
	obj := ext(func(e *v1alpha1.Extension) { e.UID = "uid-1" })
	c, got := newClient(t, obj)
	creates, freshLooks := 0, 0
	a := managed.AdapterFns[*v1alpha1.Extension]{
		ObserveFn: func(_ context.Context, _ *v1alpha1.Extension, since time.Time) (managed.Observation, error) {
			if !since.IsZero() {
				freshLooks++
			}
			return managed.Observation{}, nil
		},
		CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) {
			creates++
			if creates == 1 {
				return 0, notSent{}
			}
			return 42, nil
		},
	}
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		return a, nil
	})
	newReconciler := func() *managed.Reconciler[*v1alpha1.Extension] {
		return managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }),
			managed.WithRecorder[*v1alpha1.Extension](events.NewFakeRecorder(10)))
	}
	r := newReconciler()
	if err := reconcileStored(t, c, r); err != nil {
		t.Fatal(err)
	}
	if _, marked := got().Annotations[v1alpha1.AnnotationCreatePending]; !marked || creates != 1 {
		t.Fatalf("the first pass: want a create-pending mark and one create call, got %v and %d", got().Annotations, creates)
	}
	if err := reconcileStored(t, c, r); err != nil {
		t.Fatal(err)
	}
	if creates != 2 || freshLooks != 0 || got().Status.ID != 42 {
		t.Errorf("the next pass: %d creates, %d fresh looks, id %d; want 2, 0, 42", creates, freshLooks, got().Status.ID)
	}

	// Another process sees only the mark: it must wait for a create that may be under way.
	obj2 := ext(func(e *v1alpha1.Extension) {
		e.UID = "uid-2"
		e.Annotations = map[string]string{v1alpha1.AnnotationCreatePending: now.Format(time.RFC3339Nano)}
	})
	c, _ = newClient(t, obj2)
	creates = 1
	res, err := newReconciler().Reconcile(context.Background(), obj2)
	if err != nil || res.RequeueAfter == 0 || creates != 1 {
		t.Errorf("a mark this process did not set: requeue %v, error %v, creates %d; want a wait and no create", res.RequeueAfter, err, creates-1)
	}
}
