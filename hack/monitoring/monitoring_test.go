package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const chart = "../../charts/pbx-operator"

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`histogram_quantile(0.9, sum by (le) (rate(pbx_client_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))`: {"pbx_client_request_duration_seconds_bucket"},
		`a{x="1"} / on (x) b and absent(up{job="j"}) or {__name__="c"}`:                                                          {"a", "b", "c", "up"},
		`max by (kind) (pbx_account_ready{namespace=~"${namespace}", name=~"${account:regex}"}) == 0`:                            {"pbx_account_ready"},
		`time() - process_start_time_seconds`:                                                                                    {"process_start_time_seconds"},
	} {
		got, err := metricNames(expr)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", expr, got, want)
		}
	}
	for _, expr := range []string{`{job="x"}`, `rate(foo[5m]`} {
		if _, err := metricNames(expr); err == nil {
			t.Errorf("%s: want an error", expr)
		}
	}
}

// TestChartQueries checks that every alert and dashboard query parses and names metrics, and
// that the label_values variables are read.
func TestChartQueries(t *testing.T) {
	rep, err := names(chart)
	if err != nil {
		t.Fatal(err)
	}
	var alerts, panels, variables int
	for _, q := range rep.Queries {
		switch {
		case strings.HasPrefix(q.Source, "alert "):
			alerts++
		case strings.Contains(q.Source, " variable "):
			variables++
		default:
			panels++
		}
		if len(q.Metrics) == 0 {
			t.Errorf("%s selects no metric", q.Source)
		}
	}
	if alerts < 9 || panels < 16 || variables != 3 {
		t.Errorf("found %d alerts, %d panel targets and %d variable queries", alerts, panels, variables)
	}
	for _, want := range []string{"pbx_account_ready", "pbx_account_ready_reason", "pbx_resources", "up", "leader_election_master_status", "workqueue_depth"} {
		if !slices.Contains(rep.All, want) {
			t.Errorf("no query selects %s: %v", want, rep.All)
		}
	}
}

// unitTests is the part of rules_test.yaml read here.
type unitTests struct {
	Tests []struct {
		AlertRuleTest []struct {
			Alertname string           `json:"alertname"`
			ExpAlerts []map[string]any `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// TestEveryAlert checks what every alert must have: a severity, a summary, a description, a
// runbook_url whose anchor is a section of docs/runbooks.md, and unit tests that see it fire and
// not fire.
func TestEveryAlert(t *testing.T) {
	rf, err := readRules(filepath.Join(chart, "files", "prometheus-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	runbooks, err := os.ReadFile("../../docs/runbooks.md")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/rules_test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ut unitTests
	if err := yaml.Unmarshal(data, &ut); err != nil {
		t.Fatal(err)
	}
	firing, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range ut.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				firing[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	const base = "https://github.com/cloudpbx/pbx-operator/blob/main/docs/runbooks.md#"
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			for _, a := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[a] == "" {
					t.Errorf("%s has no %s", r.Alert, a)
				}
			}
			if want := base + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
			if !regexp.MustCompile(`(?m)^## ` + r.Alert + `$`).Match(runbooks) {
				t.Errorf("docs/runbooks.md has no section '## %s'", r.Alert)
			}
			if !firing[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: rules_test.yaml must test it firing (%v) and not firing (%v)", r.Alert, firing[r.Alert], quiet[r.Alert])
			}
		}
	}
	if n == 0 {
		t.Fatal("no alerts")
	}
}

// TestRender draws the dashboard from a small recording: a histogram, counters, a scrape that
// failed and a series that goes away.
func TestRender(t *testing.T) {
	dir := t.TempDir()
	var rec strings.Builder
	for i := range 30 {
		at := int64(1_700_000_000_000 + i*2000)
		if i == 10 {
			fmt.Fprintf(&rec, "# scrape %d down\n", at)
			continue
		}
		fmt.Fprintf(&rec, "# scrape %d\n", at)
		fmt.Fprintf(&rec, "# TYPE pbx_account_ready gauge\npbx_account_ready{kind=\"Account\",namespace=\"a\",name=\"main\"} 1\n")
		fmt.Fprintf(&rec, "# TYPE pbx_client_requests_total counter\npbx_client_requests_total{kind=\"Account\",namespace=\"a\",name=\"main\",method=\"GET\",resource=\"/x/\",code=\"200\"} %d\n", 10*i)
		fmt.Fprintf(&rec, "# TYPE pbx_client_request_duration_seconds histogram\n")
		fmt.Fprintf(&rec, "pbx_client_request_duration_seconds_bucket{kind=\"Account\",namespace=\"a\",name=\"main\",method=\"GET\",resource=\"/x/\",le=\"0.01\"} %d\n", 5*i)
		fmt.Fprintf(&rec, "pbx_client_request_duration_seconds_bucket{kind=\"Account\",namespace=\"a\",name=\"main\",method=\"GET\",resource=\"/x/\",le=\"+Inf\"} %d\n", 10*i)
		fmt.Fprintf(&rec, "pbx_client_request_duration_seconds_sum{kind=\"Account\",namespace=\"a\",name=\"main\",method=\"GET\",resource=\"/x/\"} %d\n", i)
		fmt.Fprintf(&rec, "pbx_client_request_duration_seconds_count{kind=\"Account\",namespace=\"a\",name=\"main\",method=\"GET\",resource=\"/x/\"} %d\n", 10*i)
		if i < 20 {
			fmt.Fprintf(&rec, "# TYPE workqueue_depth gauge\nworkqueue_depth{controller=\"extension\",name=\"extension\"} %d\n", 20-i)
		}
	}
	recording := filepath.Join(dir, "metrics-test.txt")
	if err := os.WriteFile(recording, []byte(rec.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dashboard.svg")
	if err := render(chart, recording, out, 0, 0); err != nil {
		t.Fatal(err)
	}
	svg, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "Accounts Ready", "Account a/main", "PBX latency", "p90", "Work queue depth", "No data", "29 scrapes", "(1 failed)"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("the picture has no %q", want)
		}
	}
}
