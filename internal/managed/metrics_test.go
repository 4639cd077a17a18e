package managed_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/managed"
)

// synced sets the resource's Synced condition as an earlier pass left it, at generation gen.
func synced(status metav1.ConditionStatus, reason string, gen int64) func(*v1alpha1.Extension) {
	return func(e *v1alpha1.Extension) {
		e.Status.Conditions = append(e.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionSynced, Status: status, Reason: reason,
			ObservedGeneration: gen, LastTransitionTime: metav1.NewTime(now)})
	}
}

// actions gathers pbx_resource_actions_total of the Extension "default" resources of Account demo,
// by action.
func actions(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, s := range gather(t, reg, "pbx_resource_actions_total") {
		want := map[string]string{"kind": "Extension", "namespace": "default", "account_kind": "Account", "account": "demo"}
		for k, v := range want {
			if s.labels[k] != v {
				t.Errorf("pbx_resource_actions_total labels: got %v, want %v and an action", s.labels, want)
			}
		}
		out[s.labels["action"]] = s.value
	}
	return out
}

// sample is one series of a gathered metric.
type sample struct {
	labels map[string]string
	value  float64
}

func gather(t *testing.T, reg *prometheus.Registry, name string) []sample {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []sample
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			s := sample{labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.Counter != nil:
				s.value = m.GetCounter().GetValue()
			case m.Gauge != nil:
				s.value = m.GetGauge().GetValue()
			}
			out = append(out, s)
		}
	}
	return out
}

// metricsReconciler is a Reconciler of Extensions whose metrics go to a new registry, with the
// clock clock.
func metricsReconciler(t *testing.T, obj *v1alpha1.Extension, a managed.AdapterFns[*v1alpha1.Extension], clock func() time.Time) (
	*managed.Reconciler[*v1alpha1.Extension], *prometheus.Registry, client.Client) {
	t.Helper()
	return metricsReconcilerWith(t, obj, a, managed.NewMetrics(clock), clock)
}

// metricsReconcilerWith is metricsReconciler with the engine metrics m.
func metricsReconcilerWith(t *testing.T, obj *v1alpha1.Extension, a managed.AdapterFns[*v1alpha1.Extension], m *managed.Metrics, clock func() time.Time) (
	*managed.Reconciler[*v1alpha1.Extension], *prometheus.Registry, client.Client) {
	t.Helper()
	c, got := newClient(t, obj)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(m.Collectors()...)
	connector := managed.ConnectorFn[*v1alpha1.Extension](func(context.Context, *v1alpha1.Extension) (managed.Adapter[*v1alpha1.Extension], error) {
		return a, nil
	})
	r := managed.NewReconciler(c, connector, managed.WithClock[*v1alpha1.Extension](clock), managed.WithPollInterval[*v1alpha1.Extension](10*time.Minute, 0),
		managed.WithRecorder[*v1alpha1.Extension](events.NewFakeRecorder(10)), managed.WithMetrics[*v1alpha1.Extension](m, "Extension"),
		managed.WithAPIReader[*v1alpha1.Extension](c))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the resource as stored: %+v", got())
		}
	})
	return r, reg, c
}

