package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"
)

// series is one line of a panel: its legend and its values at the evaluation steps (NaN where
// the query had no value).
type series struct {
	legend string
	values []float64
}

// evaluated is one panel with its series.
type evaluated struct {
	panel  panel
	series []series
	err    error
}

// render draws the chart's dashboard from a recording into out.
func render(chart, recording, out string, step, rate time.Duration) error {
	files, err := filepath.Glob(filepath.Join(chart, "files", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("no dashboard in %s/files/dashboards (%v)", chart, err)
	}
	d, err := readDashboard(files[0])
	if err != nil {
		return err
	}
	scrapes, err := readRecording(recording)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "monitoring-render-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // a temporary folder
	opts := tsdb.DefaultOptions()
	opts.RetentionDuration = 0
	db, err := tsdb.Open(dir, slog.New(slog.DiscardHandler), nil, opts, nil)
	if err != nil {
		return err
	}
	defer db.Close() //nolint:errcheck // a temporary database
	ctx := context.Background()
	if err := load(ctx, db, scrapes); err != nil {
		return err
	}

	start, end := time.UnixMilli(scrapes[0].at), time.UnixMilli(scrapes[len(scrapes)-1].at)
	interval := scrapeInterval(scrapes)
	if rate == 0 {
		rate = max(4*interval, 10*time.Second)
	}
	if step == 0 {
		step = max(end.Sub(start)/240, interval, time.Second)
	}
	engine := promql.NewEngine(promql.EngineOpts{
		MaxSamples: 100_000_000, Timeout: 5 * time.Minute, LookbackDelta: 5 * time.Minute,
	})
	var steps []time.Time
	for t := start; !t.After(end); t = t.Add(step) {
		steps = append(steps, t)
	}
	var panels []evaluated
	for _, p := range d.allPanels() {
		ev := evaluated{panel: p}
		for _, t := range p.Targets {
			ss, err := evaluate(ctx, engine, db, expand(t.Expr, promDuration(rate)), t.LegendFormat, start, end, step, steps)
			if err != nil {
				ev.err = fmt.Errorf("%s: %w", t.Expr, err)
				break
			}
			ev.series = append(ev.series, ss...)
		}
		if ev.err != nil {
			return fmt.Errorf("panel %q: %w", p.Title, ev.err)
		}
		// As the dashboard's legends: sorted by their highest value, highest first.
		sort.SliceStable(ev.series, func(i, j int) bool { return peak(ev.series[i].values) > peak(ev.series[j].values) })
		panels = append(panels, ev)
	}
	down := 0
	for _, s := range scrapes {
		if s.down {
			down++
		}
	}
	caption := []string{
		fmt.Sprintf("Recorded in %s: %d scrapes of the manager's /metrics (%d failed), every %s, from %s to %s (%s).",
			filepath.Base(recording), len(scrapes)-down, down, interval, start.UTC().Format("2006-01-02 15:04:05"), end.UTC().Format("15:04:05 MST"),
			end.Sub(start).Round(time.Second)),
		fmt.Sprintf("Every query of the dashboard evaluated by Prometheus's PromQL engine every %s, with $__rate_interval = %s and every variable at All; x axes: minutes since the first scrape.",
			step, promDuration(rate)),
	}
	svg := drawDashboard(d.Title, caption, panels, steps)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return os.WriteFile(out, svg, 0o644)
}

// peak is the highest value, or -Inf when there is none.
func peak(vs []float64) float64 {
	p := math.Inf(-1)
	for _, v := range vs {
		if !math.IsNaN(v) {
			p = math.Max(p, v)
		}
	}
	return p
}

// scrapeInterval is the median time between scrapes.
func scrapeInterval(scrapes []scrape) time.Duration {
	if len(scrapes) < 2 {
		return time.Second
	}
	var ds []int64
	for i := 1; i < len(scrapes); i++ {
		ds = append(ds, scrapes[i].at-scrapes[i-1].at)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return (time.Duration(ds[len(ds)/2]) * time.Millisecond).Round(100 * time.Millisecond)
}

// promDuration formats a duration as PromQL does: whole seconds or milliseconds.
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", int64(d/time.Second))
	}
	return fmt.Sprintf("%dms", d.Milliseconds())
}

// evaluate runs a range query and returns its series with their legends, on the steps' grid.
func evaluate(ctx context.Context, engine *promql.Engine, db *tsdb.DB, expr, legend string, start, end time.Time, step time.Duration, steps []time.Time) ([]series, error) {
	q, err := engine.NewRangeQuery(ctx, db, nil, expr, start, end, step)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return nil, res.Err
	}
	m, err := res.Matrix()
	if err != nil {
		return nil, err
	}
	index := make(map[int64]int, len(steps))
	for i, t := range steps {
		index[t.UnixMilli()] = i
	}
	var out []series
	for _, s := range m {
		vs := make([]float64, len(steps))
		for i := range vs {
			vs[i] = math.NaN()
		}
		for _, p := range s.Floats {
			if i, ok := index[p.T]; ok {
				vs[i] = p.F
			}
		}
		out = append(out, series{legend: legendOf(legend, s.Metric), values: vs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].legend < out[j].legend })
	return out, nil
}

var legendVar = regexp.MustCompile(`\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}`)

// legendOf fills a Grafana legend format with the series' labels; an empty format is the labels.
func legendOf(format string, l labels.Labels) string {
	if format == "" {
		return l.String()
	}
	return legendVar.ReplaceAllStringFunc(format, func(v string) string {
		return l.Get(legendVar.FindStringSubmatch(v)[1])
	})
}
