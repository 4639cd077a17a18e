package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
	"github.com/cloudpbx/pbx-operator/internal/plugin"
)

// shardCase is one of the three accounts of TestShards: its namespace, its shard label ("" for the
// default shard), and its PBX client in the test's own pbxsim.
type shardCase struct {
	ns, label string
	client    int64
	prefix    string
}

var shardCases = []shardCase{
	{ns: "shard-a", label: "a", client: 11, prefix: "0011"},
	{ns: "shard-b", label: "b", client: 12, prefix: "0012"},
	{ns: "shard-default", label: "", client: 13, prefix: "0013"},
}

// shardManager is one manager process of TestShards.
type shardManager struct {
	name    string
	args    []string
	proc    *localenv.Proc
	metrics string
}

// start starts the manager and waits until it is healthy.
func (m *shardManager) start(t *testing.T) {
	t.Helper()
	probe, err := localenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr, err := localenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	m.metrics = "http://" + metricsAddr + "/metrics"
	args := append([]string{"--leader-elect", "--leader-election-namespace=default",
		"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false", "--health-probe-bind-address=" + probe,
		"--poll-interval=5s", "--requests-per-second=10", "--burst=5"}, m.args...)
	if m.proc, err = env.Run("manager-"+m.name, filepath.Join(bins, "manager"), args...); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := localenv.WaitHTTP(ctx, m.proc, "http://"+probe+"/healthz"); err != nil {
		t.Fatal(err)
	}
}