// TestActionsCounted: each lifecycle branch counts its one action, after its write went, and a
// failed write counts none.
func TestActionsCounted(t *testing.T) {
	found := managed.Observation{Exists: true, UpToDate: true, ExternalID: 42}
	drifted := managed.Observation{Exists: true, ExternalID: 42, Diff: "label"}
	created := func(context.Context, *v1alpha1.Extension) (int64, error) { return 43, nil }
	unavailable := &apiErr{status: http.StatusServiceUnavailable, msg: "Service Unavailable"}
	cases := map[string]struct {
		reason  string
		obj     *v1alpha1.Extension
		adapter managed.AdapterFns[*v1alpha1.Extension]
		want    map[string]float64
	}{
		"Created": {
			reason:  "A missing object is made: created.",
			obj:     ext(),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{CreateFn: created},
			want:    map[string]float64{"created": 1},
		},
		"CreateFailed": {
			reason:  "A create the PBX did not answer made nothing known: nothing counted.",
			obj:     ext(),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{CreateFn: func(context.Context, *v1alpha1.Extension) (int64, error) { return 0, unavailable }},
			want:    map[string]float64{},
		},
		"CreateAnswerLost": {
			reason: "The object an earlier create made, whose answer was lost, is found by its key: created, when it is recorded.",
			obj:    ext(annotate(v1alpha1.AnnotationCreatePending, now.Add(-time.Hour).Format(time.RFC3339Nano))),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: seq(found),
			},
			want: map[string]float64{"created": 1},
		},
		"UpdatedAfterASpecChange": {
			reason:  "The spec changed (generation 3, in sync at 2): updated.",
			obj:     ext(withID(42), synced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, 2)),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(drifted, found)},
			want:    map[string]float64{"updated": 1},
		},
		"DriftCorrected": {
			reason:  "The spec is in sync at its generation and the PBX object differs: drift_corrected.",
			obj:     ext(withID(42), synced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, 3)),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(drifted, found)},
			want:    map[string]float64{"drift_corrected": 1},
		},
		"UpdateFailed": {
			reason: "An update the PBX refused changed nothing: nothing counted.",
			obj:    ext(withID(42), synced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, 3)),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{
				ObserveFn: seq(drifted),
				UpdateFn:  func(context.Context, *v1alpha1.Extension) error { return unavailable },
			},
			want: map[string]float64{},
		},
		"Deleted": {
			reason:  "A deleted resource's object is deleted: deleted.",
			obj:     ext(withID(42), deleting),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(found)},
			want:    map[string]float64{"deleted": 1},
		},
		"DeletedAlreadyGone": {
			reason:  "An object already gone is not deleted again: nothing counted.",
			obj:     ext(withID(42), deleting),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(managed.Observation{})},
			want:    map[string]float64{},
		},
		"AdoptedByKey": {
			reason:  "An object found by its key, with the adopt annotation: adopted.",
			obj:     ext(annotate(v1alpha1.AnnotationAdopt, "true")),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(found)},
			want:    map[string]float64{"adopted": 1},
		},
		"Imported": {
			reason:  "An object imported by the external-id annotation: adopted.",
			obj:     ext(annotate(v1alpha1.AnnotationExternalID, "42")),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(found)},
			want:    map[string]float64{"adopted": 1},
		},
		"InSync": {
			reason:  "An object recorded and in sync: nothing counted.",
			obj:     ext(withID(42), synced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, 3)),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(found)},
			want:    map[string]float64{},
		},
		"Recreated": {
			reason:  "The recorded object is gone (confirmed by a fresh look) and made again: recreated, not created.",
			obj:     ext(withID(42), synced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, 3)),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(managed.Observation{}), CreateFn: created},
			want:    map[string]float64{"recreated": 1},
		},
		"EntersAlreadyExists": {
			reason:  "An object found by key that is somebody else's: conflict.",
			obj:     ext(),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(found)},
			want:    map[string]float64{"conflict": 1},
		},
		"StaysAlreadyExists": {
			reason:  "A resource that was AlreadyExists already did not enter it again: nothing counted.",
			obj:     ext(synced(metav1.ConditionFalse, v1alpha1.ReasonAlreadyExists, 3)),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(found)},
			want:    map[string]float64{},
		},
		"ObserveOnly": {
			reason: "An object only observed is recorded, never adopted, and its drift not corrected: nothing counted.",
			obj: ext(func(e *v1alpha1.Extension) {
				e.Spec.ManagementPolicy = v1alpha1.ManagementPolicyObserveOnly
			}),
			adapter: managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(drifted)},
			want:    map[string]float64{},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, reg, c := metricsReconciler(t, tc.obj, tc.adapter, func() time.Time { return now })
			if err := reconcileStored(t, c, r); err != nil {
				t.Logf("the pass ended with %v", err)
			}
			if diff := cmp.Diff(tc.want, actions(t, reg)); diff != "" {
				t.Errorf("%s\npbx_resource_actions_total by action: -want +got:\n%s", tc.reason, diff)
			}
		})
	}
}

