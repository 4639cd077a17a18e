package controller_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
)

// TestPacedAccountDoesNotStarveOthers: an account paced to 5 requests a second (its checks take
// 1.5 of them at the suite's 2 s poll), with a batch of creates that takes it a quarter of a
// minute, holds none of the reconcile workers (the suite has 8):
// another account's Extensions are Ready in seconds, while the paced batch goes on at its pace,
// creating each object once and drawing no 429.
func TestPacedAccountDoesNotStarveOthers(t *testing.T) {
	slow := newWorld(t, nil)
	fast := startWorld(t, nil) // a second PBX, in the same test
	t.Cleanup(fast.srv.Close)
	a := &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Name: "pbx", Namespace: slow.ns}}
	slow.update(a, func() { a.Spec.RequestsPerSecond, a.Spec.Burst = 5, 1 })
	gen := a.Generation
	slow.g.Eventually(func() bool { // the account's new connection paces at 1/s
		if err := k.Get(context.Background(), client.ObjectKeyFromObject(a), a); err != nil {
			return false
		}
		c := meta.FindStatusCondition(a.Status.Conditions, v1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration >= gen
	}).Should(BeTrue())

	const paced, others = 60, 10
	for i := range paced {
		slow.create(ext(slow.ns, fmt.Sprintf("p%02d", i), fmt.Sprint(600+i)))
	}
	time.Sleep(2 * time.Second) // the paced batch has every worker's attention, if it can take it
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
	if n := slow.sim.RequestTotal(http.MethodPost, "/api/ver1.0/client/{realm_id}/extension/"); n != paced {
		t.Errorf("the paced account's POSTs: %d, want %d (one per Extension)", n, paced)
	}
	for _, c := range slow.sim.Requests() {
		if c.Status == http.StatusTooManyRequests {
			t.Errorf("the paced account drew 429s: %+v", c)
		}
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
	a := &v1alpha1.Account{ObjectMeta: metav1.ObjectMeta{Name: "pbx", Namespace: w.ns}}
	w.update(a, func() { a.Spec.RequestsPerSecond, a.Spec.Burst = 1, 1 })
	for i := range 5 {
		w.create(ext(w.ns, fmt.Sprintf("s%d", i), fmt.Sprint(610+i)))
	}
	w.g.Eventually(func() int { return countReady(w.ns) }, 60*time.Second, 200*time.Millisecond).Should(Equal(5))
	w.g.Consistently(w.cond(a, v1alpha1.ConditionReady), 3*pollInterval, 200*time.Millisecond).Should(Equal("True/Available"))
	if n := w.sim.RequestTotal(http.MethodPost, "/api/ver1.0/client/{realm_id}/extension/"); n != 5 {
		t.Errorf("POSTs: %d, want 5", n)
	}
}
