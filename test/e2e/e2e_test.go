package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cloudpbx/pbx-operator/internal/localenv"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// The environment shared by the tests, which run in order.
var (
	env     *localenv.Env
	simURL  string
	bins    string // the folder of the built manager and pbxsim
	root    string // the repository
	manager *localenv.Proc
	probe   string
	// metricsURL is the manager's metrics endpoint: plain HTTP on loopback, as a scraper inside the
	// pod network would see it behind the chart's TLS and authorization.
	metricsURL string
)

func TestMain(m *testing.M) {
	os.Exit(localenv.RunSuite(m, "e2e", func(s localenv.Suite) int {
		root, bins, env = s.Root, s.Bins, s.Env
		return setup()
	}))
}

// setup starts pbxsim, installs the CRDs and starts the manager.
func setup() int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	addr, err := localenv.FreeAddr()
	if err == nil {
		simURL = "http://" + addr + "/"
		var sim *localenv.Proc
		if sim, err = env.Run("pbxsim", filepath.Join(bins, "pbxsim"), "--listen", addr, "--admin", "--strict-slashes"); err == nil {
			err = localenv.WaitHTTP(ctx, sim, simURL+"oauth/token")
		}
	}
	if err == nil {
		_, err = env.Kubectl(ctx, "apply", "--server-side", "-k", filepath.Join(root, "config", "crd"))
	}
	if err == nil {
		_, err = env.Kubectl(ctx, "wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
	}
	if err == nil {
		err = startManager(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup:", err)
		return 1
	}
	return 0
}

// startManager starts the manager binary, with leader election as in a cluster.
func startManager(ctx context.Context) error {
	var err error
	if probe, err = localenv.FreeAddr(); err != nil {
		return err
	}
	metricsAddr, err := localenv.FreeAddr()
	if err != nil {
		return err
	}
	metricsURL = "http://" + metricsAddr + "/metrics"
	manager, err = env.Run("manager", filepath.Join(bins, "manager"),
		// Secrets are read only where the tests keep credentials, as the chart's least-privilege mode does.
		"--leader-elect", "--leader-election-namespace=default", "--secret-namespaces=samples,bulk,kstatus,deputy,phoneline,hoard,metrics,monitoring",
		"--metrics-bind-address="+metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address="+probe, "--poll-interval=5s", "--requests-per-second=10", "--burst=5")
	if err != nil {
		return err
	}
	return localenv.WaitHTTP(ctx, manager, "http://"+probe+"/healthz")
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := env.Kubectl(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func kubectlIn(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := env.KubectlIn(context.Background(), []byte(stdin), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// snapshot reads the PBX's world from pbxsim's admin API.
func snapshot(t *testing.T) pbxsim.Snapshot {
	t.Helper()
	res, err := http.Get(simURL + "_pbxsim/snapshot")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var s pbxsim.Snapshot
	if err := json.NewDecoder(res.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// pbxExtension returns the PBX extension with a short number, or nil.
func pbxExtension(t *testing.T, number string) map[string]any {
	t.Helper()
	for _, x := range snapshot(t).Extensions {
		if x["name"] == pbxsim.DemoPrefix+"*"+number {
			return x
		}
	}
	return nil
}

// eventually polls cond every 200ms until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-manager.Done():
			t.Fatalf("the manager exited (%v) while waiting for %s; see %s", manager.Err(), what, manager.Log)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// samples renders config/samples for the test's pbxsim address.
func samples(t *testing.T) string {
	t.Helper()
	out := kubectl(t, "kustomize", filepath.Join(root, "config", "samples"))
	return strings.ReplaceAll(out, "http://127.0.0.1:8090/", simURL)
}

func TestSamplesLifecycle(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	kubectl(t, "create", "namespace", "samples")
	kubectlIn(t, samples(t), "apply", "-n", "samples", "-f", "-")
	kubectl(t, "wait", "-n", "samples", "--for=condition=Ready", "extensions,extensiongroups,accounts", "--all", "--timeout=180s")
	// The PBX is shared with the other tests: count the samples' own objects.
	s := snapshot(t)
	exts, groups := 0, 0
	for _, x := range s.Extensions {
		if slices.Contains([]string{"0003*100", "0003*101", "0003*102", "0003*200", "0003*201", "0003*300"}, fmt.Sprint(x["name"])) {
			exts++
		}
	}
	for _, g := range s.ExtensionGroups {
		if slices.Contains([]string{"Sales", "Support"}, fmt.Sprint(g["name"])) {
			groups++
		}
	}
	if exts != 6 || groups != 2 {
		t.Fatalf("the samples make 6 extensions and 2 groups in the PBX, found %d and %d", exts, groups)
	}
	if x := pbxExtension(t, "101"); x["status"] != "active" || x["label"] != "Alice" {
		t.Errorf("alice in the PBX: %v", x)
	}

	kubectl(t, "patch", "-n", "samples", "ext", "alice", "--type=merge", "-p", `{"spec":{"label":"Alice Cooper"}}`)
	eventually(t, time.Minute, "the new label in the PBX", func() bool { return pbxExtension(t, "101")["label"] == "Alice Cooper" })

	kubectl(t, "delete", "-n", "samples", "ext", "bob", "--timeout=60s")
	if x := pbxExtension(t, "102"); x != nil {
		t.Errorf("deleting bob deletes the PBX extension: %v", x)
	}
	kubectl(t, "delete", "-n", "samples", "ext", "fax", "--timeout=60s")
	if x := pbxExtension(t, "300"); x == nil {
		t.Errorf("fax has deletionPolicy Orphan: its PBX extension stays")
	}
	out := kubectl(t, "get", "pbx", "-n", "samples")
	for _, want := range []string{"alice", "sales", "support-queue", "UpToDate"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get pbx shows %q:\n%s", want, out)
		}
	}
}

func TestManagerKilledDuringCreates(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	const n = 100
	kubectl(t, "create", "namespace", "bulk")
	var b strings.Builder
	b.WriteString(accountOnly(t))
	for i := range n {
		fmt.Fprintf(&b, `---
apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata:
  name: bulk-%03d
spec:
  accountRef: {kind: Account, name: demo}
  name: "%03d"
  type: Phone
`, i, 400+i)
	}
	kubectlIn(t, b.String(), "apply", "-n", "bulk", "-f", "-")
	created := func() int {
		c := 0
		for _, x := range snapshot(t).Extensions {
			if name, _ := x["name"].(string); name >= "0003*400" && name <= "0003*499" {
				c++
			}
		}
		return c
	}
	eventually(t, 2*time.Minute, "the first creates", func() bool { return created() >= 10 })
	manager.Kill()
	t.Logf("killed the manager with %d of %d PBX extensions created", created(), n)
	if err := startManager(context.Background()); err != nil {
		t.Fatal(err)
	}
	kubectl(t, "wait", "-n", "bulk", "--for=condition=Ready", "extensions", "--all", "--timeout=300s")
	if got := created(); got != n {
		t.Errorf("after the restart: want exactly %d PBX extensions, found %d", n, got)
	}
}

// accountOnly is the samples' Secret and Account, for other namespaces.
func accountOnly(t *testing.T) string {
	t.Helper()
	var out []string
	for _, doc := range strings.Split(samples(t), "\n---\n") {
		top := "\n" + doc + "\n"
		if strings.Contains(top, "\nkind: Secret\n") || strings.Contains(top, "\nkind: Account\n") {
			out = append(out, strings.TrimPrefix(doc, "---\n"))
		}
	}
	return strings.Join(out, "\n---\n") + "\n"
}
