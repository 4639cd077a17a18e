package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestLabelledSecretsDoNotFillTheManager: whoever may write Secrets in a watched namespace can
// label as many large Secrets as they like. The manager caches only their metadata and reads the
// data of the one Secret it uses, so its memory does not grow with them.
func TestLabelledSecretsDoNotFillTheManager(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	const (
		n    = 200
		size = 1_000_000 // bytes of data each: a Secret holds at most 1 MiB
	)
	kubectl(t, "create", "namespace", "hoard")
	before, err := manager.RSS()
	if err != nil {
		t.Fatal(err)
	}
	filler := strings.Repeat("x", size)
	labels := []string{"true", "sip-password", "sip"}
	for batch := 0; batch < n; batch += 20 {
		var b strings.Builder
		for i := batch; i < batch+20; i++ {
			fmt.Fprintf(&b, "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: hoard-%03d\n  labels: {pbx.cloudpbx.dev/credentials: %q}\nstringData: {filler: %s}\n",
				i, labels[i%len(labels)], filler)
		}
		kubectlIn(t, b.String(), "create", "-n", "hoard", "-f", "-")
	}
	// An account whose Secret comes after all of them: once it is Ready, the manager has seen
	// every Secret before it (one watch, in order).
	kubectlIn(t, fmt.Sprintf(`---
apiVersion: v1
kind: Secret
metadata:
  name: pbx
  labels: {pbx.cloudpbx.dev/credentials: "true"}
stringData: {clientID: demo-trusted, clientSecret: demo-secret, url: %[1]s}
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: pbx
spec:
  url: %[1]s
  credentialsSecretRef: {name: pbx}
`, simURL), "apply", "-n", "hoard", "-f", "-")
	kubectl(t, "wait", "-n", "hoard", "account/pbx", "--for=condition=Ready", "--timeout=120s")
	after, err := manager.RSS()
	if err != nil {
		t.Fatal(err)
	}
	grown := after - before
	t.Logf("manager RSS %.1f MiB before and %.1f MiB after %d labelled Secrets of %.0f MB (%.1f MiB more)",
		mib(before), mib(after), n, float64(size)/1e6, mib(grown))
	if limit := int64(32 << 20); grown > limit {
		t.Errorf("the manager's memory grew by %.1f MiB with %d labelled Secrets of %d bytes (at most %.0f MiB): it holds their data",
			mib(grown), n, size, mib(limit))
	}
	kubectl(t, "delete", "namespace", "hoard", "--wait=false")
}

// mib is bytes in MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }
