package managed_test

import (
	"context"
	"errors"
	"k8s.io/utils/ptr"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// apiErr stands for the PBX client's error: it has the three methods the engine classifies by.
type apiErr struct {
	status int
	msg    string
	retry  time.Duration
}

func (e *apiErr) Error() string             { return "pbx: " + e.msg }
func (e *apiErr) HTTPStatus() int           { return e.status }
func (e *apiErr) PBXMessage() string        { return e.msg }
func (e *apiErr) RetryAfter() time.Duration { return e.retry }

func ext(mods ...func(*v1alpha1.Extension)) *v1alpha1.Extension {
	e := &v1alpha1.Extension{
		ObjectMeta: metav1.ObjectMeta{Name: "alice", Namespace: "default", Generation: 3, Finalizers: []string{v1alpha1.Finalizer}},
		Spec: v1alpha1.ExtensionSpec{
			ManagedSpec: v1alpha1.ManagedSpec{
				AccountRef:       v1alpha1.AccountReference{Kind: v1alpha1.AccountKindAccount, Name: "demo"},
				DeletionPolicy:   v1alpha1.DeletionPolicyDelete,
				ManagementPolicy: v1alpha1.ManagementPolicyManage,
			},
			Name: "101", Type: v1alpha1.ExtensionTypePhone, State: v1alpha1.ExtensionStateActive,
		},
	}
	for _, m := range mods {
		m(e)
	}
	return e
}

func withID(id int64) func(*v1alpha1.Extension) {
	return func(e *v1alpha1.Extension) {
		e.Status.ID = id
		annotate(v1alpha1.AnnotationExternalID, "42")(e)
	}
}

// made is a resource whose create under its (hour-old) mark made the PBX object id: the id in
// status alone.
func made(id int64) func(*v1alpha1.Extension) {
	return func(e *v1alpha1.Extension) {
		e.Status.ID = id
		annotate(v1alpha1.AnnotationCreatePending, now.Add(-time.Hour).Format(time.RFC3339Nano))(e)
	}
}

// inSync is a resource whose last pass found it Ready and Synced at its generation.
func inSync(e *v1alpha1.Extension) {
	e.Status.ObservedGeneration = ptr.To(e.Generation)
	for _, c := range []struct{ typ, reason, msg string }{
		{v1alpha1.ConditionReady, v1alpha1.ReasonAvailable, "The PBX object exists"},
		{v1alpha1.ConditionSynced, v1alpha1.ReasonUpToDate, "The PBX object matches the spec"},
	} {
		meta.SetStatusCondition(&e.Status.Conditions, metav1.Condition{Type: c.typ, Status: metav1.ConditionTrue, Reason: c.reason, Message: c.msg, ObservedGeneration: e.Generation})
	}
}

func annotate(k, v string) func(*v1alpha1.Extension) {
	return func(e *v1alpha1.Extension) {
		if e.Annotations == nil {
			e.Annotations = map[string]string{}
		}
		e.Annotations[k] = v
	}
}

func deleting(e *v1alpha1.Extension) {
	t := metav1.NewTime(now)
	e.DeletionTimestamp = &t
}

// calls counts the adapter verbs a pass used.
type calls struct{ connect, observe, create, update, delete int }

func TestReconcile(t *testing.T) {
	exists := func(id int64, upToDate bool) func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
		return func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
			return managed.Observation{Exists: true, UpToDate: upToDate, ExternalID: id, Diff: "label"}, nil
		}
	}
	type args struct {
		obj        *v1alpha1.Extension
		adapter    managed.AdapterFns[*v1alpha1.Extension]
		connectErr error
	}
	type want struct {
		result      ctrl.Result
		terminal    bool
		err         bool
		ready       string // reason of Ready, "" for no Ready condition
		synced      string // reason of Synced, "" for none
		id          int64
		annotations map[string]string
		calls       calls
		gone        bool // the finalizer was removed
		observedGen int64
		progress    string // "Reconciling/<reason>" or "Stalled/<reason>", "" for neither
	}
	rateReset := 17 * time.Minute
	cases := map[string]struct {
		reason string
		args   args
		want   want
	}{
		"CreatesWhenAbsent": {
			reason: "A missing PBX object is created, its id recorded in status (the mark stays: it made the object), and confirmed later.",
			args: args{obj: ext(), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) { return 42, nil },
			}},
			want: want{result: ctrl.Result{RequeueAfter: 2 * time.Second}, ready: v1alpha1.ReasonCreating, synced: v1alpha1.ReasonCreating,
				id: 42, annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Format(time.RFC3339Nano)}, calls: calls{connect: 1, observe: 2, create: 1}, observedGen: 3, progress: "Reconciling/Creating"},
		},
		"CreateConfirmedFromTheAnswer": {
			reason: "The create's answer is the PBX's view of the object: Ready and Synced in the same pass, no 2 s requeue.",
			args: args{obj: ext(), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: seq(managed.Observation{}, managed.Observation{Exists: true, UpToDate: true, ExternalID: 42}),
				CreateFn:  func(context.Context, *v1alpha1.Extension) (int64, error) { return 42, nil },
			}},
			want: want{result: ctrl.Result{RequeueAfter: 10 * time.Minute}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonUpToDate,
				id: 42, annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Format(time.RFC3339Nano)}, calls: calls{connect: 1, observe: 2, create: 1}, observedGen: 3},
		},
		"UpdateConfirmedFromTheAnswer": {
			reason: "The update's answer shows the object matching: Synced in the same pass.",
			args: args{obj: ext(withID(42)), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: seq(managed.Observation{Exists: true, ExternalID: 42, Diff: "label"}, managed.Observation{Exists: true, UpToDate: true, ExternalID: 42}),
			}},
			want: want{result: ctrl.Result{RequeueAfter: 10 * time.Minute}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonUpToDate,
				id: 42, annotations: map[string]string{v1alpha1.AnnotationExternalID: "42"}, calls: calls{connect: 1, observe: 2, update: 1}, observedGen: 3},
		},
		"UpToDate": {
			reason: "An object that matches is Ready and Synced, and is polled again after the interval.",
			args:   args{obj: ext(withID(42)), adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(0, true)}},
			want: want{result: ctrl.Result{RequeueAfter: 10 * time.Minute}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonUpToDate,
				id: 42, annotations: map[string]string{v1alpha1.AnnotationExternalID: "42"}, calls: calls{connect: 1, observe: 1}, observedGen: 3},
		},
		"UpdatesDrifted": {
			reason: "A drifted object is updated; Ready stays True while the edit is in flight.",
			args:   args{obj: ext(withID(42)), adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(0, false)}},
			want: want{result: ctrl.Result{RequeueAfter: 2 * time.Second}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonUpdating,
				id: 42, annotations: map[string]string{v1alpha1.AnnotationExternalID: "42"}, calls: calls{connect: 1, observe: 2, update: 1}, observedGen: 3, progress: "Reconciling/Updating"},
		},
		"InvalidSpecOnCreate": {
			reason: "A 400 on create is terminal; the create-pending mark is dropped since nothing was made.",
			args: args{obj: ext(), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) {
					return 0, &apiErr{status: http.StatusBadRequest, msg: "name: must be 3 digits"}
				},
			}},
			want: want{terminal: true, ready: v1alpha1.ReasonUnavailable, synced: v1alpha1.ReasonInvalidSpec,
				annotations: map[string]string{}, calls: calls{connect: 1, observe: 2, create: 1}, observedGen: 3, progress: "Stalled/InvalidSpec"},
		},
		"AlreadyExistsAnswersOurEarlierCreate": {
			reason: "A 400 'already exists' after an earlier create whose answer was lost: a fresh look finds the object and adopts it, in status (the marks made it).",
			args: args{obj: ext(annotate(v1alpha1.AnnotationCreatePending, now.Add(-time.Minute).Format(time.RFC3339Nano))),
				adapter: managed.AdapterFns[*v1alpha1.Extension]{
					ObserveFn: seq(managed.Observation{}, managed.Observation{Exists: true, UpToDate: true, ExternalID: 42}),
					CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) {
						return 0, &apiErr{status: http.StatusBadRequest, msg: "name: extension 0003*101 already exists"}
					},
				}},
			want: want{result: ctrl.Result{RequeueAfter: 10 * time.Minute}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonUpToDate,
				id: 42, annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Format(time.RFC3339Nano)}, calls: calls{connect: 1, observe: 2, create: 1}, observedGen: 3},
		},
		"AlreadyExistsAnswerOfSomebodyElse": {
			reason: "A 400 'already exists' to a first create: the object found afresh is somebody else's; the mark goes.",
			args: args{obj: ext(), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: seq(managed.Observation{}, managed.Observation{Exists: true, UpToDate: true, ExternalID: 42}),
				CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) {
					return 0, &apiErr{status: http.StatusBadRequest, msg: "name: extension 0003*101 already exists"}
				},
			}},
			want: want{terminal: true, ready: v1alpha1.ReasonAlreadyExists, synced: v1alpha1.ReasonAlreadyExists,
				annotations: map[string]string{}, calls: calls{connect: 1, observe: 2, create: 1}, observedGen: 3, progress: "Stalled/AlreadyExists"},
		},
		"WaitsForEarlierCreate": {
			reason: "A create-pending mark younger than the call timeout: an earlier create may still be under way; wait, quietly.",
			args: args{obj: ext(annotate(v1alpha1.AnnotationCreatePending, now.Add(-5*time.Second).Format(time.RFC3339Nano))),
				adapter: managed.AdapterFns[*v1alpha1.Extension]{}},
			want: want{result: ctrl.Result{RequeueAfter: 31 * time.Second},
				annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Add(-5 * time.Second).Format(time.RFC3339Nano)}, calls: calls{connect: 1}},
		},
		"LostObjectIsRecreated": {
			reason: "The object at the recorded id is gone (confirmed afresh): the id is cleared and the object created again.",
			args: args{obj: ext(withID(42)), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) { return 43, nil },
			}},
			want: want{result: ctrl.Result{RequeueAfter: 2 * time.Second}, ready: v1alpha1.ReasonCreating, synced: v1alpha1.ReasonCreating,
				id: 43, annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Format(time.RFC3339Nano)}, calls: calls{connect: 1, observe: 4, create: 1}, observedGen: 3, progress: "Reconciling/Creating"},
		},
		"UpdateOfDeletedObject": {
			reason: "A 404 on update (deleted between the look and the write) looks again soon, quietly.",
			args: args{obj: ext(withID(42)), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: exists(0, false),
				UpdateFn:  func(context.Context, *v1alpha1.Extension) error { return &apiErr{status: 404, msg: "Record not found"} },
			}},
			want: want{result: ctrl.Result{RequeueAfter: time.Second}, ready: v1alpha1.ReasonAvailable, id: 42,
				annotations: map[string]string{v1alpha1.AnnotationExternalID: "42"}, calls: calls{connect: 1, observe: 1, update: 1}, observedGen: 3},
		},
		"LostCreateKeepsMark": {
			reason: "A create that timed out may have happened: the mark stays and the error backs off.",
			args: args{obj: ext(), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) { return 0, context.DeadlineExceeded },
			}},
			want: want{err: true, ready: v1alpha1.ReasonUnavailable, synced: v1alpha1.ReasonAPIUnavailable,
				annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Format(time.RFC3339Nano)}, calls: calls{connect: 1, observe: 1, create: 1}, observedGen: 3, progress: "Reconciling/APIUnavailable"},
		},
		"AdoptsAfterLostCreate": {
			reason: "The object found by natural key while the create-pending mark is set is ours: its id goes to status, the mark stays.",
			args: args{obj: ext(annotate(v1alpha1.AnnotationCreatePending, now.Add(-time.Minute).Format(time.RFC3339Nano))),
				adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(42, true)}},
			want: want{result: ctrl.Result{RequeueAfter: 10 * time.Minute}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonUpToDate,
				id: 42, annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Add(-time.Minute).Format(time.RFC3339Nano)}, calls: calls{connect: 1, observe: 1}, observedGen: 3},
		},
		"MadeObjectLostIsRecreated": {
			reason: "An object the resource made (status.id and the mark, no annotation) that is gone: the mark goes with the id, and the object is made again under a new mark.",
			args: args{obj: ext(made(42)), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) { return 43, nil },
			}},
			want: want{result: ctrl.Result{RequeueAfter: 2 * time.Second}, ready: v1alpha1.ReasonCreating, synced: v1alpha1.ReasonCreating,
				id: 43, annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Format(time.RFC3339Nano)}, calls: calls{connect: 1, observe: 4, create: 1}, observedGen: 3, progress: "Reconciling/Creating"},
		},
		"MadeObjectUpToDate": {
			reason: "An object the resource made, in sync: nothing is written.",
			args:   args{obj: ext(made(42), inSync), adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(42, true)}},
			want: want{result: ctrl.Result{RequeueAfter: 10 * time.Minute}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonUpToDate,
				id: 42, annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Add(-time.Hour).Format(time.RFC3339Nano)}, calls: calls{connect: 1, observe: 1}, observedGen: 3},
		},
		"RestoredWithoutStatus": {
			reason: "A resource restored without its status (its mark kept) finds its object by key and records the id in status, with no wait (the mark is old) and no metadata write.",
			args: args{obj: ext(annotate(v1alpha1.AnnotationCreatePending, now.Add(-time.Hour).Format(time.RFC3339Nano))),
				adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(42, true)}},
			want: want{result: ctrl.Result{RequeueAfter: 10 * time.Minute}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonUpToDate,
				id: 42, annotations: map[string]string{v1alpha1.AnnotationCreatePending: now.Add(-time.Hour).Format(time.RFC3339Nano)}, calls: calls{connect: 1, observe: 1}, observedGen: 3},
		},
		"NotOwnedNumberTaken": {
			reason: "A natural-key match without mark or opt-in is somebody else's: no writes.",
			args:   args{obj: ext(), adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(42, true)}},
			want: want{terminal: true, ready: v1alpha1.ReasonAlreadyExists, synced: v1alpha1.ReasonAlreadyExists,
				calls: calls{connect: 1, observe: 1}, observedGen: 3, progress: "Stalled/AlreadyExists"},
		},
		"AdoptOptIn": {
			reason: "The adopt annotation takes over the existing object.",
			args: args{obj: ext(annotate(v1alpha1.AnnotationAdopt, "true")),
				adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(42, false)}},
			want: want{result: ctrl.Result{RequeueAfter: 2 * time.Second}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonUpdating, id: 42,
				annotations: map[string]string{v1alpha1.AnnotationExternalID: "42", v1alpha1.AnnotationAdopt: "true"}, calls: calls{connect: 1, observe: 2, update: 1}, observedGen: 3, progress: "Reconciling/Updating"},
		},
		"Paused": {
			reason: "A paused resource makes no PBX calls.",
			args:   args{obj: ext(withID(42), annotate(v1alpha1.AnnotationPaused, "true"))},
			want: want{synced: v1alpha1.ReasonPaused, id: 42,
				annotations: map[string]string{v1alpha1.AnnotationExternalID: "42", v1alpha1.AnnotationPaused: "true"}, observedGen: 3},
		},
		"DeletePolicyDelete": {
			reason: "Deleting deletes the PBX object and releases the resource.",
			args:   args{obj: ext(withID(42), deleting), adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(0, true)}},
			want:   want{gone: true, id: 42, calls: calls{connect: 1, observe: 1, delete: 1}},
		},
		"DeleteWhilePaused": {
			reason: "Pause never blocks deletion.",
			args: args{obj: ext(withID(42), deleting, annotate(v1alpha1.AnnotationPaused, "true")),
				adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(0, true)}},
			want: want{gone: true, id: 42, calls: calls{connect: 1, observe: 1, delete: 1}},
		},
		"DeleteAlreadyGone": {
			reason: "A 404 on delete counts as gone.",
			args: args{obj: ext(withID(42), deleting), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: exists(0, true),
				DeleteFn:  func(context.Context, *v1alpha1.Extension) error { return &apiErr{status: 404, msg: "Record not found"} },
			}},
			want: want{gone: true, id: 42, calls: calls{connect: 1, observe: 1, delete: 1}},
		},
		"DeleteFails": {
			reason: "A failed delete keeps the finalizer and reports Deleting.",
			args: args{obj: ext(withID(42), deleting), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: exists(0, true),
				DeleteFn:  func(context.Context, *v1alpha1.Extension) error { return &apiErr{status: 503, msg: "down"} },
			}},
			want: want{err: true, ready: v1alpha1.ReasonDeleting, synced: v1alpha1.ReasonAPIUnavailable, id: 42,
				annotations: map[string]string{v1alpha1.AnnotationExternalID: "42"}, calls: calls{connect: 1, observe: 1, delete: 1}, observedGen: 3, progress: "Reconciling/APIUnavailable"},
		},
		"DeleteNeverCreated": {
			reason: "A resource that never made a PBX object is released without calls, and without its account (which may refuse it, or be gone).",
			args:   args{obj: ext(deleting)},
			want:   want{gone: true},
		},
		"DeleteOrphan": {
			reason: "Orphan releases without deleting.",
			args: args{obj: ext(withID(42), deleting, func(e *v1alpha1.Extension) {
				e.Spec.DeletionPolicy = v1alpha1.DeletionPolicyOrphan
			})},
			want: want{gone: true, id: 42, calls: calls{connect: 1}},
		},
		"RateLimited": {
			reason: "A 429 waits for the reset, silently.",
			args: args{obj: ext(withID(42)), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
					return managed.Observation{}, &apiErr{status: 429, msg: "Rate limit exceeded", retry: rateReset}
				},
			}},
			want: want{result: ctrl.Result{RequeueAfter: 17 * time.Minute}, ready: v1alpha1.ReasonUnavailable, synced: v1alpha1.ReasonRateLimited, id: 42,
				annotations: map[string]string{v1alpha1.AnnotationExternalID: "42"}, calls: calls{connect: 1, observe: 1}, observedGen: 3, progress: "Reconciling/RateLimited"},
		},
		"Unauthorized": {
			reason: "A 401 waits minutes (or a Secret change); an object never seen is not Ready, for that reason.",
			args: args{obj: ext(withID(42)), adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
					return managed.Observation{}, &apiErr{status: 401, msg: "Unauthorized"}
				},
			}},
			want: want{result: ctrl.Result{RequeueAfter: 5 * time.Minute}, ready: v1alpha1.ReasonUnauthorized, synced: v1alpha1.ReasonUnauthorized, id: 42,
				annotations: map[string]string{v1alpha1.AnnotationExternalID: "42"}, calls: calls{connect: 1, observe: 1}, observedGen: 3, progress: "Stalled/Unauthorized"},
		},
		"DependencyNotReady": {
			reason: "A group that is not Ready yet makes the extension wait.",
			args:   args{obj: ext(), connectErr: managed.DependencyNotReady("ExtensionGroup sales is not Ready")},
			want: want{result: ctrl.Result{RequeueAfter: 15 * time.Second}, ready: v1alpha1.ReasonDependencyNotReady, synced: v1alpha1.ReasonDependencyNotReady,
				calls: calls{connect: 1}, observedGen: 3, progress: "Reconciling/DependencyNotReady"},
		},
		"WaitsQuietly": {
			reason: "A dependency that is only getting ready requeues soon and changes no condition.",
			args:   args{obj: ext(withID(42)), connectErr: managed.Wait(2*time.Second, "waiting for the connection")},
			want: want{result: ctrl.Result{RequeueAfter: 2 * time.Second}, id: 42,
				annotations: map[string]string{v1alpha1.AnnotationExternalID: "42"}, calls: calls{connect: 1}},
		},
		"ObserveOnlyDrifted": {
			reason: "ObserveOnly reports the drift and never writes.",
			args: args{obj: ext(withID(42), func(e *v1alpha1.Extension) { e.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly }),
				adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: exists(0, false)}},
			want: want{result: ctrl.Result{RequeueAfter: 10 * time.Minute}, ready: v1alpha1.ReasonAvailable, synced: v1alpha1.ReasonDrifted, id: 42,
				annotations: map[string]string{v1alpha1.AnnotationExternalID: "42"}, calls: calls{connect: 1, observe: 1}, observedGen: 3},
		},
		"ObserveOnlyAbsent": {
			reason: "ObserveOnly never creates.",
			args: args{obj: ext(func(e *v1alpha1.Extension) { e.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly }),
				adapter: managed.AdapterFns[*v1alpha1.Extension]{}},
			want: want{result: ctrl.Result{RequeueAfter: 10 * time.Minute}, ready: v1alpha1.ReasonUnavailable, synced: v1alpha1.ReasonUnavailable,
				calls: calls{connect: 1, observe: 1}, observedGen: 3, progress: "Stalled/Unavailable"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, got := newClient(t, tc.args.obj)
			var n calls
			a := tc.args.adapter
			wrapped := managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: func(ctx context.Context, o *v1alpha1.Extension, since time.Time) (managed.Observation, error) {
					n.observe++
					return a.Observe(ctx, o, since)
				},
				CreateFn: func(ctx context.Context, o *v1alpha1.Extension) (int64, error) { n.create++; return a.Create(ctx, o) },
				UpdateFn: func(ctx context.Context, o *v1alpha1.Extension) error { n.update++; return a.Update(ctx, o) },
				DeleteFn: func(ctx context.Context, o *v1alpha1.Extension) error { n.delete++; return a.Delete(ctx, o) },
			}
			connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
				n.connect++
				return wrapped, tc.args.connectErr
			})
			r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }),
				managed.WithPollInterval[*v1alpha1.Extension](10*time.Minute, 0), managed.WithRecorder[*v1alpha1.Extension](events.NewFakeRecorder(10)))
			obj := &v1alpha1.Extension{}
			if err := c.Get(context.Background(), key, obj); err != nil {
				t.Fatal(err)
			}
			res, err := r.Reconcile(context.Background(), obj)

			if diff := cmp.Diff(tc.want.result, res); diff != "" {
				t.Errorf("%s\nresult: -want +got:\n%s", tc.reason, diff)
			}
			isTerminal := errors.Is(err, reconcile.TerminalError(nil))
			if isTerminal != tc.want.terminal || (err != nil && !isTerminal) != tc.want.err {
				t.Errorf("%s\nerror: want terminal=%t other=%t, got %v", tc.reason, tc.want.terminal, tc.want.err, err)
			}
			if diff := cmp.Diff(tc.want.calls, n, cmp.AllowUnexported(calls{})); diff != "" {
				t.Errorf("%s\ncalls: -want +got:\n%s", tc.reason, diff)
			}
			stored := got()
			if tc.want.gone {
				if stored != nil {
					t.Errorf("%s\nwant the resource released, finalizers %v", tc.reason, stored.Finalizers)
				}
				return
			}
			if stored == nil {
				t.Fatalf("%s\nthe resource is gone", tc.reason)
			}
			if diff := cmp.Diff(tc.want.annotations, stored.Annotations, emptyMap); diff != "" {
				t.Errorf("%s\nannotations: -want +got:\n%s", tc.reason, diff)
			}
			st := stored.Status
			if st.ID != tc.want.id || ptr.Deref(st.ObservedGeneration, 0) != tc.want.observedGen {
				t.Errorf("%s\nstatus: want id %d observedGeneration %d, got %d %d", tc.reason, tc.want.id, tc.want.observedGen, st.ID, ptr.Deref(st.ObservedGeneration, 0))
			}
			if got := reason(st.Conditions, v1alpha1.ConditionReady); got != tc.want.ready {
				t.Errorf("%s\nReady: want %q, got %q", tc.reason, tc.want.ready, got)
			}
			if got := reason(st.Conditions, v1alpha1.ConditionSynced); got != tc.want.synced {
				t.Errorf("%s\nSynced: want %q, got %q", tc.reason, tc.want.synced, got)
			}
			progress := ""
			for _, typ := range []string{v1alpha1.ConditionReconciling, v1alpha1.ConditionStalled} {
				if r := reason(st.Conditions, typ); r != "" {
					progress += typ + "/" + r
				}
			}
			if progress != tc.want.progress {
				t.Errorf("%s\nkstatus conditions: want %q, got %q", tc.reason, tc.want.progress, progress)
			}
			if !controllerutilHas(stored) {
				t.Errorf("%s\nthe finalizer is missing", tc.reason)
			}
		})
	}
}

