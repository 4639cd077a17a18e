package controller

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

func TestAccountReadiness(t *testing.T) {
	account := func(mods ...func(*v1alpha1.Account)) *v1alpha1.Account {
		a := &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Name: "pbx", Generation: 1}}
		meta.SetStatusCondition(&a.Status.Conditions, metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonAvailable})
		for _, m := range mods {
			m(a)
		}
		return a
	}
	now := metav1.Now()
	cases := map[string]struct {
		new  *v1alpha1.Account
		want bool
	}{
		"NothingChanged": {new: account(), want: false},
		"LimitCounted": {new: account(func(a *v1alpha1.Account) {
			a.Status.Limits.EventSubscriptions = v1alpha1.LimitUsage{Limit: 5, Used: new(int32(3))}
		}), want: false},
		"ReadyMessage":   {new: account(func(a *v1alpha1.Account) { a.Status.Conditions[0].Message = "checked again" }), want: false},
		"NotReady":       {new: account(func(a *v1alpha1.Account) { a.Status.Conditions[0].Status = metav1.ConditionFalse }), want: true},
		"SpecChanged":    {new: account(func(a *v1alpha1.Account) { a.Generation = 2 }), want: true},
		"BeingDeleted":   {new: account(func(a *v1alpha1.Account) { a.DeletionTimestamp = &now }), want: true},
		"NoConditionYet": {new: account(func(a *v1alpha1.Account) { a.Status.Conditions = nil }), want: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := accountReadiness().Update(event.UpdateEvent{ObjectOld: account(), ObjectNew: tc.new}); got != tc.want {
				t.Errorf("passes the update: got %t, want %t", got, tc.want)
			}
		})
	}
}

// TestRetriesAtMostAMinuteApart: a resource that keeps failing (a PBX under faults) is tried again
// soon at first, and never more than a minute later, however many times it failed.
func TestRetriesAtMostAMinuteApart(t *testing.T) {
	l := retryLimiter()
	req := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "a", Name: "b"}}
	if d := l.When(req); d > 10*time.Millisecond {
		t.Errorf("first retry after %v, want at once", d)
	}
	for range 40 {
		l.When(req)
	}
	if d := l.When(req); d != time.Minute {
		t.Errorf("after 40 failures the retry waits %v, want a minute", d)
	}
	l.Forget(req)
	if d := l.When(req); d > 10*time.Millisecond {
		t.Errorf("after a success the next failure is retried after %v, want at once", d)
	}
}
