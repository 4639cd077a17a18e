package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// scrape is one recorded scrape: its time (Unix milliseconds) and its samples, or up = 0.
type scrape struct {
	at      int64
	down    bool
	samples []sample
}

type sample struct {
	lset labels.Labels
	v    float64
}

// recordingTarget is the job and instance the recorded samples get, as Prometheus gives its
// targets' samples (the dashboard selects job=~"$job").
const (
	recordingJob      = "pbx-operator"
	recordingInstance = "manager"
)

// readRecording parses a recording of hack/bench: scrapes in the Prometheus text format, each after
// a line "# scrape <Unix ms>" (or "# scrape <Unix ms> down").
func readRecording(path string) ([]scrape, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read-only
	var scrapes []scrape
	var body bytes.Buffer
	flush := func() error {
		if len(scrapes) == 0 {
			return nil
		}
		cur := &scrapes[len(scrapes)-1]
		if cur.down {
			return nil
		}
		tp := expfmt.NewTextParser(model.UTF8Validation)
		families, err := tp.TextToMetricFamilies(bytes.NewReader(body.Bytes()))
		if err != nil {
			return fmt.Errorf("%s: the scrape at %d: %w", path, cur.at, err)
		}
		cur.samples = flatten(families)
		body.Reset()
		return nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "# scrape "); ok {
			if err := flush(); err != nil {
				return nil, err
			}
			fields := strings.Fields(rest)
			at, err := strconv.ParseInt(fields[0], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %q: %w", path, line, err)
			}
			scrapes = append(scrapes, scrape{at: at, down: len(fields) > 1 && fields[1] == "down"})
			continue
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(scrapes) == 0 {
		return nil, fmt.Errorf("%s holds no scrape: was it written by 'make bench' (--metrics-interval above 0)?", path)
	}
	return scrapes, nil
}

// flatten turns metric families into samples the way Prometheus stores a scrape: a histogram as
// _bucket{le}, _sum and _count, a summary as {quantile}, _sum and _count.
func flatten(families map[string]*dto.MetricFamily) []sample {
	var out []sample
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			base := map[string]string{"job": recordingJob, "instance": recordingInstance}
			for _, lp := range m.GetLabel() {
				base[lp.GetName()] = lp.GetValue()
			}
			add := func(n string, v float64, extra ...string) {
				lm := make(map[string]string, len(base)+2)
				for k, v := range base {
					lm[k] = v
				}
				lm[model.MetricNameLabel] = n
				for i := 0; i+1 < len(extra); i += 2 {
					lm[extra[i]] = extra[i+1]
				}
				out = append(out, sample{lset: labels.FromMap(lm), v: v})
			}
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m.GetGauge().GetValue())
			case dto.MetricType_UNTYPED:
				add(name, m.GetUntyped().GetValue())
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				inf := false
				for _, b := range h.GetBucket() {
					if math.IsInf(b.GetUpperBound(), 1) {
						inf = true
					}
					add(name+"_bucket", float64(b.GetCumulativeCount()), "le", formatLe(b.GetUpperBound()))
				}
				if !inf {
					add(name+"_bucket", float64(h.GetSampleCount()), "le", "+Inf")
				}
				add(name+"_sum", h.GetSampleSum())
				add(name+"_count", float64(h.GetSampleCount()))
			case dto.MetricType_SUMMARY:
				s := m.GetSummary()
				for _, q := range s.GetQuantile() {
					add(name, q.GetValue(), "quantile", strconv.FormatFloat(q.GetQuantile(), 'g', -1, 64))
				}
				add(name+"_sum", s.GetSampleSum())
				add(name+"_count", float64(s.GetSampleCount()))
			}
		}
	}
	return out
}

func formatLe(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// load appends the scrapes to the storage as Prometheus would have: every sample at its scrape's
// time, up = 1 (0 for a failed scrape), and a staleness marker for a series that a scrape no longer
// has (so that it ends there rather than five minutes later).
func load(ctx context.Context, db storage.Appendable, scrapes []scrape) error {
	upLabels := labels.FromStrings(model.MetricNameLabel, "up", "job", recordingJob, "instance", recordingInstance)
	sort.SliceStable(scrapes, func(i, j int) bool { return scrapes[i].at < scrapes[j].at })
	prev := map[string]labels.Labels{}
	for _, s := range scrapes {
		app := db.Appender(ctx)
		up := 1.0
		if s.down {
			up = 0
		}
		if _, err := app.Append(0, upLabels, s.at, up); err != nil {
			return err
		}
		seen := make(map[string]labels.Labels, len(s.samples))
		for _, smp := range s.samples {
			if _, err := app.Append(0, smp.lset, s.at, smp.v); err != nil {
				return fmt.Errorf("appending %s: %w", smp.lset, err)
			}
			seen[smp.lset.String()] = smp.lset
		}
		for k, l := range prev {
			if _, ok := seen[k]; !ok {
				if _, err := app.Append(0, l, s.at, math.Float64frombits(value.StaleNaN)); err != nil {
					return err
				}
			}
		}
		if err := app.Commit(); err != nil {
			return err
		}
		prev = seen
	}
	return nil
}
