package e2e

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// gauge returns the value of the series of a gauge whose labels are exactly labels, and whether
// there is one.
func gauge(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf := families[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				continue next
			}
		}
		return m.GetGauge().GetValue(), true
	}
	return 0, false
}

// budget is a request budget as the PBX announces it in its X-RateLimit headers.
type budget struct {
	limit, remaining int
	reset            time.Time
}

// pbxBudget makes one request of the demo client of pbxsim (GET /user/) and returns the budget its
// answer announced.
func pbxBudget(t *testing.T) budget {
	t.Helper()
	res, err := http.PostForm(simURL+strings.TrimPrefix(pbxsim.TokenPath, "/"), url.Values{
		"grant_type": {"client_credentials"}, "client_id": {pbxsim.DemoTrustedAppID}, "client_secret": {pbxsim.DemoAppSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodGet, simURL+strings.TrimPrefix(pbxsim.APIPrefix, "/")+"/user/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	at := time.Now()
	header := func(key string) int {
		n, err := strconv.Atoi(res.Header.Get(key))
		if err != nil {
			t.Fatalf("the PBX's %s header: %v", key, err)
		}
		return n
	}
	return budget{header("X-RateLimit-Limit"), header("X-RateLimit-Remaining"), at.Add(time.Duration(header("X-RateLimit-Reset")) * time.Second)}
}

// simAdmin calls pbxsim's admin API.
func simAdmin(t *testing.T, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, simURL+strings.TrimPrefix(pbxsim.AdminPrefix, "/")+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode >= 300 {
		t.Fatalf("%s %s: %s", method, path, res.Status)
	}
}

// refusedTokens counts the token requests pbxsim refused with 401.
func refusedTokens(t *testing.T) int {
	t.Helper()
	return requestsWhere(t, func(c pbxsim.RequestCount) bool {
		return c.Path == pbxsim.TokenPath && c.Status == http.StatusUnauthorized
	})
}

// TestAccountMetrics: the manager's /metrics shows an account's readiness going 1 → 0 → 1 when its
// credentials break and are fixed, and its request budget as pbxsim's X-RateLimit headers announce
// it.
func TestAccountMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	kubectl(t, "create", "namespace", "metrics")
	t.Cleanup(func() { kubectl(t, "delete", "namespace", "metrics", "--wait=false") })
	kubectlIn(t, fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata:
  name: pbx
  labels: {pbx.cloudpbx.dev/credentials: "true"}
stringData: {clientID: %[2]s, clientSecret: %[3]s, url: %[1]s}
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: pbx
spec:
  url: %[1]s
  credentialsSecretRef: {name: pbx}
`, simURL, pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret), "apply", "-n", "metrics", "-f", "-")
	acc := map[string]string{"kind": "Account", "namespace": "metrics", "name": "pbx"}
	reason := func(r string) map[string]string {
		return map[string]string{"kind": "Account", "namespace": "metrics", "name": "pbx", "reason": r}
	}
	waitGauge := func(name string, labels map[string]string, want float64) {
		t.Helper()
		eventually(t, 2*time.Minute, fmt.Sprintf("%s%v = %v", name, labels, want), func() bool {
			v, ok := gauge(scrape(t), name, labels)
			return ok && v == want
		})
	}

	waitGauge("pbx_account_ready", acc, 1)
	waitGauge("pbx_account_ready_reason", reason("Available"), 1)
	waitGauge("pbx_account_request_pace_per_second", acc, 10) // the suite's --requests-per-second

	// The credentials break: pbxsim refuses them, and the account is not Ready, for that reason.
	refused := refusedTokens(t)
	setSecret := func(secret string) {
		kubectl(t, "patch", "secret", "pbx", "-n", "metrics", "--type=merge", "-p", fmt.Sprintf(`{"stringData":{"clientSecret":%q}}`, secret))
	}
	setSecret("broken")
	waitGauge("pbx_account_ready", acc, 0)
	waitGauge("pbx_account_ready_reason", reason("Unauthorized"), 1)
	if n := refusedTokens(t) - refused; n == 0 {
		t.Errorf("pbxsim refused no token request while the credentials were broken")
	}
	if _, ok := gauge(scrape(t), "pbx_account_ready_reason", reason("Available")); ok {
		t.Errorf("an account has one pbx_account_ready_reason series, the current reason's")
	}
	setSecret(pbxsim.DemoAppSecret)
	waitGauge("pbx_account_ready", acc, 1)
	waitGauge("pbx_account_ready_reason", reason("Available"), 1)

	// The budget: pbxsim announces a new limit; the metrics follow its headers. The demo client's
	// budget is shared by every account of the suite, so what the account's last answer left lies
	// between what the PBX announces before and after the scrape.
	const limit = 54321
	simAdmin(t, http.MethodPut, fmt.Sprintf("/clients/%d/rate-limit", pbxsim.DemoClientID), fmt.Sprintf(`{"per_hour": %d}`, limit))
	t.Cleanup(func() {
		simAdmin(t, http.MethodPut, fmt.Sprintf("/clients/%d/rate-limit", pbxsim.DemoClientID), `{"per_hour": 0}`)
	})
	waitGauge("pbx_account_request_budget_limit", acc, limit)
	before := pbxBudget(t)
	families := scrape(t)
	after := pbxBudget(t)
	remaining, _ := gauge(families, "pbx_account_request_budget_remaining", acc)
	reset, _ := gauge(families, "pbx_account_request_budget_reset_timestamp_seconds", acc)
	if before.limit != limit || remaining <= float64(after.remaining) || remaining > limit {
		t.Errorf("pbx_account_request_budget_remaining %v: want above the %d the PBX announced after the scrape and at most the limit %d (the PBX announced %d before it, of %d)",
			remaining, after.remaining, limit, before.remaining, before.limit)
	}
	if off := reset - float64(after.reset.Unix()); math.Abs(off) > 2 {
		t.Errorf("pbx_account_request_budget_reset_timestamp_seconds %v: %v s off the PBX's reset %v", reset, off, after.reset.UTC())
	}
	// Requests made elsewhere spend the budget: the account's next answer shows it.
	for range 20 {
		after = pbxBudget(t)
	}
	eventually(t, time.Minute, fmt.Sprintf("pbx_account_request_budget_remaining below %d", after.remaining), func() bool {
		v, ok := gauge(scrape(t), "pbx_account_request_budget_remaining", acc)
		return ok && v < float64(after.remaining)
	})
}
