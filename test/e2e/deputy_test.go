package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// readyMessage returns "Status/Reason: message" of an account's Ready condition.
func readyMessage(t *testing.T, args ...string) string {
	t.Helper()
	return kubectl(t, append([]string{"get", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}: {.status.conditions[?(@.type=="Ready")].message}`}, args...)...)
}

// TestConfusedDeputy: the manager never uses a Secret that was not given to it. A user who may
// create accounts but not read Secrets cannot make it send a victim's Secret anywhere: not with a
// ClusterAccount pointing into another namespace, not with an Account on an unlabelled Secret.
func TestConfusedDeputy(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	kubectl(t, "create", "namespace", "deputy")
	kubectlIn(t, fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata:
  name: victim
stringData: {clientID: demo-trusted, clientSecret: demo-secret, url: %[1]s}
---
apiVersion: v1
kind: Secret
metadata:
  name: given
  labels: {pbx.cloudpbx.dev/credentials: "true"}
stringData: {clientID: demo-trusted, clientSecret: demo-secret, url: %[1]s}
`, simURL), "apply", "-n", "deputy", "-f", "-")
	tokens := func() int { return requestTotal(t, "POST", "/oauth/token") }
	before := tokens()
	kubectlIn(t, fmt.Sprintf(`---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: ClusterAccount
metadata:
  name: deputy
spec:
  url: %[1]s
  credentialsSecretRef: {namespace: deputy, name: given}
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: unlabelled
  namespace: deputy
spec:
  url: %[1]s
  credentialsSecretRef: {name: victim}
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: given
  namespace: deputy
spec:
  url: %[1]s
  credentialsSecretRef: {name: given}
`, simURL), "apply", "-f", "-")

	kubectl(t, "wait", "-n", "deputy", "account/given", "--for=condition=Ready", "--timeout=60s")
	var got string
	eventually(t, time.Minute, "the ClusterAccount to be refused", func() bool {
		got = readyMessage(t, "clusteraccount", "deputy")
		return strings.HasPrefix(got, "False/InvalidSpec")
	})
	if !strings.Contains(got, "may not use Secrets or ConfigMaps in namespace deputy: the operator trusts only default") {
		t.Errorf("ClusterAccount into another namespace: %s", got)
	}
	eventually(t, time.Minute, "the unlabelled Secret to be refused", func() bool {
		got = readyMessage(t, "-n", "deputy", "account", "unlabelled")
		return strings.HasPrefix(got, "False/InvalidSpec")
	})
	if !strings.Contains(got, "is not given to the operator as PBX account credentials: label it with kubectl -n deputy label secret victim pbx.cloudpbx.dev/credentials=true") {
		t.Errorf("Account on an unlabelled Secret: %s", got)
	}
	// Only the opted-in Account asked the PBX for a token.
	if n := tokens() - before; n != 1 {
		t.Errorf("want exactly the opted-in account's token request, got %d", n)
	}
	kubectl(t, "delete", "clusteraccount", "deputy", "--timeout=60s")
}

// requestTotal sums pbxsim's request counters for a method and a path template.
func requestTotal(t *testing.T, method, path string) int {
	t.Helper()
	return requestsWhere(t, func(c pbxsim.RequestCount) bool { return c.Method == method && c.Path == path })
}

// requestsWhere sums pbxsim's request counters that match.
func requestsWhere(t *testing.T, match func(pbxsim.RequestCount) bool) int {
	t.Helper()
	res, err := http.Get(simURL + strings.TrimPrefix(pbxsim.AdminPrefix, "/") + "/requests")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var counts []pbxsim.RequestCount
	if err := json.NewDecoder(res.Body).Decode(&counts); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range counts {
		if match(c) {
			n += c.Count
		}
	}
	return n
}
