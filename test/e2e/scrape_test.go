package e2e

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape reads the manager's metrics endpoint and returns its metric families by name.
func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %s: %s", metricsURL, res.Status, b)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing the metrics of %s: %v", metricsURL, err)
	}
	return families
}

func TestMetricsEndpoint(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local control plane; runs without -short")
	}
	// controller-runtime's own metrics, which the dashboard and the alerts use beside the
	// manager's; they exist once the manager leads and its controllers started. (A work queue's
	// series, such as workqueue_depth, appear with its first item.)
	want := []string{"controller_runtime_reconcile_total", "controller_runtime_active_workers", "leader_election_master_status"}
	eventually(t, time.Minute, fmt.Sprintf("the metrics %v", want), func() bool {
		families := scrape(t)
		return !slices.ContainsFunc(want, func(name string) bool { return families[name] == nil })
	})
}