var key = types.NamespacedName{Namespace: "default", Name: "alice"}

// reconcileStored reads the resource as stored and runs one pass of r on it.
func reconcileStored(t *testing.T, c client.Client, r *managed.Reconciler[*v1alpha1.Extension]) error {
	t.Helper()
	obj := &v1alpha1.Extension{}
	if err := c.Get(context.Background(), key, obj); err != nil {
		t.Fatal(err)
	}
	_, err := r.Reconcile(context.Background(), obj)
	return err
}

// seq returns an ObserveFn that answers each observation in turn, repeating the last.
func seq(obs ...managed.Observation) func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
	i := 0
	return func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
		o := obs[min(i, len(obs)-1)]
		i++
		return o, nil
	}
}

var emptyMap = cmp.Comparer(func(a, b map[string]string) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return cmp.Equal(a, b)
})

func reason(conds []metav1.Condition, typ string) string {
	if c := meta.FindStatusCondition(conds, typ); c != nil {
		return c.Reason
	}
	return ""
}

func controllerutilHas(e *v1alpha1.Extension) bool {
	for _, f := range e.Finalizers {
		if f == v1alpha1.Finalizer {
			return true
		}
	}
	return false
}

// newClient is a fake API server holding obj; got reads the stored object back (nil when gone).
func newClient(t *testing.T, obj *v1alpha1.Extension, funcs ...interceptor.Funcs) (client.Client, func() *v1alpha1.Extension) {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(obj).WithStatusSubresource(&v1alpha1.Extension{})
	for _, f := range funcs {
		b = b.WithInterceptorFuncs(f)
	}
	c := b.Build()
	return c, func() *v1alpha1.Extension {
		got := &v1alpha1.Extension{}
		if err := c.Get(context.Background(), key, got); err != nil {
			if client.IgnoreNotFound(err) == nil {
				return nil
			}
			t.Fatal(err)
		}
		return got
	}
}