// scrape returns the manager's metrics as text.
func (m *shardManager) scrape(t *testing.T) string {
	t.Helper()
	res, err := http.Get(m.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestShards runs two shard managers and a default one against the control plane and a pbxsim of
// three PBX clients, one account each: every account's objects are reconciled by its shard only, a
// resource labelled for another shard than its account's says which label to set, a shard whose
// manager is down stalls only its own accounts, and relabelling an account with its resources
// moves them to another shard without a duplicate or a leaked PBX object.
//
// The suite's manager is stopped for the test (the test's default shard takes its Lease, with
// the default shard's selector) and started again afterwards.
func TestShards(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	sim := startShardSim(t)

	manager.Stop()
	t.Cleanup(func() {
		if err := startManager(context.Background()); err != nil {
			t.Errorf("restarting the suite's manager: %v", err)
		}
	})
	managers := map[string]*shardManager{
		"a":       {name: "shard-a", args: []string{"--shard=a"}},
		"b":       {name: "shard-b", args: []string{"--shard=b", "--watch-label-selector=pbx.cloudpbx.dev/shard=b"}},
		"default": {name: "shard-default", args: []string{"--watch-label-selector=!pbx.cloudpbx.dev/shard"}},
	}
	for _, m := range managers {
		m.start(t)
	}
	procs := func() []*localenv.Proc {
		var out []*localenv.Proc
		for _, m := range managers {
			out = append(out, m.proc)
		}
		return out
	}
	t.Cleanup(func() {
		// Delete the test's resources while their shards run, so that their PBX objects and
		// finalizers go: the Extensions first, then the accounts (the local control plane runs no
		// namespace controller, so the namespaces stay).
		for _, c := range shardCases {
			for _, kind := range []string{"extensions", "accounts"} {
				if _, err := env.Kubectl(context.Background(), "delete", "--timeout=60s", "-n", c.ns, kind, "--all"); err != nil {
					t.Errorf("deleting the %s of %s: %v", kind, c.ns, err)
				}
			}
		}
		if s, err := localenv.SimSnapshot(context.Background(), sim); err != nil || len(s.Extensions) != 0 {
			t.Errorf("deleting the Extensions deletes their PBX objects: %v left (%v)", len(s.Extensions), err)
		}
		for _, m := range managers {
			m.proc.Stop()
		}
	})

	for _, c := range shardCases {
		kubectl(t, "create", "namespace", c.ns)
		kubectlIn(t, shardManifests(sim, c, c.label, "101", "102", "103"), "apply", "-n", c.ns, "-f", "-")
	}
	for _, c := range shardCases {
		kubectl(t, "wait", "-n", c.ns, "--for=condition=Ready", "accounts,extensions", "--all", "--timeout=180s")
	}

	// Each client's requests came from its shard's manager only: the User-Agent names the shard.
	agents := shardAgents(t, sim)
	for _, c := range shardCases {
		if n := agents[c.client][shardAgent(c.label)]; n == 0 || len(agents[c.client]) != 1 {
			t.Errorf("client %d (%s) is on %s: want requests from its manager only, got %v", c.client, c.ns, shardAgent(c.label), agents[c.client])
		}
	}
	// The metrics tell the shards apart: each leads its own Lease.
	if m := managers["b"].scrape(t); !strings.Contains(m, `leader_election_master_status{name="pbx-operator-b.cloudpbx.dev"} 1`) {
		t.Errorf("shard b leads the Lease pbx-operator-b.cloudpbx.dev:\n%s", grepLines(m, "leader_election"))
	}

	t.Run("Mislabelled", func(t *testing.T) {
		// An Extension of the account on shard a, labelled for shard b: shard b's manager holds it
		// and not its account.
		kubectlIn(t, shardExtension("stray", "104", "b"), "apply", "-n", "shard-a", "-f", "-")
		want := []string{"Account shard-a/pbx is on shard a", "not on shard b", "set the label pbx.cloudpbx.dev/shard: a on this resource"}
		var msg string
		waitShards(t, time.Minute, "the stray Extension to report its shard", procs(), func() bool {
			msg = condition(t, "shard-a", "ext", "stray", "Stalled", "message")
			return condition(t, "shard-a", "ext", "stray", "Stalled", "status") == "True" &&
				condition(t, "shard-a", "ext", "stray", "Synced", "reason") == "InvalidSpec"
		})
		for _, s := range want {
			if !strings.Contains(msg, s) {
				t.Errorf("the Stalled message says %q: %s", s, msg)
			}
		}
		if x := shardPBXExtension(t, sim, "0011", "104"); x != nil {
			t.Errorf("nobody creates the stray Extension's PBX object: %v", x)
		}
		kubectl(t, "label", "-n", "shard-a", "ext", "stray", "pbx.cloudpbx.dev/shard=a", "--overwrite")
		kubectl(t, "wait", "-n", "shard-a", "--for=condition=Ready", "ext/stray", "--timeout=60s")
		if x := shardPBXExtension(t, sim, "0011", "104"); x == nil {
			t.Errorf("labelled for its account's shard, the stray Extension is made")
		}
	})

	t.Run("OneShardDown", func(t *testing.T) {
		b := managers["b"]
		b.proc.Kill()
		for _, c := range shardCases {
			kubectl(t, "patch", "-n", c.ns, "ext", "e101", "--type=merge", "-p", `{"spec":{"label":"while b is down"}}`)
		}
		up := slices.DeleteFunc(procs(), func(p *localenv.Proc) bool { return p == b.proc })
		for _, c := range []shardCase{shardCases[0], shardCases[2]} {
			waitShards(t, time.Minute, c.ns+"'s change in the PBX", up, func() bool {
				return shardPBXExtension(t, sim, c.prefix, "101")["label"] == "while b is down"
			})
		}
		// The others converged; shard b's account waits for its manager. Proof that the running
		// managers had their chance to touch it: each makes two more account checks (three
		// requests each, one per 5 s poll) on its own client after its change landed.
		before := shardAgents(t, sim)
		for _, c := range []shardCase{shardCases[0], shardCases[2]} {
			agent := shardAgent(c.label)
			waitShards(t, time.Minute, "two more polls of "+c.ns+"'s manager", up, func() bool {
				return shardAgents(t, sim)[c.client][agent] >= before[c.client][agent]+6
			})
		}
		if x := shardPBXExtension(t, sim, "0012", "101"); x["label"] == "while b is down" {
			t.Errorf("nobody but shard b's manager changes shard b's objects: %v", x)
		}
		b.start(t)
		waitShards(t, time.Minute, "shard-b's change in the PBX once its manager is back", procs(), func() bool {
			return shardPBXExtension(t, sim, "0012", "101")["label"] == "while b is down"
		})
	})

	t.Run("Relabel", func(t *testing.T) {
		before := shardPBXIDs(t, sim, "0012")
		if len(before) != 3 {
			t.Fatalf("shard-b has 3 PBX extensions, found %v", before)
		}
		// Move shard-b's account and its resources to shard a.
		kubectl(t, "label", "-n", "shard-b", "accounts,extensions", "--all", "pbx.cloudpbx.dev/shard=a", "--overwrite")
		kubectl(t, "wait", "-n", "shard-b", "--for=condition=Ready", "accounts,extensions", "--all", "--timeout=60s")
		// Shard b lets go of the account: its connection and its metrics.
		waitShards(t, time.Minute, "shard b to drop the moved account's connection and metrics", procs(), func() bool {
			m := managers["b"].scrape(t)
			return !strings.Contains(grepLines(m, "pbx_client_requests_total{"), `namespace="shard-b"`) &&
				!strings.Contains(grepLines(m, "pbx_account_ready{"), `namespace="shard-b"`)
		})
		if err := localenv.SimAdmin(context.Background(), sim, http.MethodDelete, "/requests", nil, nil); err != nil {
			t.Fatal(err)
		}
		kubectl(t, "patch", "-n", "shard-b", "ext", "e102", "--type=merge", "-p", `{"spec":{"label":"on shard a now"}}`)
		waitShards(t, time.Minute, "the moved Extension's change in the PBX", procs(), func() bool {
			return shardPBXExtension(t, sim, "0012", "102")["label"] == "on shard a now"
		})
		kubectl(t, "wait", "-n", "shard-b", "--for=condition=Synced", "extensions", "--all", "--timeout=60s")
		if got := shardAgents(t, sim)[12]; got[shardAgent("a")] == 0 || len(got) != 1 {
			t.Errorf("after the move, client 12's requests come from shard a's manager only, got %v", got)
		}
		after := shardPBXIDs(t, sim, "0012")
		if !slices.Equal(before, after) {
			t.Errorf("the move keeps the PBX extensions (no duplicate, none lost or made again): before %v, after %v", before, after)
		}
	})

	// kubectl pbx status names each account's shard.
	out := pbxStatus(t)
	for _, want := range []string{"Account shard-a/pbx", "shard a", "Account shard-default/pbx", "shard default"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl pbx status shows %q:\n%s", want, out)
		}
	}
}

// startShardSim starts a pbxsim of three clients, one per shard, and returns its URL.
func startShardSim(t *testing.T) string {
	t.Helper()
	cfg := pbxsim.Config{}
	for _, c := range shardCases {
		name := "client-" + c.ns
		cfg.Clients = append(cfg.Clients, pbxsim.ClientConfig{
			ID: c.client, Name: name, Prefix: c.prefix, ExtensionLen: 3, Domain: c.ns + ".sip.pbxsim.local",
			Users: []pbxsim.UserConfig{{Login: "admin-" + c.ns, Password: "admin-password"}},
			Apps:  []pbxsim.AppConfig{{ClientID: "app-" + c.ns, ClientSecret: "app-secret", Type: "trusted", User: "admin-" + c.ns}},
		})
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "pbxsim.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	addr, err := localenv.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr + "/"
	p, err := env.Run("pbxsim-shards", filepath.Join(bins, "pbxsim"), "--listen", addr, "--admin", "--strict-slashes", "--config", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := localenv.WaitHTTP(ctx, p, url+"oauth/token"); err != nil {
		t.Fatal(err)
	}
	return url
}

// shardLabels is the metadata.labels block of an object on the shard of label.
func shardLabels(label string) string {
	if label == "" {
		return ""
	}
	return "\n  labels:\n    pbx.cloudpbx.dev/shard: " + label
}

// shardManifests are a case's credentials Secret, its Account (labelled for shard label) and one
// Extension per number, labelled alike.
func shardManifests(sim string, c shardCase, label string, numbers ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Secret
metadata:
  name: pbx-credentials
  labels:
    pbx.cloudpbx.dev/credentials: "true"
stringData:
  clientID: app-%[1]s
  clientSecret: app-secret
  url: %[2]s
---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Account
metadata:
  name: pbx%[3]s
spec:
  url: %[2]s
  credentialsSecretRef:
    name: pbx-credentials
`, c.ns, sim, shardLabels(label))
	for _, n := range numbers {
		b.WriteString("---\n" + shardExtension("e"+n, n, label))
	}
	return b.String()
}

// shardExtension is an Extension of the account pbx, on the shard of label.
func shardExtension(name, number, label string) string {
	return fmt.Sprintf(`apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata:
  name: %s%s
spec:
  accountRef: {kind: Account, name: pbx}
  name: "%s"
  type: Phone
`, name, shardLabels(label), number)
}

// shardAgent is the User-Agent of the PBX requests of the shard of label, without the version.
func shardAgent(label string) string {
	if label == "" {
		return "default"
	}
	return "shard/" + label
}

// shardAgents returns pbxsim's counts of API requests by client and shard (shardAgent of the
// User-Agent: "shard/a", "default" for a pbx-operator without a shard, the User-Agent itself for
// anything else).
func shardAgents(t *testing.T, sim string) map[int64]map[string]int {
	t.Helper()
	var counts []pbxsim.AgentCount
	if err := localenv.SimAdmin(context.Background(), sim, http.MethodGet, "/requests/agents", nil, &counts); err != nil {
		t.Fatal(err)
	}
	out := map[int64]map[string]int{}
	for _, c := range counts {
		agent := c.Agent
		if product, shard, ok := strings.Cut(c.Agent, " "); ok && strings.HasPrefix(product, "pbx-operator/") {
			agent = shard
		} else if strings.HasPrefix(c.Agent, "pbx-operator/") {
			agent = "default"
		}
		if out[c.Client] == nil {
			out[c.Client] = map[string]int{}
		}
		out[c.Client][agent] += c.Count
	}
	return out
}

// shardPBXExtension returns the PBX extension prefix*number, or nil.
func shardPBXExtension(t *testing.T, sim, prefix, number string) map[string]any {
	t.Helper()
	s, err := localenv.SimSnapshot(context.Background(), sim)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range s.Extensions {
		if x["name"] == prefix+"*"+number {
			return x
		}
	}
	return nil
}

// shardPBXIDs returns the ids of the PBX extensions of a client prefix, as "name=id", sorted.
func shardPBXIDs(t *testing.T, sim, prefix string) []string {
	t.Helper()
	s, err := localenv.SimSnapshot(context.Background(), sim)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range s.Extensions {
		if name, _ := x["name"].(string); strings.HasPrefix(name, prefix+"*") {
			out = append(out, fmt.Sprintf("%s=%v", name, x["id"]))
		}
	}
	slices.Sort(out)
	return out
}

// condition reads a field (reason, message, status) of a condition of an object.
func condition(t *testing.T, ns, kind, name, typ, field string) string {
	t.Helper()
	return kubectl(t, "get", "-n", ns, kind, name, "-o", fmt.Sprintf(`jsonpath={.status.conditions[?(@.type==%q)].%s}`, typ, field))
}

// waitShards polls cond every 200ms until it holds or the timeout passes, failing at once when
// one of the managers exits.
func waitShards(t *testing.T, timeout time.Duration, what string, procs []*localenv.Proc, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		for _, p := range procs {
			select {
			case <-p.Done():
				t.Fatalf("%s exited (%v) while waiting for %s; see %s", p.Name, p.Err(), what, p.Log)
			default:
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for l := range strings.SplitSeq(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// pbxStatus is the text of kubectl pbx status -A (the plugin's own code, against the control
// plane).
func pbxStatus(t *testing.T) string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", env.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	log.SetLogger(logr.Discard())
	c, err := client.New(cfg, client.Options{Scheme: plugin.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	report, err := plugin.ReadStatus(context.Background(), c, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := report.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
