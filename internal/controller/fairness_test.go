package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// TestPacedAccountDoesNotStarveOthers: an account paced to 5 requests a second (its checks take
// 1.5 of them at the suite's 2 s poll), with a batch of creates that takes it a quarter of a
// minute, holds none of the reconcile workers (the suite has 8): another account's Extensions are
// Ready in seconds, while the paced batch goes on at its pace, creating each object once.
func TestPacedAccountDoesNotStarveOthers(t *testing.T) {
	slow := newWorld(t, nil)
	fast := startWorld(t, nil) // a second PBX, in the same test
	t.Cleanup(fast.srv.Close)
	slow.setAccount(func(s *v1alpha1.AccountSpec) { s.RequestsPerSecond, s.Burst = 5, 1 })

	const paced, others = 60, 10
	for i := range paced {
		slow.create(ext(slow.ns, fmt.Sprintf("p%02d", i), fmt.Sprint(600+i)))
	}
	batch := time.Now()
	posts := func() int { return slow.sim.RequestTotal(http.MethodPost, "/api/ver1.0/client/{realm_id}/extension/") }
	// The paced batch is under way and has every worker's attention, if it can take it.
	slow.g.Eventually(posts, 10*time.Second, 50*time.Millisecond).Should(BeNumerically(">=", 5))
	start := time.Now()
	var quick []*v1alpha1.Extension
	for i := range others {
		e := ext(fast.ns, fmt.Sprintf("q%02d", i), fmt.Sprint(700+i))
		fast.create(e)
		quick = append(quick, e)
	}
	for _, e := range quick {
		fast.g.Eventually(fast.cond(e, v1alpha1.ConditionReady), 5*time.Second, 50*time.Millisecond).Should(Equal("True/Available"), e.Name)
	}
	took := time.Since(start)
	readyPaced := countReady(slow.ns)
	t.Logf("the other account's %d Extensions Ready in %v, with %d of the paced %d Ready", others, took.Round(time.Millisecond), readyPaced, paced)
	if readyPaced >= paced {
		t.Fatalf("the paced batch was done before the other account's creates (%d Ready): the test shows nothing", readyPaced)
	}

	slow.g.Eventually(func() int { return countReady(slow.ns) }, 90*time.Second, 500*time.Millisecond).Should(Equal(paced))
	if n := posts(); n != paced {
		t.Errorf("the paced account's POSTs: %d, want %d (one per Extension)", n, paced)
	}
	// The pace held: 60 creates at no more than 5 requests a second take at least 12 s.
	if took := time.Since(batch); took < 11*time.Second {
		t.Errorf("the paced batch took %v: the account was not paced, and the test shows nothing", took)
	}
}

// countReady counts the Extensions of a namespace that are Ready.
func countReady(ns string) int {
	var l v1alpha1.ExtensionList
	if err := k.List(context.Background(), &l, client.InNamespace(ns)); err != nil {
		return -1
	}
	n := 0
	for i := range l.Items {
		if meta.IsStatusConditionTrue(l.Items[i].Status.Conditions, v1alpha1.ConditionReady) {
			n++
		}
	}
	return n
}

// TestSlowPaceStillConverges: at one request a second, an account check (three requests) and
// creates still complete: the check waits for its turn rather than starting over, the account stays
// Ready, and every Extension is created once.
func TestSlowPaceStillConverges(t *testing.T) {
	w := newWorld(t, nil)
	a := w.setAccount(func(s *v1alpha1.AccountSpec) { s.RequestsPerSecond, s.Burst = 1, 1 })
	ready := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady).LastTransitionTime
	start := time.Now()
	for i := range 5 {
		w.create(ext(w.ns, fmt.Sprintf("s%d", i), fmt.Sprint(610+i)))
	}
	w.g.Eventually(func() int { return countReady(w.ns) }, 60*time.Second, 200*time.Millisecond).Should(Equal(5))
	// 5 creates and the account's checks (3 requests every 2 s) at one request a second.
	if took := time.Since(start); took < 4*time.Second {
		t.Errorf("5 creates took %v at one request a second: the pace did not hold", took)
	}
	// A check starts only after the account recorded the outcome of the one before.
	w.waitPolls(1, "the account is checked once more: every check made during the creates ended, and its outcome was recorded")
	w.g.Expect(w.cond(a, v1alpha1.ConditionReady)()).To(Equal("True/Available"), "the account's checks under the slow pace succeed")
	if now := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady).LastTransitionTime; !now.Equal(&ready) {
		t.Errorf("the account's Ready changed during the creates (last transition %v, was %v)", now, ready)
	}
	if n := w.sim.RequestTotal(http.MethodPost, "/api/ver1.0/client/{realm_id}/extension/"); n != 5 {
		t.Errorf("POSTs: %d, want 5", n)
	}
}
