package controller_test

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"testing"
	"time"

	. "github.com/onsi/gomega" //nolint:revive // Gomega's Eventually is the one part we use
	corev1 "k8s.io/api/core/v1"

	"github.com/cloudpbx/pbx-operator/api/v1alpha1"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// series returns the manager's series of a metric whose labels include match, as "value" by their
// other labels ("reason=Available"), "" for none.
func series(t testing.TB, name string, match map[string]string) map[string]float64 {
	t.Helper()
	families, err := metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range families {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			rest := ""
			seen := 0
			for _, l := range m.GetLabel() {
				want, ok := match[l.GetName()]
				switch {
				case ok && want != l.GetValue():
					continue next
				case ok:
					seen++
				default:
					if rest != "" {
						rest += ","
					}
					rest += l.GetName() + "=" + l.GetValue()
				}
			}
			if seen != len(match) {
				continue
			}
			switch {
			case m.Counter != nil:
				out[rest] = m.GetCounter().GetValue()
			default:
				out[rest] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// value returns the value of the one series of a metric with exactly the labels match, or NaN.
func value(t testing.TB, name string, match map[string]string) func() float64 {
	return func() float64 {
		if v, ok := series(t, name, match)[""]; ok {
			return v
		}
		return math.NaN()
	}
}

// with returns labels plus more (name, value pairs).
func with(labels map[string]string, more ...string) map[string]string {
	out := map[string]string{}
	for k, v := range labels {
		out[k] = v
	}
	for i := 0; i+1 < len(more); i += 2 {
		out[more[i]] = more[i+1]
	}
	return out
}

// rateHeaders makes one request of the world's PBX client (GET /user/) and returns the budget its
// answer announced, with when the answer came.
func (w *world) rateHeaders() (limit, remaining int, reset time.Time) {
	w.t.Helper()
	req, _ := newRequest(http.MethodGet, w.srv.URL+pbxsim.APIPrefix+"/user/", "")
	req.Header.Set("Authorization", "Bearer "+w.token())
	res, err := w.srv.Client().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	res.Body.Close()
	at := time.Now()
	header := func(key string) int {
		n, err := strconv.Atoi(res.Header.Get(key))
		if err != nil {
			w.t.Fatalf("%s: %v", key, err)
		}
		return n
	}
	return header("X-RateLimit-Limit"), header("X-RateLimit-Remaining"), at.Add(time.Duration(header("X-RateLimit-Reset")) * time.Second)
}

// TestAccountMetrics: an account's Ready condition and reason, and its live request budget and
// pace, are in the metrics; they follow the account when its credentials break and are fixed, and
// go when it is deleted, with its PBX client's request metrics.
func TestAccountMetrics(t *testing.T) {
	w := newWorld(t, nil)
	acc := map[string]string{"kind": "Account", "namespace": w.ns, "name": "pbx"}
	w.g.Eventually(value(t, "pbx_account_ready", acc)).Should(Equal(1.0))
	w.g.Expect(series(t, "pbx_account_ready_reason", acc)).To(Equal(map[string]float64{"reason=Available": 1}))
	w.g.Expect(value(t, "pbx_account_request_pace_per_second", acc)()).To(Equal(200.0), "the suite's fixed pace")

	// The budget follows the PBX's X-RateLimit headers: the limit as announced, and what the
	// manager's last answer left, which is one more than what our own request's answer leaves
	// (unless the manager made a request in between: then it is looked at again).
	const limit = 4321
	w.sim.SetRateLimit(pbxsim.DemoClientID, limit)
	w.g.Eventually(func() string {
		l, remaining, reset := w.rateHeaders()
		got := fmt.Sprintf("limit %v remaining %v", value(t, "pbx_account_request_budget_limit", acc)(),
			value(t, "pbx_account_request_budget_remaining", acc)())
		want := fmt.Sprintf("limit %d remaining %d", l, remaining+1)
		if off := value(t, "pbx_account_request_budget_reset_timestamp_seconds", acc)() - float64(reset.Unix()); math.Abs(off) > 2 {
			return fmt.Sprintf("the reset is %v s off", off)
		}
		if got != want {
			return got + ", the PBX says " + want
		}
		return "the budget as announced"
	}).Should(Equal("the budget as announced"))
	w.g.Expect(value(t, "pbx_account_request_budget_limit", acc)()).To(Equal(float64(limit)))

	// Credentials that break make the account not Ready, with the reason; fixed, it is Ready again.
	s := &corev1.Secret{}
	s.Name, s.Namespace = "pbx", w.ns
	setSecret := func(secret string) {
		w.update(s, func() {
			s.Data = map[string][]byte{"clientID": []byte(pbxsim.DemoTrustedAppID), "clientSecret": []byte(secret), "url": []byte(w.srv.URL + "/")}
		})
	}
	setSecret("wrong-secret")
	w.g.Eventually(value(t, "pbx_account_ready", acc)).Should(Equal(0.0))
	w.g.Eventually(func() map[string]float64 { return series(t, "pbx_account_ready_reason", acc) }).
		Should(Equal(map[string]float64{"reason=Unauthorized": 1}))
	w.g.Expect(series(t, "pbx_account_request_pace_per_second", acc)).To(BeEmpty(), "no connection, no pace")
	setSecret(pbxsim.DemoAppSecret)
	w.g.Eventually(value(t, "pbx_account_ready", acc)).Should(Equal(1.0))
	w.g.Expect(series(t, "pbx_account_ready_reason", acc)).To(Equal(map[string]float64{"reason=Available": 1}))

	// A deleted account's series go, its client's too.
	w.g.Expect(series(t, "pbx_client_requests_total", acc)).NotTo(BeEmpty())
	w.delete(&v1alpha1.Account{ObjectMeta: s.ObjectMeta})
	w.g.Eventually(func() int {
		n := 0
		for _, name := range []string{"pbx_account_ready", "pbx_account_ready_reason", "pbx_account_request_budget_limit", "pbx_client_requests_total"} {
			n += len(series(t, name, acc))
		}
		return n
	}).Should(Equal(0), "series of the deleted account")
}

// TestResourceMetrics: resources are counted by Ready reason and Stalled, and the engine's actions
// (created, drift_corrected, recreated, conflict, adopted, deleted) and drift fights are counted
// as they happen, from the user's side: changes made in the PBX behind the operator's back.
func TestResourceMetrics(t *testing.T) {
	w := newWorld(t, nil)
	res := map[string]string{"kind": "Extension", "namespace": w.ns, "account_kind": "Account", "account": "pbx"}
	actions := func() map[string]float64 { return series(t, "pbx_resource_actions_total", res) }
	action := func(a string) func() float64 { return value(t, "pbx_resource_actions_total", with(res, "action", a)) }

	e := ext(w.ns, "ann", "121", label("Ann"))
	id := fmt.Sprint(w.ready(e))
	w.g.Eventually(func() map[string]float64 { return series(t, "pbx_resources", res) }).
		Should(Equal(map[string]float64{"ready=True,reason=Available": 1}))
	w.g.Expect(actions()).To(Equal(map[string]float64{"action=created": 1}))

	// Someone sets the label three times in the PBX; each time the operator sets it back.
	for i := range 3 {
		if code := w.pbxCall(http.MethodPut, "/client/@me/extension/"+id, `{"label":"Hacked"}`); code != http.StatusOK {
			t.Fatalf("changing the PBX behind the operator's back: %d", code)
		}
		w.g.Eventually(action("drift_corrected"), 5*pollInterval).Should(Equal(float64(i + 1)))
		w.g.Expect(w.pbxExtension("121")["label"]).To(Equal("Ann"))
		if i < 2 {
			w.g.Expect(value(t, "pbx_resources_drift_fights", res)()).To(Equal(0.0), "after %d corrections", i+1)
		}
	}
	w.g.Expect(value(t, "pbx_resources_drift_fights", res)()).To(Equal(1.0), "three corrections within the hour")

	// The extension is deleted in the PBX: the operator makes it again.
	if code := w.pbxCall(http.MethodDelete, "/client/@me/extension/"+id, ""); code != http.StatusNoContent {
		t.Fatalf("deleting in the PBX: %d", code)
	}
	w.g.Eventually(action("recreated"), 5*pollInterval).Should(Equal(1.0))
	w.waitSynced(e)

	// Somebody else's extension with a resource's number: AlreadyExists, Stalled; adopted on request.
	if code := w.pbxCall(http.MethodPost, "/client/@me/extension/", `{"name":"122","label":"Theirs"}`); code != http.StatusCreated {
		t.Fatal(code)
	}
	theirs := ext(w.ns, "ben", "122", label("Ben"))
	w.create(theirs)
	w.g.Eventually(action("conflict")).Should(Equal(1.0))
	w.g.Eventually(value(t, "pbx_resources", with(res, "ready", "False", "reason", v1alpha1.ReasonAlreadyExists))).Should(Equal(1.0))
	w.g.Eventually(value(t, "pbx_resources_stalled", with(res, "reason", v1alpha1.ReasonAlreadyExists))).Should(Equal(1.0))
	w.waitPolls(2, "the account is checked twice more: the manager polled on after ben found the extension somebody else's")
	w.g.Expect(action("conflict")()).To(Equal(1.0), "a resource that stays AlreadyExists entered it once")
	w.update(theirs, func() { theirs.Annotations = map[string]string{v1alpha1.AnnotationAdopt: "true"} })
	w.waitSynced(theirs)
	w.g.Eventually(actions).Should(Equal(map[string]float64{
		"action=created": 1, "action=drift_corrected": 3, "action=recreated": 1, "action=conflict": 1, "action=adopted": 1,
		// the adopted extension set to its spec: not a drift correction, its spec was never in sync
		"action=updated": 1,
	}))
	w.g.Eventually(func() map[string]float64 { return series(t, "pbx_resources_stalled", res) }).Should(BeEmpty())
	w.g.Eventually(func() map[string]float64 { return series(t, "pbx_resources", res) }).
		Should(Equal(map[string]float64{"ready=True,reason=Available": 2}))

	// Deleted, the resources' objects go, and the fight is forgotten.
	w.delete(e)
	w.delete(theirs)
	w.gone(e)
	w.gone(theirs)
	w.g.Eventually(action("deleted")).Should(Equal(2.0))
	w.g.Expect(series(t, "pbx_resources_drift_fights", res)).To(BeEmpty(), "a deleted resource's fight is forgotten")
	w.g.Eventually(func() map[string]float64 { return series(t, "pbx_resources", res) }).Should(BeEmpty())
	if n := len(w.pbxExtensions("")); n != 0 {
		t.Errorf("PBX extensions left: %d", n)
	}
}
