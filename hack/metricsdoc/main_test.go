package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cloudpbx/pbx-operator/internal/telemetry"
)

// TestCommittedReferenceIsCurrent fails when docs/metrics.md differs from what 'make manifests'
// (this command) writes from the table.
func TestCommittedReferenceIsCurrent(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", output))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(render(telemetry.All), string(data)); diff != "" {
		t.Errorf("%s is not what 'make manifests' writes (hack/metricsdoc); run it and commit the result (-want +committed):\n%s", output, diff)
	}
}

// TestCheck: the manager's collectors describe exactly the table; a metric registered past the
// table, or a definition no collector describes, fails.
func TestCheck(t *testing.T) {
	collectors, err := managerCollectors()
	if err != nil {
		t.Fatal(err)
	}
	if err := check(collectors, telemetry.All); err != nil {
		t.Fatalf("the manager's collectors and the table: %v", err)
	}
	stray := prometheus.NewGauge(prometheus.GaugeOpts{Name: "pbx_stray", Help: "Not in the table."})
	relabelled := prometheus.NewCounterVec(prometheus.CounterOpts{Name: telemetry.ResourceActions.Name, Help: telemetry.ResourceActions.Help}, []string{"kind"})
	unused := telemetry.Definition{Name: "pbx_unused", Type: telemetry.Gauge, Help: "Described by nothing."}
	err = check(append(collectors, stray, relabelled), append(telemetry.All, unused))
	for _, want := range []string{"pbx_stray", `"pbx_resource_actions_total"`, "no collector of the manager describes pbx_unused"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("check with a stray collector, a relabelled one and an unused definition: want an error naming %s, got %v", want, err)
		}
	}
}