func TestMessages(t *testing.T) {
	c, got := newClient(t, ext())
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		return managed.AdapterFns[*v1alpha1.Extension]{CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) {
			return 0, &apiErr{status: 400, msg: "name: extension 0003*101 already exists"}
		}}, nil
	})
	rec := events.NewFakeRecorder(10)
	r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }), managed.WithRecorder[*v1alpha1.Extension](rec))
	for range 2 {
		if err := reconcileStored(t, c, r); !errors.Is(err, reconcile.TerminalError(nil)) {
			t.Fatalf("a refused spec ends the pass with a terminal error: %v", err)
		}
	}
	cond := meta.FindStatusCondition(got().Status.Conditions, v1alpha1.ConditionSynced)
	if cond == nil || cond.Message != "The PBX rejected the spec: name: extension 0003*101 already exists" || cond.ObservedGeneration != 3 {
		t.Errorf("Synced: want the PBX's message, stamped with the generation; got %+v", cond)
	}
	if n := len(rec.Events); n != 1 {
		t.Fatalf("a Warning once per message change: want 1 event, got %d", n)
	}
	if ev := <-rec.Events; !strings.HasPrefix(ev, "Warning InvalidSpec") {
		t.Errorf("event: got %q", ev)
	}
}

func TestNoStatusWriteWhenUnchanged(t *testing.T) {
	patches := 0
	c, _ := newClient(t, ext(withID(42)), interceptor.Funcs{
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			patches++
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		},
	})
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		return managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
			return managed.Observation{Exists: true, UpToDate: true}, nil
		}}, nil
	})
	r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }))
	for range 3 {
		if err := reconcileStored(t, c, r); err != nil {
			t.Fatal(err)
		}
	}
	if patches != 1 {
		t.Errorf("an object in sync is written once, then never: %d status patches", patches)
	}
}