// TestDriftFights: a resource whose object is set back 3 times within an hour counts in
// pbx_resources_drift_fights, stops counting once its corrections grow older than an hour, and is
// forgotten when it is deleted.
func TestDriftFights(t *testing.T) {
	clock := now
	drift := true
	a := managed.AdapterFns[*v1alpha1.Extension]{
		// Each pass finds the object changed in the PBX; the update's answer shows it set back.
		ObserveFn: func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
			defer func() { drift = !drift }()
			return managed.Observation{Exists: true, UpToDate: !drift, ExternalID: 42, Diff: "label"}, nil
		},
	}
	obj := ext(withID(42), synced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, 3), func(e *v1alpha1.Extension) { e.UID = "u1" })
	r, reg, c := metricsReconciler(t, obj, a, func() time.Time { return clock })
	fights := func() map[string]float64 {
		out := map[string]float64{}
		for _, s := range gather(t, reg, "pbx_resources_drift_fights") {
			out[s.labels["kind"]+" "+s.labels["namespace"]+" "+s.labels["account_kind"]+" "+s.labels["account"]] = s.value
		}
		return out
	}
	steps := []struct {
		reason  string
		at      time.Duration // since now
		correct bool          // a pass sets the object back
		want    map[string]float64
	}{
		{"One correction is no fight.", 0, true, map[string]float64{"Extension default Account demo": 0}},
		{"Two are none either.", 10 * time.Minute, true, map[string]float64{"Extension default Account demo": 0}},
		{"The third within the hour makes a fight.", 20 * time.Minute, true, map[string]float64{"Extension default Account demo": 1}},
		{"An hour after the first of them, the fight is over.", 61 * time.Minute, false, map[string]float64{"Extension default Account demo": 0}},
		{"A fourth within an hour of the second is a fight again.", 65 * time.Minute, true, map[string]float64{"Extension default Account demo": 1}},
		{"An hour after the last correction the resource is forgotten.", 126 * time.Minute, false, map[string]float64{}},
	}
	for _, s := range steps {
		clock = now.Add(s.at)
		if s.correct {
			drift = true
			if err := reconcileStored(t, c, r); err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(s.want, fights()); diff != "" {
			t.Errorf("%s\npbx_resources_drift_fights at +%v: -want +got:\n%s", s.reason, s.at, diff)
		}
	}
	if got := actions(t, reg)["drift_corrected"]; got != 4 {
		t.Errorf("drift corrections counted: got %v, want 4", got)
	}

	// A resource fighting when it is deleted is forgotten at once.
	for range 3 {
		drift = true
		if err := reconcileStored(t, c, r); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff(map[string]float64{"Extension default Account demo": 1}, fights()); diff != "" {
		t.Errorf("three corrections at once: -want +got:\n%s", diff)
	}
	stored := &v1alpha1.Extension{}
	if err := c.Get(context.Background(), key, stored); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(context.Background(), stored); err != nil {
		t.Fatal(err)
	}
	drift = false
	if err := reconcileStored(t, c, r); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]float64{}, fights()); diff != "" {
		t.Errorf("after the resource was deleted: -want +got:\n%s", diff)
	}
}

// TestDriftCorrectionRetried: a drift correction the PBX refused first counts as drift_corrected
// when it goes, although Synced is False by then.
func TestDriftCorrectionRetried(t *testing.T) {
	refused := true
	a := managed.AdapterFns[*v1alpha1.Extension]{
		ObserveFn: seq(managed.Observation{Exists: true, ExternalID: 42, Diff: "label"}),
		UpdateFn: func(context.Context, *v1alpha1.Extension) error {
			if refused {
				refused = false
				return &apiErr{status: http.StatusServiceUnavailable, msg: "Service Unavailable"}
			}
			return nil
		},
	}
	obj := ext(withID(42), synced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, 3))
	r, reg, c := metricsReconciler(t, obj, a, func() time.Time { return now })
	if err := reconcileStored(t, c, r); err == nil {
		t.Fatal("the first update's 503 did not fire")
	}
	stored := &v1alpha1.Extension{}
	if err := c.Get(context.Background(), key, stored); err != nil {
		t.Fatal(err)
	}
	if got := reason(stored.Status.Conditions, v1alpha1.ConditionSynced); got != v1alpha1.ReasonAPIUnavailable {
		t.Fatalf("after the refused update, Synced is %q, want %s", got, v1alpha1.ReasonAPIUnavailable)
	}
	_ = reconcileStored(t, c, r)
	if diff := cmp.Diff(map[string]float64{"drift_corrected": 1}, actions(t, reg)); diff != "" {
		t.Errorf("pbx_resource_actions_total by action: -want +got:\n%s", diff)
	}
}

