package main

import (
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseWrites(t *testing.T) {
	metrics := `# HELP apiserver_request_total [STABLE] Counter of apiserver requests.
# TYPE apiserver_request_total counter
apiserver_request_total{code="200",component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 7
apiserver_request_total{code="409",component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 1
apiserver_request_total{code="200",component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="status",verb="PATCH",version="v1alpha1"} 3
apiserver_request_total{code="200",component="apiserver",dry_run="All",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="APPLY",version="v1alpha1"} 5
apiserver_request_total{code="200",component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="namespace",subresource="",verb="LIST",version="v1alpha1"} 9
apiserver_request_total{code="201",component="apiserver",dry_run="",group="events.k8s.io",resource="events",scope="resource",subresource="",verb="POST",version="v1"} 2.0
apiserver_request_duration_seconds_bucket{verb="PATCH",le="0.1"} 4
apiserver_request_duration_seconds_sum{component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 0.4
apiserver_request_duration_seconds_count{component="apiserver",dry_run="",group="pbx.cloudpbx.dev",resource="extensions",scope="resource",subresource="",verb="PATCH",version="v1alpha1"} 8
`
	got, err := parseWrites(strings.NewReader(metrics))
	if err != nil {
		t.Fatal(err)
	}
	patch := writeKey{Verb: "PATCH", Group: "pbx.cloudpbx.dev", Resource: "extensions"}
	want := map[writeKey]writeTotal{
		patch: {8, 0.4},
		{Verb: "PATCH", Group: "pbx.cloudpbx.dev", Resource: "extensions", Subresource: "status"}: {3, 0},
		{Verb: "POST", Group: "events.k8s.io", Resource: "events"}:                                {2, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] == nil || *got[k] != v {
			t.Errorf("%v: got %v, want %v", k, got[k], v)
		}
	}
	diff := diffWrites(writeTotals{patch: {count: 6, seconds: 0.1}}, got)
	if len(diff) != 3 || diff[0].Count != 3 || diff[2].Count != 2 || diff[1].MeanMS != 150 {
		t.Errorf("diffWrites: %+v", diff)
	}
}

func TestParseLabels(t *testing.T) {
	got := parseLabels(`a="1",b="x\"y",c="",d="p\\q"`)
	want := map[string]string{"a": "1", "b": `x"y`, "c": "", "d": `p\q`}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestPlan(t *testing.T) {
	runs, err := plan("100, 1000", "0,20ms", true)
	if err != nil {
		t.Fatal(err)
	}
	want := []runSpec{{100, 0}, {100, 20 * time.Millisecond}, {1000, 0}, {1000, 20 * time.Millisecond}, {10000, 0}, {10000, 20 * time.Millisecond}}
	if len(runs) != len(want) {
		t.Fatalf("got %v, want %v", runs, want)
	}
	for i := range want {
		if runs[i] != want[i] {
			t.Errorf("run %d: got %v, want %v", i, runs[i], want[i])
		}
	}
	if runs[3].name() != "n1000-20ms" {
		t.Errorf("name: %s", runs[3].name())
	}
	for _, bad := range [][2]string{{"0", "0"}, {"x", "0"}, {"100", "fast"}} {
		if _, err := plan(bad[0], bad[1], false); err == nil {
			t.Errorf("plan(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestTrackerCurve(t *testing.T) {
	tr := newTracker()
	for i := range 1000 {
		tr.first[string(rune('a'+i%26))+strings.Repeat("x", i)] = time.Duration(i) * time.Millisecond
	}
	c := tr.curve(100)
	if len(c) > 101 || c[0].Ready != 1 || c[len(c)-1].Ready != 1000 || c[len(c)-1].T != 0.999 {
		t.Errorf("curve of %d points from %+v to %+v", len(c), c[0], c[len(c)-1])
	}
}

func TestReportIsMarkdownAndSVG(t *testing.T) {
	r := report{Machine: machineInfo{CPUs: 2, CPUModel: "test", GoVersion: "go", OS: "linux/amd64"}, Command: "make bench"}
	for _, l := range []int64{0, 20} {
		r.Runs = append(r.Runs, result{
			N: 100, LatencyMS: l, Budget: 100_000, ApplySeconds: 1.5, ReadySeconds: 0.2, ReadyFromStartSeconds: 1.7,
			PollIntervalSeconds: 10, DeleteSeconds: 1,
			Create: phase{PBXCalls: map[string]int{"POST": 100, "GET": 1}, Writes: []writeCount{
				{writeKey: writeKey{Verb: "APPLY", Resource: "extensions"}, Count: 100},
				{writeKey: writeKey{Verb: "PATCH", Resource: "extensions"}, Count: 200},
				{writeKey: writeKey{Verb: "PUT", Resource: "leases"}, Count: 1},
			}},
			Steady:       phase{Seconds: 30, PBXCalls: map[string]int{"GET": 9}},
			Curve:        []point{{0.1, 10}, {1.7, 100}},
			CreatedCurve: []point{{0.05, 10}, {1.5, 100}},
		})
	}
	r.Runs = append(r.Runs, result{N: 1000, Error: "waited too long"})
	md := r.markdown()
	lines := strings.Split(md, "\n")
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "|") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 5 {
		t.Fatalf("want a header, a separator and 3 rows, got:\n%s", md)
	}
	cols := strings.Count(rows[0], "|")
	for _, row := range rows {
		if strings.Count(row, "|") != cols {
			t.Errorf("row with another number of columns than the header:\n%s\n%s", rows[0], row)
		}
	}
	if !strings.Contains(rows[2], "3.00 (manager 2.00)") || strings.Contains(rows[2], "leases") {
		t.Errorf("writes per object or the lease filter are wrong: %s", rows[2])
	}
	if !strings.Contains(rows[2], "3.0 (GET 9 in 30 s)") {
		t.Errorf("steady calls per poll: %s", rows[2])
	}

	d := xml.NewDecoder(strings.NewReader(plot(r.Runs)))
	polylines := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("the SVG is not well-formed: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "polyline" {
			polylines++
		}
	}
	if polylines != 4 {
		t.Errorf("want two lines per converged run, got %d", polylines)
	}
}

func TestNiceStep(t *testing.T) {
	for in, want := range map[float64]float64{0.3: 0.5, 1: 1, 1.2: 2, 3: 5, 7: 10, 30: 50, 0: 1} {
		if got := niceStep(in); got != want {
			t.Errorf("niceStep(%v) = %v, want %v", in, got, want)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	if got, want := percentilesOf(d), (percentiles{P50: 51, P90: 91, P99: 100, Max: 100}); got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if got := percentilesOf(nil); got != (percentiles{}) {
		t.Errorf("empty: %+v", got)
	}
}