func TestStatusWriteFailureIsReturned(t *testing.T) {
	c, _ := newClient(t, ext(withID(42)), interceptor.Funcs{
		SubResourcePatch: func(context.Context, client.Client, string, client.Object, client.Patch, ...client.SubResourcePatchOption) error {
			return errors.New("etcdserver: request timed out")
		},
	})
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		return managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
			return managed.Observation{Exists: true, UpToDate: true}, nil
		}}, nil
	})
	r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }))
	if err := reconcileStored(t, c, r); err == nil {
		t.Errorf("a status write that failed is returned, so the pass runs again")
	}
}

func TestReconcileRequestLooksAfresh(t *testing.T) {
	c, got := newClient(t, ext(withID(42), annotate(v1alpha1.AnnotationReconcileRequestedAt, "2026-11-26T12:00:00Z")))
	var fresh []bool
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		return managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: func(_ context.Context, _ *v1alpha1.Extension, since time.Time) (managed.Observation, error) {
			ok := !since.IsZero()
			fresh = append(fresh, ok)
			return managed.Observation{Exists: true, UpToDate: true}, nil
		}}, nil
	})
	r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }))
	for range 2 {
		if err := reconcileStored(t, c, r); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]bool{true, false}, fresh); diff != "" {
		t.Errorf("a new reconcile-requested-at value makes one fresh look: -want +got:\n%s", diff)
	}
	if h := got().Status.LastHandledReconcileAt; h != "2026-11-26T12:00:00Z" {
		t.Errorf("lastHandledReconcileAt: got %q", h)
	}
}