// TestAdoptionCountedOnce: a pass that reads a copy of the resource older than the status write
// of the pass that adopted its object (the id in the annotation, not yet in status.id, as an
// import looks) counts no second adoption.
func TestAdoptionCountedOnce(t *testing.T) {
	obj := ext(withID(42), synced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, 3))
	a := managed.AdapterFns[*v1alpha1.Extension]{ObserveFn: seq(managed.Observation{Exists: true, UpToDate: true, ExternalID: 42})}
	r, reg, c := metricsReconciler(t, obj, a, func() time.Time { return now })
	stale := &v1alpha1.Extension{}
	if err := c.Get(context.Background(), key, stale); err != nil {
		t.Fatal(err)
	}
	stale.Status.ID = 0
	if _, err := r.Reconcile(context.Background(), stale); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]float64{}, actions(t, reg)); diff != "" {
		t.Errorf("pbx_resource_actions_total by action: -want +got:\n%s", diff)
	}
}

// TestDriftCorrectionAfterAFailedLook: a drift correction counts as one although a pass in between
// could not look at the PBX (Synced False, APIUnavailable), and the counter series of a deleted
// account go with it.
func TestDriftCorrectionAfterAFailedLook(t *testing.T) {
	looks := 0
	a := managed.AdapterFns[*v1alpha1.Extension]{
		ObserveFn: func(context.Context, *v1alpha1.Extension, time.Time) (managed.Observation, error) {
			looks++
			if looks == 1 {
				return managed.Observation{}, &apiErr{status: http.StatusServiceUnavailable, msg: "Service Unavailable"}
			}
			return managed.Observation{Exists: true, ExternalID: 42, Diff: "label"}, nil
		},
		UpdateFn: func(context.Context, *v1alpha1.Extension) error { return nil },
	}
	obj := ext(withID(42), synced(metav1.ConditionTrue, v1alpha1.ReasonUpToDate, 3))
	clock := func() time.Time { return now }
	m := managed.NewMetrics(clock)
	r, reg, c := metricsReconcilerWith(t, obj, a, m, clock)
	if err := reconcileStored(t, c, r); err == nil {
		t.Fatal("the first look's 503 did not fire")
	}
	stored := &v1alpha1.Extension{}
	if err := c.Get(context.Background(), key, stored); err != nil {
		t.Fatal(err)
	}
	if got := reason(stored.Status.Conditions, v1alpha1.ConditionSynced); got != v1alpha1.ReasonAPIUnavailable {
		t.Fatalf("after the failed look, Synced is %q, want %s", got, v1alpha1.ReasonAPIUnavailable)
	}
	_ = reconcileStored(t, c, r)
	if diff := cmp.Diff(map[string]float64{"drift_corrected": 1}, actions(t, reg)); diff != "" {
		t.Errorf("pbx_resource_actions_total by action: -want +got:\n%s", diff)
	}

	m.ForgetAccount(v1alpha1.AccountKindAccount, "other", "demo")
	if got := len(actions(t, reg)); got != 1 {
		t.Errorf("forgetting another namespace's account demo dropped this one's series: %d left", got)
	}
	m.ForgetAccount(v1alpha1.AccountKindAccount, "default", "demo")
	if diff := cmp.Diff(map[string]float64{}, actions(t, reg)); diff != "" {
		t.Errorf("after the account was forgotten: -want +got:\n%s", diff)
	}
}
