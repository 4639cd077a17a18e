package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// phoneLine is one manifest for a working phone line: a group, a phone Extension with its SIP
// credentials Secret, a number routed to it, and a webhook on its calls.
const phoneLine = `apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: ExtensionGroup
metadata: {name: desk}
spec:
  accountRef: {kind: Account, name: demo}
  name: Front desk
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata: {name: erin}
spec:
  accountRef: {kind: Account, name: demo}
  name: "510"
  type: Phone
  label: Erin
  groupRef: {name: desk}
  phone: {authType: Digest, webRTC: Enabled}
  writeCredentialsSecretRef: {name: erin-sip}
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: PhoneNumber
metadata: {name: erin-did}
spec:
  accountRef: {kind: Account, name: demo}
  number: "74950000004"
  extensionRef: {name: erin}
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: EventSubscription
metadata: {name: erin-hangup}
spec:
  accountRef: {kind: Account, name: demo}
  extensionRef: {name: erin}
  eventType: Hangup
  method: POST
  url: HOOK
`

// TestPhoneLine: one kubectl apply provisions a line that a phone registers with, that a number
// rings, and whose calls reach a webhook; deleting it cleans the PBX up.
func TestPhoneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	var mu sync.Mutex
	var got []string
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, string(body))
		mu.Unlock()
	})}
	go srv.Serve(l)   //nolint:errcheck // ends with Close
	defer srv.Close() //nolint:errcheck // the test ends

	kubectl(t, "create", "namespace", "phoneline")
	kubectlIn(t, accountOnly(t), "apply", "-n", "phoneline", "-f", "-")
	kubectlIn(t, strings.Replace(phoneLine, "HOOK", "http://"+l.Addr().String()+"/calls", 1), "apply", "-n", "phoneline", "-f", "-")
	start := time.Now()
	kubectl(t, "wait", "-n", "phoneline", "--for=condition=Ready", "extensiongroups,extensions,phonenumbers,eventsubscriptions", "--all", "--timeout=120s")
	t.Logf("the phone line was Ready %.1fs after kubectl apply", time.Since(start).Seconds())

	var secret struct{ Data map[string][]byte }
	if err := json.Unmarshal([]byte(kubectl(t, "get", "secret", "-n", "phoneline", "erin-sip", "-o", "json")), &secret); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	reg := map[string]any{"client_id": pbxsim.DemoClientID, "username": string(secret.Data["username"]), "password": string(secret.Data["password"])}
	if err := localenv.SimAdmin(ctx, simURL, http.MethodPost, "/sip/register", reg, nil); err != nil {
		t.Errorf("a phone does not register with the credentials Secret (user %s): %v", secret.Data["username"], err)
	}
	x := pbxExtension(t, "510")
	var did map[string]any
	for _, d := range snapshot(t).DIDs {
		if d["name"] == "74950000004" {
			did = d
		}
	}
	if x == nil || did == nil || fmt.Sprint(did["extension_id"]) != fmt.Sprint(x["id"]) {
		t.Fatalf("the number rings the phone: DID %v, extension %v", did, x)
	}
	if err := localenv.SimAdmin(ctx, simURL, http.MethodPost, "/calls", map[string]any{"extension": "510"}, nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	deliveries := strings.Join(got, "\n")
	mu.Unlock()
	if !strings.Contains(deliveries, "EventType=hangup") {
		t.Errorf("the call's hangup did not reach the webhook: %q", deliveries)
	}
	// A call from outside comes in on the first number routed to the extension: the PhoneNumber's.
	if !strings.Contains(deliveries, "CalledDID=74950000004") {
		t.Errorf("the call did not come in on the routed number: %q", deliveries)
	}

	kubectlIn(t, strings.Replace(phoneLine, "HOOK", "http://"+l.Addr().String()+"/calls", 1), "delete", "-n", "phoneline", "-f", "-", "--timeout=60s")
	s := snapshot(t)
	for _, d := range s.DIDs {
		if d["name"] == "74950000004" && d["extension_id"] != nil {
			t.Errorf("the deleted PhoneNumber left its number routed: %v", d)
		}
	}
	if pbxExtension(t, "510") != nil {
		t.Errorf("the deleted Extension's PBX extension stays")
	}
	for _, e := range s.Events {
		if fmt.Sprint(e["extension_id"]) == fmt.Sprint(x["id"]) {
			t.Errorf("the deleted EventSubscription's webhook stays: %v", e)
		}
	}
}