// TestWritesPerCreate: a create costs one metadata patch (the finalizer with the create-pending
// mark), one status patch (the id and the conditions) and one event, and the next pass writes
// nothing.
func TestWritesPerCreate(t *testing.T) {
	var meta, status int
	c, _ := newClient(t, ext(func(e *v1alpha1.Extension) { e.Finalizers = nil }), interceptor.Funcs{
		Patch: func(ctx context.Context, c client.WithWatch, o client.Object, p client.Patch, opts ...client.PatchOption) error {
			meta++
			return c.Patch(ctx, o, p, opts...)
		},
		SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
			status++
			return c.SubResource(sub).Patch(ctx, o, p, opts...)
		},
	})
	created := false
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		return managed.AdapterFns[*v1alpha1.Extension]{
			ObserveFn: func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
				return managed.Observation{Exists: created, UpToDate: created, ExternalID: 42}, nil
			},
			CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) { created = true; return 42, nil },
		}, nil
	})
	rec := events.NewFakeRecorder(10)
	r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }), managed.WithRecorder[*v1alpha1.Extension](rec))
	for range 2 {
		if err := reconcileStored(t, c, r); err != nil {
			t.Fatal(err)
		}
	}
	if meta != 1 || status != 1 || len(rec.Events) != 1 {
		t.Errorf("writes for one create and a pass in sync: want 1 metadata patch, 1 status patch, 1 event; got %d, %d, %d", meta, status, len(rec.Events))
	}
}

