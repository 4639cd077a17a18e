package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// query is one PromQL expression of the chart's monitoring and where it comes from.
type query struct {
	// Source names the alert, the dashboard panel and target, or the dashboard variable.
	Source string `json:"source"`
	Expr   string `json:"expr"`
}

// rulesFile is the part of a Prometheus rules file (or of a PrometheusRule's spec) that is read here.
type rulesFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func readRules(path string) (*rulesFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rf rulesFile
	if err := yaml.UnmarshalStrict(data, &rf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &rf, nil
}

// ruleQueries returns the expression of every rule.
func ruleQueries(rf *rulesFile) []query {
	var qs []query
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			name := "alert " + r.Alert
			if r.Record != "" {
				name = "record " + r.Record
			}
			qs = append(qs, query{Source: name, Expr: r.Expr})
		}
	}
	return qs
}

// dashboard is the part of a Grafana dashboard's JSON model that is read here.
type dashboard struct {
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	Description string `json:"description"`
	GridPos     struct {
		H, W, X, Y int
	} `json:"gridPos"`
	FieldConfig struct {
		Defaults struct {
			Unit string `json:"unit"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr         string `json:"expr"`
		LegendFormat string `json:"legendFormat"`
		RefID        string `json:"refId"`
	} `json:"targets"`
	// Panels are a collapsed row's panels.
	Panels []panel `json:"panels"`
}

func readDashboard(path string) (*dashboard, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

// allPanels returns the dashboard's panels with those of collapsed rows, in order.
func (d *dashboard) allPanels() []panel {
	var ps []panel
	for _, p := range d.Panels {
		ps = append(ps, p)
		ps = append(ps, p.Panels...)
	}
	return ps
}

// labelValues matches Grafana's label_values(selector, label) variable query.
var labelValues = regexp.MustCompile(`^\s*label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

// dashboardQueries returns the expression of every panel target, and the selector of every
// label_values variable query.
func dashboardQueries(d *dashboard, file string) []query {
	var qs []query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, ok := v.Query.(string)
		if m, isMap := v.Query.(map[string]any); isMap {
			q, ok = m["query"].(string)
		}
		if !ok {
			continue
		}
		if m := labelValues.FindStringSubmatch(q); m != nil {
			q = m[1]
		}
		qs = append(qs, query{Source: fmt.Sprintf("dashboard %s variable %s", file, v.Name), Expr: q})
	}
	for _, p := range d.allPanels() {
		for _, t := range p.Targets {
			qs = append(qs, query{Source: fmt.Sprintf("dashboard %s panel %q target %s", file, p.Title, t.RefID), Expr: t.Expr})
		}
	}
	return qs
}

// grafanaVar matches Grafana's variables in an expression: $name, ${name} and ${name:format}.
var grafanaVar = regexp.MustCompile(`\$\{?([a-zA-Z_][a-zA-Z0-9_]*)(:[a-z]+)?\}?`)

// expand replaces Grafana's variables as the dashboard with every variable at "All" would:
// label variables become ".*" (they are only used in regular-expression matchers), interval
// variables become rate.
func expand(expr, rate string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		name := grafanaVar.FindStringSubmatch(v)[1]
		switch name {
		case "__rate_interval", "__interval", "__range":
			return rate
		case "__range_s":
			return strings.TrimSuffix(rate, "s")
		}
		return ".*"
	})
}

// parse parses a PromQL expression.
func parse(expr string) (parser.Expr, error) {
	return parser.NewParser(parser.Options{}).ParseExpr(expr)
}

// metricNames returns the metric names an expression selects, sorted; a selector without a
// metric name (only label matchers) is an error, since it cannot be checked.
func metricNames(expr string) ([]string, error) {
	e, err := parse(expand(expr, "5m"))
	if err != nil {
		return nil, err
	}
	var names []string
	var inspectErr error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			inspectErr = fmt.Errorf("the selector %s names no metric", vs)
			return inspectErr
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	if inspectErr != nil {
		return nil, inspectErr
	}
	slices.Sort(names)
	return names, nil
}

// chartQueries returns every query of the chart's monitoring: the alerts of
// files/prometheus-rules.yaml and the dashboards of files/dashboards/.
func chartQueries(chart string) ([]query, error) {
	rf, err := readRules(filepath.Join(chart, "files", "prometheus-rules.yaml"))
	if err != nil {
		return nil, err
	}
	qs := ruleQueries(rf)
	files, err := filepath.Glob(filepath.Join(chart, "files", "dashboards", "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards in %s", filepath.Join(chart, "files", "dashboards"))
	}
	for _, f := range files {
		d, err := readDashboard(f)
		if err != nil {
			return nil, err
		}
		qs = append(qs, dashboardQueries(d, filepath.Base(f))...)
	}
	return qs, nil
}

// namesReport is what 'monitoring names' prints: each query's metric names, and all of them.
type namesReport struct {
	Queries []namedQuery `json:"queries"`
	All     []string     `json:"all"`
}

type namedQuery struct {
	query
	Metrics []string `json:"metrics"`
}

func names(chart string) (*namesReport, error) {
	qs, err := chartQueries(chart)
	if err != nil {
		return nil, err
	}
	rep := &namesReport{}
	for _, q := range qs {
		ms, err := metricNames(q.Expr)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.Source, err)
		}
		rep.Queries = append(rep.Queries, namedQuery{query: q, Metrics: ms})
		for _, m := range ms {
			if !slices.Contains(rep.All, m) {
				rep.All = append(rep.All, m)
			}
		}
	}
	slices.Sort(rep.All)
	return rep, nil
}
