package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

// kstatus computes the status of an object the way Flux's health checks and kpt do, with the real
// kstatus library, from the object as the API server serves it.
func kstatus(t *testing.T, kind, name string) *status.Result {
	t.Helper()
	out := kubectl(t, "get", "-n", "kstatus", kind, name, "-o", "json")
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON([]byte(out)); err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(u)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitStatus waits until kstatus reports want for an object and returns the result.
func waitStatus(t *testing.T, kind, name string, want status.Status) *status.Result {
	t.Helper()
	var res *status.Result
	eventually(t, time.Minute, fmt.Sprintf("%s %s to be %s", kind, name, want), func() bool {
		res = kstatus(t, kind, name)
		return res.Status == want
	})
	return res
}

const kstatusAccount = `---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: %[1]s
spec:
  url: %[2]s
  credentialsSecretRef:
    name: %[3]s
`

const kstatusExtension = `---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata:
  name: %[1]s
spec:
  accountRef: {kind: Account, name: demo}
  name: "%[2]s"
  type: Phone
  label: %[1]s
`

// TestKstatus: GitOps tools (Flux, kpt, through kstatus) see Current only when the PBX has the
// spec, Failed with the specific message when a person must act, and InProgress otherwise.
func TestKstatus(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	kubectl(t, "create", "namespace", "kstatus")
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(accountOnly(t), "namespace: samples", ""))
	fmt.Fprintf(&b, kstatusAccount, "no-secret", simURL, "missing")
	b.WriteString(`---
apiVersion: v1
kind: Secret
metadata:
  name: wrong
  labels: {pbx.cloudpbx.dev/credentials: "true"}
stringData: {clientID: demo-trusted, clientSecret: not-the-secret, url: '` + simURL + `'}
`)
	fmt.Fprintf(&b, kstatusAccount, "wrong-credentials", simURL, "wrong")
	fmt.Fprintf(&b, kstatusExtension, "good", "701")
	fmt.Fprintf(&b, kstatusExtension, "too-long", "7012")
	b.WriteString(`---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata:
  name: orphan-member
spec:
  accountRef: {kind: Account, name: demo}
  name: "702"
  type: Phone
  groupRef: {name: not-there-yet}
`)
	kubectlIn(t, b.String(), "apply", "-n", "kstatus", "-f", "-")

	waitStatus(t, "account", "demo", status.CurrentStatus)
	waitStatus(t, "extension", "good", status.CurrentStatus)
	for _, c := range []struct{ kind, name, want string }{
		{"extension", "too-long", "has 4 digits; every extension number of this PBX client has 3"},
		{"account", "no-secret", "missing"},
		{"account", "wrong-credentials", "refused the account's credentials"},
	} {
		if res := waitStatus(t, c.kind, c.name, status.FailedStatus); !strings.Contains(res.Message, c.want) {
			t.Errorf("%s %s is Failed with the specific message (%q): %q", c.kind, c.name, c.want, res.Message)
		}
	}
	if res := waitStatus(t, "extension", "orphan-member", status.InProgressStatus); !strings.Contains(res.Message, "not-there-yet") {
		t.Errorf("a missing dependency is InProgress naming it: %q", res.Message)
	}

	// An edit the PBX rejects is Failed, not InProgress forever.
	kubectl(t, "patch", "-n", "kstatus", "ext", "good", "--type=merge", "-p", `{"spec":{"groupID":987654}}`)
	if res := waitStatus(t, "extension", "good", status.FailedStatus); !strings.Contains(res.Message, "extension_group_id") {
		t.Errorf("a rejected edit is Failed with the PBX's message: %q", res.Message)
	}
	kubectl(t, "patch", "-n", "kstatus", "ext", "good", "--type=json", "-p", `[{"op":"remove","path":"/spec/groupID"}]`)
	waitStatus(t, "extension", "good", status.CurrentStatus)

	// An edit is never Current before the PBX has it.
	kubectl(t, "patch", "-n", "kstatus", "ext", "good", "--type=merge", "-p", `{"spec":{"label":"edited"}}`)
	eventually(t, time.Minute, "the edit to be Current", func() bool {
		res := kstatus(t, "extension", "good")
		if res.Status != status.CurrentStatus {
			return false
		}
		if got := pbxExtension(t, "701")["label"]; got != "edited" {
			t.Fatalf("kstatus says Current while the PBX has label %v", got)
		}
		return true
	})

	// An object the manager has not looked at yet is not Current.
	manager.Kill()
	kubectlIn(t, fmt.Sprintf(kstatusExtension, "unseen", "703"), "apply", "-n", "kstatus", "-f", "-")
	if res := kstatus(t, "extension", "unseen"); res.Status != status.InProgressStatus {
		t.Errorf("a new object the manager has not seen is InProgress, got %s: %s", res.Status, res.Message)
	}
	if err := startManager(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "extension", "unseen", status.CurrentStatus)
}