// TestReleaseOfAGoneResource: a pass on a stale copy of a resource that an earlier pass already
// released finds it gone when removing the finalizer: no error, no second event.
func TestReleaseOfAGoneResource(t *testing.T) {
	c, _ := newClient(t, ext(withID(42), deleting), interceptor.Funcs{
		Patch: func(_ context.Context, _ client.WithWatch, o client.Object, _ client.Patch, _ ...client.PatchOption) error {
			return apierrors.NewNotFound(v1alpha1.GroupVersion.WithResource("extensions").GroupResource(), o.GetName())
		},
	})
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		return managed.AdapterFns[*v1alpha1.Extension]{}, nil
	})
	rec := events.NewFakeRecorder(10)
	r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }), managed.WithRecorder[*v1alpha1.Extension](rec))
	if err := reconcileStored(t, c, r); err != nil || len(rec.Events) != 0 {
		t.Errorf("want no error and no event, got %v and %d events", err, len(rec.Events))
	}
}

// TestStaleCopyNeverCreatesNorReleases: the cache lags behind an earlier pass, which marked the
// resource create-pending and sent a create whose answer was lost. A pass on the older copy (no
// mark) must neither create a twin nor, if the resource is being deleted, release it: its first
// write fails on the version, and the next pass reads the latest.
func TestStaleCopyNeverCreatesNorReleases(t *testing.T) {
	for name, mods := range map[string][]func(*v1alpha1.Extension){
		"Create": nil,
		"Delete": {deleting},
	} {
		t.Run(name, func(t *testing.T) {
			c, got := newClient(t, ext(mods...))
			stale := got()
			latest := stale.DeepCopy()
			annotate(v1alpha1.AnnotationCreatePending, now.Add(-time.Second).Format(time.RFC3339Nano))(latest)
			if err := c.Update(context.Background(), latest); err != nil {
				t.Fatal(err)
			}
			var calls calls
			connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
				return managed.AdapterFns[*v1alpha1.Extension]{
					CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) { calls.create++; return 43, nil },
					DeleteFn: func(context.Context, *v1alpha1.Extension) error { calls.delete++; return nil },
				}, nil
			})
			r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](func() time.Time { return now }))
			res, err := r.Reconcile(context.Background(), stale)
			if calls.create != 0 || calls.delete != 0 || res.RequeueAfter == 0 || err != nil {
				t.Errorf("want no create, no delete and a quiet requeue, got %d creates, %d deletes, %+v, %v", calls.create, calls.delete, res, err)
			}
			if after := got(); after == nil || !controllerutilHas(after) || after.Annotations[v1alpha1.AnnotationCreatePending] == "" {
				t.Errorf("the resource keeps its finalizer and the earlier pass's mark: %+v", after)
			}
		})
	}
}
