package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/cloudpbx/pbx-operator/internal/pbx"
	"github.com/cloudpbx/pbx-operator/internal/pbxsim"
)

// madeByPrometheus are the metric names an alert may select that no target exposes: Prometheus
// writes them itself (up for every scrape, ALERTS and ALERTS_FOR_STATE for its alerts).
var madeByPrometheus = []string{"up", "ALERTS", "ALERTS_FOR_STATE"}

// monitoringNames returns every metric name that the chart's alerts and dashboard queries select,
// by the source of each query, as hack/monitoring (its own module, with Prometheus's PromQL
// parser) reads them from charts/pbx-operator/files.
func monitoringNames(t *testing.T) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", ".", "names", "--chart", filepath.Join(root, "charts", "pbx-operator"))
	cmd.Dir = filepath.Join(root, "hack", "monitoring")
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("hack/monitoring names: %v\n%s", err, stderr)
	}
	var rep struct {
		Queries []struct {
			Source  string   `json:"source"`
			Metrics []string `json:"metrics"`
		} `json:"queries"`
	}
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("hack/monitoring names: %v", err)
	}
	bySource := map[string][]string{}
	for _, q := range rep.Queries {
		bySource[q.Source] = q.Metrics
	}
	if len(bySource) == 0 {
		t.Fatal("hack/monitoring names found no query")
	}
	return bySource
}

// exposedNames returns the names of the series the families expose, as Prometheus stores them: a
// histogram as its _bucket, _sum and _count, a summary as itself, _sum and _count.
func exposedNames(families map[string]*dto.MetricFamily) map[string]bool {
	names := map[string]bool{}
	for name, f := range families {
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name], names[name+"_sum"], names[name+"_count"] = true, true, true
		default:
			names[name] = true
		}
	}
	return names
}

// unexposed returns, by metric name, the queries that select a metric the manager does not
// expose.
func unexposed(bySource map[string][]string, exposed map[string]bool) map[string][]string {
	missing := map[string][]string{}
	for source, metrics := range bySource {
		for _, m := range metrics {
			if !exposed[m] && !slices.Contains(madeByPrometheus, m) {
				missing[m] = append(missing[m], source)
			}
		}
	}
	for _, sources := range missing {
		slices.Sort(sources)
	}
	return missing
}

// TestMonitoringQueriesNameExposedMetrics checks that every alert of the chart's PrometheusRule and
// every query of its dashboard names only metrics the manager exposes. Some series exist only
// once something happened, so the test first makes it happen in its own namespace: an Account,
// an Extension (created), a second Extension with the same number (Conflict: Stalled), and a
// change of the first one's label in the PBX that the operator sets back (drift_corrected, a drift
// fight's first correction).
func TestMonitoringQueriesNameExposedMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	bySource := monitoringNames(t)

	const ns = "monitoring"
	namespace(t, ns)
	kubectlIn(t, accountOnly(t), "apply", "-n", ns, "-f", "-")
	kubectlIn(t, `apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata:
  name: watched
spec:
  accountRef: {kind: Account, name: demo}
  name: "870"
  type: Phone
  state: Active
  label: Watched
`, "apply", "-n", ns, "-f", "-")
	kubectl(t, "wait", "-n", ns, "--for=condition=Ready", "ext/watched", "--timeout=120s")
	kubectlIn(t, `apiVersion: pbx.cloudpbx.dev/v1alpha1
kind: Extension
metadata:
  name: twin
spec:
  accountRef: {kind: Account, name: demo}
  name: "870"
  type: Phone
  state: Active
  label: Twin
`, "apply", "-n", ns, "-f", "-")
	t.Cleanup(func() {
		kubectl(t, "delete", "-n", ns, "extensions", "--all", "--timeout=60s")
		kubectl(t, "delete", "-n", ns, "accounts", "--all", "--timeout=60s")
	})
	kubectl(t, "wait", "-n", ns, "--for=condition=Stalled", "ext/twin", "--timeout=120s")

	// Somebody changes the label in the PBX; the next poll sets it back.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pc, err := pbx.New(simURL, pbx.WithCredentials(pbxsim.DemoTrustedAppID, pbxsim.DemoAppSecret))
	if err != nil {
		t.Fatal(err)
	}
	x := pbxExtension(t, "870")
	if x == nil {
		t.Fatal("the PBX has no extension 870")
	}
	id := int64(x["id"].(float64))
	if _, err := pc.Extensions.Update(ctx, pbx.MeRealm(pbx.RealmClient), id, pbx.ExtensionUpdate{Label: pbx.Set("Changed by hand")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Minute, "the operator to set the label back", func() bool { return pbxExtension(t, "870")["label"] == "Watched" })

	// Wait for every selected name; series of what happened above show up within a scrape or two.
	var missing map[string][]string
	deadline := time.Now().Add(time.Minute)
	for {
		missing = unexposed(bySource, exposedNames(scrape(t)))
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range missing {
			if !yield(n) {
				return
			}
		}
	}) {
		t.Errorf("%s is not exposed by the manager, but is selected by: %s", name, strings.Join(missing[name], "; "))
	}

	// The check itself catches a name the manager does not expose, such as a typo.
	t.Run("catches an unknown name", func(t *testing.T) {
		exposed := exposedNames(scrape(t))
		got := unexposed(map[string][]string{"alert Typo": {"pbx_acount_ready", "up"}}, exposed)
		if len(got) != 1 || len(got["pbx_acount_ready"]) != 1 {
			t.Errorf("want only pbx_acount_ready reported, got %v", got)
		}
	})
}
