package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// readyCount counts the Extensions of a namespace that are Ready and Synced.
func readyCount(w *world) func() int {
	return func() int {
		var list v1alpha1.ExtensionList
		if err := k.List(w.t.Context(), &list, client.InNamespace(w.ns)); err != nil {
			return -1
		}
		n := 0
		for _, e := range list.Items {
			if meta.IsStatusConditionTrue(e.Status.Conditions, v1alpha1.ConditionReady) &&
				meta.IsStatusConditionTrue(e.Status.Conditions, v1alpha1.ConditionSynced) {
				n++
			}
		}
		return n
	}
}

// TestSteadyState checks the cost of objects in sync: one paged list per poll interval for all
// of them, and no writes.
func TestSteadyState(t *testing.T) {
	w := newWorld(t, nil)
	const n = 200
	for i := range n {
		w.create(ext(w.ns, fmt.Sprintf("e%d", i), fmt.Sprintf("%03d", 200+i)))
	}
	w.g.Eventually(readyCount(w), 2*time.Minute).Should(Equal(n))

	w.sim.ResetRequests()
	time.Sleep(2 * pollInterval)
	var lists, gets, writes int
	for _, rc := range w.sim.Requests() {
		switch {
		case rc.Method != http.MethodGet && strings.HasPrefix(rc.Path, pbxsim.APIPrefix):
			writes += rc.Count
		case rc.Path == "/api/ver1.0/client/{realm_id}/extension/":
			lists += rc.Count
		case rc.Method == http.MethodGet:
			gets += rc.Count
		}
	}
	// A list of up to 500 per page: ceil(200/500) = 1 call per interval. The constant covers
	// the account's own checks (who am I, client info) and a refresh at the window's edge.
	perInterval := (n + 499) / 500
	if writes != 0 || lists > 2*perInterval+1 || lists+gets > 2*perInterval+6 {
		t.Errorf("in sync for two poll intervals: %d writes, %d list calls, %d other reads; want 0 writes and at most %d calls",
			writes, lists, gets, 2*perInterval+6)
	}
	t.Logf("steady state, %d extensions, two poll intervals: %d list calls, %d other reads, %d writes", n, lists, gets, writes)
}

func TestAccountInUse(t *testing.T) {
	w := newWorld(t, nil)
	e := ext(w.ns, "pat", "120")
	w.create(e)
	w.waitSynced(e)
	a := &v1alpha1.Account{}
	a.Name, a.Namespace = "pbx", w.ns
	w.delete(a)
	w.g.Eventually(w.cond(a, v1alpha1.ConditionReady)).Should(Equal("False/InUse"))
	if m := message(a, v1alpha1.ConditionReady); !strings.Contains(m, "Extension "+w.ns+"/pat") {
		t.Errorf("the condition names the users: %q", m)
	}
	w.delete(e)
	w.gone(e)
	w.gone(a)
	if x := w.pbxExtension("120"); x != nil {
		t.Errorf("the extension was deleted through the account before it went: %v", x)
	}
}

// TestAccountRecordsItsRequestBudget: the account's status shows the hourly request budget the
// PBX announces (X-RateLimit-*): its limit, what is left and when the window ends.
func TestAccountRecordsItsRequestBudget(t *testing.T) {
	cfg := pbxsim.DemoConfig()
	cfg.Clients[0].RateLimitPerHour = 7200
	w := newWorld(t, &cfg)
	a := &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Namespace: w.ns, Name: "pbx"}}
	w.g.Eventually(func() int32 {
		_ = k.Get(context.Background(), client.ObjectKeyFromObject(a), a)
		return a.Status.RequestBudget.Limit
	}).Should(Equal(int32(7200)))
	b := a.Status.RequestBudget
	if b.Remaining == nil || *b.Remaining <= 0 || *b.Remaining >= 7200 {
		t.Errorf("the account's checks spent some of the budget: %+v", b)
	}
	if b.ResetTime == nil || b.ObservedTime == nil {
		t.Fatalf("the window's end and the time seen are recorded: %+v", b)
	}
	if until := time.Until(b.ResetTime.Time); until <= 0 || until > time.Hour+time.Minute {
		t.Errorf("the window ends within the hour: reset %v", b.ResetTime)
	}
	if since := time.Since(b.ObservedTime.Time); since < -time.Second || since > time.Minute {
		t.Errorf("observed just now: %v", b.ObservedTime)
	}
}
